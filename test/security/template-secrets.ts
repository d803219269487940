/**
 * What a synthesized CloudFormation template must not carry: a literal secret anywhere, or a secret-like literal in
 * a Lambda environment variable (functions learn secret *names* and ARNs from their environment, never values).
 */

export interface EnvironmentFinding {
  readonly resource: string;
  readonly variable: string;
  readonly why: string;
}

/** Names that suggest the variable holds a credential; such a variable may only carry an ARN, a reference or a setting. */
const CREDENTIAL_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|API_?KEY|AUTH/i;

/** Shannon entropy in bits per character. */
export function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * A random-looking token: long, one unbroken run of key-alphabet characters, high entropy. A random 32-byte base64
 * secret scores above 4.5 bits/char, a hex one about 3.8 of its possible 4; resource names, URLs and ARNs are either broken by separators or lower.
 */
export function looksLikeSecret(value: string): boolean {
  if (value.length < 24) return false;
  // Hex has only 16 symbols (at most 4 bits/char): judge it against its own ceiling.
  if (/^[0-9a-fA-F]+$/.test(value)) return value.length >= 32 && entropy(value) >= 3.5;
  if (!/^[A-Za-z0-9+/=_-]+$/.test(value)) return false;
  if (/^[a-z0-9-]+$/.test(value) && value.includes('-')) return false;
  return entropy(value) >= 4;
}

/** What a credential-named variable may hold: a reference, an ARN, or a small number or flag (a setting about it). */
function isReferenceOrSetting(value: unknown): boolean {
  if (typeof value === 'object' && value !== null) return true;
  if (typeof value !== 'string') return false;
  return value.startsWith('arn:') || /^\d{1,6}$/.test(value) || value === 'true' || value === 'false';
}

interface TemplateResource {
  readonly Type?: string;
  readonly Properties?: { readonly Environment?: { readonly Variables?: Record<string, unknown> } };
}

export function lambdaEnvironmentFindings(template: { Resources?: Record<string, TemplateResource> }): {
  findings: EnvironmentFinding[];
  functionsChecked: number;
  variablesChecked: number;
} {
  const findings: EnvironmentFinding[] = [];
  let functionsChecked = 0;
  let variablesChecked = 0;
  for (const [resource, definition] of Object.entries(template.Resources ?? {})) {
    if (definition.Type !== 'AWS::Lambda::Function') continue;
    functionsChecked += 1;
    for (const [variable, value] of Object.entries(definition.Properties?.Environment?.Variables ?? {})) {
      variablesChecked += 1;
      if (CREDENTIAL_NAME.test(variable) && !isReferenceOrSetting(value)) {
        findings.push({
          resource,
          variable,
          why: 'credential-like name with a literal value that is not an ARN or a setting',
        });
      }
      if (typeof value === 'string' && looksLikeSecret(value)) {
        findings.push({ resource, variable, why: 'high-entropy literal value' });
      }
    }
  }
  return { findings, functionsChecked, variablesChecked };
}
