import { describe, expect, it } from 'vitest';
import {
  acceptedKeys,
  isAcceptedAt,
  parseValidUntil,
  secretCandidate,
} from '../../../functions/webhooks/secret-set.ts';

const now = new Date('2026-11-29T12:00:00.000Z');

describe('rotation window', () => {
  it('always accepts current and pending', () => {
    expect(isAcceptedAt(secretCandidate('c', 'current'), now)).toBe(true);
    expect(isAcceptedAt(secretCandidate('p', 'pending'), now)).toBe(true);
  });

  it('accepts previous strictly before its window end and refuses it from the end on', () => {
    const until = new Date(now.getTime() + 1000);
    const previous = secretCandidate('old', 'previous', until);
    expect(isAcceptedAt(previous, now)).toBe(true);
    expect(isAcceptedAt(previous, new Date(until.getTime() - 1))).toBe(true);
    expect(isAcceptedAt(previous, until)).toBe(false);
    expect(isAcceptedAt(previous, new Date(until.getTime() + 1))).toBe(false);
  });

  it('refuses a previous secret without a window end or with an invalid one', () => {
    expect(isAcceptedAt(secretCandidate('old', 'previous'), now)).toBe(false);
    expect(isAcceptedAt(secretCandidate('old', 'previous', new Date('not a date')), now)).toBe(false);
  });

  it('lists the accepted keys in order and leaves out an expired previous', () => {
    const candidates = [
      secretCandidate('current-secret', 'current'),
      secretCandidate('pending-secret', 'pending'),
      secretCandidate('previous-secret', 'previous', new Date(now.getTime() - 1)),
    ];
    expect(acceptedKeys(candidates, now).map((key) => key.export().toString('utf8'))).toEqual([
      'current-secret',
      'pending-secret',
    ]);
  });

  it('parses window ends and treats garbage as a closed window', () => {
    expect(parseValidUntil('2026-11-29T12:00:00.000Z')?.toISOString()).toBe('2026-11-29T12:00:00.000Z');
    expect(parseValidUntil(undefined)).toBeUndefined();
    expect(parseValidUntil('tomorrow-ish')).toBeUndefined();
  });
});
