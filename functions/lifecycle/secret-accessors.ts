/**
 * Who may appear as the accessor of a customer's secret-access audit records: the one rule incident response applies.
 *
 * On AWS the credential layer records the session it acted with,
 * `arn:<partition>:sts::<account>:assumed-role/<role>/<customer>@<function>` (functions/credentials/scoped-credentials.ts).
 * The deployment lists the customer-secrets roles by ARN rather than the functions that assume them: the stack cannot
 * name those functions in one of them without a dependency cycle, and the roles are what IAM actually scopes. A
 * session of a listed role is expected only when its session name belongs to the customer under investigation, so a
 * session named for customer B in customer A's audit is reported (IAM should make that impossible; if the audit shows
 * it, the report must say so). Exact names and `*`-suffixed prefixes cover the other accessors (`local:<user>` on one
 * machine); they never match an ARN, which keeps the customer check from being bypassed by configuration.
 * `function:<name>` (an attempt made before any session existed) is unexpected unless listed: it cannot be tied to
 * the customer, and a refused or failed AssumeRole during an incident is worth a look.
 */

interface RoleSession {
  readonly partition: string;
  readonly account: string;
  readonly role: string;
  readonly session: string;
}

interface RoleRef {
  readonly partition: string;
  readonly account: string;
  readonly role: string;
}

const ASSUMED_ROLE_SESSION = /^arn:([a-z-]+):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/([\w+=,.@-]+)$/;
// An assumed-role ARN carries the role's name without its path, so a path in the listed ARN is skipped.
const ROLE_ARN = /^arn:([a-z-]+):iam::(\d{12}):role\/(?:[\w+=,.@/-]*\/)?([\w+=,.@-]+)$/;

export function isExpectedAccessor(accessor: string, customerId: string, expected: readonly string[]): boolean {
  const session = parseSession(accessor);
  if (session !== undefined) {
    return sessionBelongsTo(session.session, customerId) && expected.some((entry) => isSessionOf(session, entry));
  }
  return expected.some((entry) => matchesName(accessor, entry));
}

/**
 * Session names are `<customer>@<function>` cut to STS's 64 characters; a customer id of the full 64 leaves no room
 * for the `@`. Customer ids cannot contain `@`, so neither form can name a different customer.
 */
function sessionBelongsTo(sessionName: string, customerId: string): boolean {
  return sessionName === customerId || sessionName.startsWith(`${customerId}@`);
}

function isSessionOf(session: RoleSession, entry: string): boolean {
  const role = parseRoleArn(entry);
  return (
    role !== undefined &&
    role.partition === session.partition &&
    role.account === session.account &&
    role.role === session.role
  );
}

function matchesName(accessor: string, entry: string): boolean {
  if (accessor.startsWith('arn:') || parseRoleArn(entry) !== undefined) return false;
  return entry.endsWith('*') ? accessor.startsWith(entry.slice(0, -1)) : accessor === entry;
}

function parseSession(accessor: string): RoleSession | undefined {
  const match = ASSUMED_ROLE_SESSION.exec(accessor);
  if (match === null) return undefined;
  const [, partition = '', account = '', role = '', session = ''] = match;
  return { partition, account, role, session };
}

function parseRoleArn(entry: string): RoleRef | undefined {
  const match = ROLE_ARN.exec(entry);
  if (match === null) return undefined;
  const [, partition = '', account = '', role = ''] = match;
  return { partition, account, role };
}
