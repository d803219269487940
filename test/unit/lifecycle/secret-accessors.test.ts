import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sessionName } from '../../../functions/credentials/scoped-credentials.ts';
import { isExpectedAccessor } from '../../../functions/lifecycle/secret-accessors.ts';

const ACCOUNT = '123456789012';
const WRITER = `arn:aws:iam::${ACCOUNT}:role/virtuous-prod-customer-secrets-writer`;
const READER = `arn:aws:iam::${ACCOUNT}:role/virtuous-prod-customer-secrets-reader`;
const EXPECTED = [READER, WRITER];

/** The accessor the credential layer records: STS's assumed-role ARN with the session name it builds. */
const session = (role: string, customer: string, fn = 'virtuous-prod-IncidentResponseTasks-AbC123') =>
  `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${sessionName(customer, fn)}`;

describe('isExpectedAccessor', () => {
  it("accepts a session of a listed customer-secrets role named for this customer's id", () => {
    expect(isExpectedAccessor(session('virtuous-prod-customer-secrets-writer', 'acme'), 'acme', EXPECTED)).toBe(true);
    expect(isExpectedAccessor(session('virtuous-prod-customer-secrets-reader', 'acme'), 'acme', EXPECTED)).toBe(true);
  });

  it("flags a session named for another customer, including one whose id extends this one's", () => {
    for (const other of ['globex', 'acme-2', 'acm', 'acme_']) {
      expect(isExpectedAccessor(session('virtuous-prod-customer-secrets-reader', other), 'acme', EXPECTED), other).toBe(
        false,
      );
    }
  });

  it('accepts the session name of a 64-character customer id, which STS truncation leaves without the @', () => {
    const longId = `c${'x'.repeat(63)}`;
    const accessor = session('virtuous-prod-customer-secrets-writer', longId);
    expect(accessor.endsWith(`/${longId}`)).toBe(true);
    expect(isExpectedAccessor(accessor, longId, EXPECTED)).toBe(true);
    expect(isExpectedAccessor(accessor, longId.slice(0, 63), EXPECTED)).toBe(false);
  });

  it('flags sessions of unlisted roles, other accounts and other partitions, and session names without a customer', () => {
    expect(isExpectedAccessor(session('UnexpectedRole', 'acme'), 'acme', EXPECTED)).toBe(false);
    expect(
      isExpectedAccessor(
        `arn:aws:sts::999999999999:assumed-role/virtuous-prod-customer-secrets-writer/acme@fn`,
        'acme',
        EXPECTED,
      ),
    ).toBe(false);
    expect(
      isExpectedAccessor(
        `arn:aws-us-gov:sts::${ACCOUNT}:assumed-role/virtuous-prod-customer-secrets-writer/acme@fn`,
        'acme',
        EXPECTED,
      ),
    ).toBe(false);
    expect(
      isExpectedAccessor(
        `arn:aws:sts::${ACCOUNT}:assumed-role/virtuous-prod-customer-secrets-writer/operator`,
        'acme',
        [WRITER],
      ),
    ).toBe(false);
    expect(isExpectedAccessor(`arn:aws:iam::${ACCOUNT}:user/alice`, 'acme', EXPECTED)).toBe(false);
  });

  it('matches a role listed with a path by its name, and in its own partition', () => {
    const govRole = `arn:aws-us-gov:iam::${ACCOUNT}:role/service/virtuous-prod-customer-secrets-writer`;
    const govSession = `arn:aws-us-gov:sts::${ACCOUNT}:assumed-role/virtuous-prod-customer-secrets-writer/acme@fn`;
    expect(isExpectedAccessor(govSession, 'acme', [govRole])).toBe(true);
  });

  it('flags `function:` attempts (made before any session existed) unless the list names them', () => {
    const attempt = 'function:virtuous-prod-IncidentResponseTasks-AbC123';
    expect(isExpectedAccessor(attempt, 'acme', EXPECTED)).toBe(false);
    expect(isExpectedAccessor(attempt, 'acme', [...EXPECTED, attempt])).toBe(true);
    expect(isExpectedAccessor(attempt, 'acme', [...EXPECTED, 'function:virtuous-prod-*'])).toBe(true);
    expect(isExpectedAccessor('function:someone-else', 'acme', [...EXPECTED, 'function:virtuous-prod-*'])).toBe(false);
    expect(isExpectedAccessor('execution-role:unscoped', 'acme', EXPECTED)).toBe(false);
  });

  it('matches local accessors exactly or by a `*` prefix', () => {
    expect(isExpectedAccessor('local:runtime', 'acme', ['local:runtime'])).toBe(true);
    expect(isExpectedAccessor('local:lifecycle-tasks', 'acme', ['local:*'])).toBe(true);
    expect(isExpectedAccessor('local:someone', 'acme', ['local:runtime'])).toBe(false);
    expect(isExpectedAccessor('local:runtime', 'acme', [])).toBe(false);
  });

  it('never lets a name or prefix entry stand in for the customer check on a session', () => {
    const otherCustomer = session('virtuous-prod-customer-secrets-writer', 'globex');
    expect(isExpectedAccessor(otherCustomer, 'acme', [otherCustomer])).toBe(false);
    expect(isExpectedAccessor(otherCustomer, 'acme', [`arn:aws:sts::${ACCOUNT}:assumed-role/*`, '*'])).toBe(false);
    expect(isExpectedAccessor(otherCustomer, 'acme', [`${WRITER}*`])).toBe(false);
  });

  it('accepts a listed role session exactly when it is named for the customer under investigation', () => {
    const customerId = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,63}$/);
    fc.assert(
      fc.property(customerId, customerId, fc.stringMatching(/^[\w-]{1,64}$/), (investigated, owner, fn) => {
        const accessor = session('virtuous-prod-customer-secrets-reader', owner, fn);
        expect(isExpectedAccessor(accessor, investigated, EXPECTED)).toBe(investigated === owner);
      }),
      { numRuns: 500 },
    );
  });
});
