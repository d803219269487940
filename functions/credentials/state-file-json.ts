/**
 * Parses the text of a local state file (keyring, secret store). A damaged file becomes the caller's classified error:
 * V8's SyntaxError quotes the text around the fault, and these files hold key material and sealed secrets.
 */
export function parseStateFileJson(text: string, invalid: () => Error): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) throw invalid();
    throw error;
  }
}
