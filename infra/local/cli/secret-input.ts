/**
 * Reads a token without it ever being an argument (process lists and shell history keep those): from a no-echo
 * prompt on a terminal, or from stdin when it is piped (`pass show x | npm run cli -- onboard acme`).
 */
import { ForbiddenInputError } from '../../../functions/shared/errors.ts';

/** Tokens are long random strings; anything above this is not a token (and is not buffered further). */
const MAX_TOKEN_LENGTH = 4_096;

function validate(value: string, what: string): string {
  const token = value.trim();
  if (token.length === 0) throw new ForbiddenInputError('EMPTY_TOKEN', `no ${what} was given`);
  if (token.length > MAX_TOKEN_LENGTH || /\s/.test(token)) {
    throw new ForbiddenInputError('INVALID_TOKEN_SHAPE', `the ${what} must be one line without spaces`);
  }
  return token;
}

async function readPiped(input: NodeJS.ReadStream, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_TOKEN_LENGTH + 2) throw new ForbiddenInputError('INVALID_TOKEN_SHAPE', `the ${what} is too long`);
    chunks.push(buffer);
  }
  return validate(withoutNpmBanner(Buffer.concat(chunks).toString('utf8')), what);
}

/**
 * `npm run` writes its banner (`> package@version script`, `> command`, a blank line) to stdout before the script's
 * own output, so `npm run cli -- sim key create 1 | npm run cli -- onboard acme` pipes it ahead of the key. Those
 * lines are dropped; a token never starts with "> ". Anything else still has to be exactly one token.
 */
function withoutNpmBanner(text: string): string {
  return text
    .split(/\r?\n/)
    .filter((line) => !line.startsWith('> '))
    .join('\n');
}

function readHidden(input: NodeJS.ReadStream, output: NodeJS.WriteStream, prompt: string, what: string) {
  return new Promise<string>((resolve, reject) => {
    output.write(prompt);
    let value = '';
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const finish = (error?: Error) => {
      input.setRawMode(wasRaw);
      input.pause();
      input.off('data', onData);
      output.write('\n');
      if (error) reject(error);
      else {
        try {
          resolve(validate(value, what));
        } catch (invalid) {
          reject(invalid);
        }
      }
    };
    const onData = (text: string) => {
      for (const char of text) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new ForbiddenInputError('ABORTED', 'input aborted'));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else if (value.length <= MAX_TOKEN_LENGTH) value += char;
      }
    };
    input.on('data', onData);
  });
}

export async function readSecretInput(options: {
  readonly what: string;
  readonly input?: NodeJS.ReadStream;
  readonly output?: NodeJS.WriteStream;
}): Promise<string> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stderr;
  if (input.isTTY)
    return readHidden(input, output, `Paste the ${options.what} (input hidden), then Enter: `, options.what);
  return readPiped(input, options.what);
}
