import { describe, expect, it } from 'vitest';
import {
  analyseSecretAccess,
  compromiseIndicators,
  principalMatches,
} from '../../../functions/lifecycle/incident-response.ts';

const WORKER = 'arn:aws:iam::123456789012:role/CustomerSecretsRole';
const SESSION = 'arn:aws:sts::123456789012:assumed-role/CustomerSecretsRole/acme-processor';

describe('principalMatches', () => {
  it('matches an assumed-role session to its role ARN or role name, and nothing else', () => {
    expect(principalMatches(SESSION, WORKER)).toBe(true);
    expect(principalMatches(SESSION, 'CustomerSecretsRole')).toBe(true);
    expect(principalMatches(SESSION, 'arn:aws:iam::999999999999:role/CustomerSecretsRole')).toBe(false);
    expect(principalMatches('arn:aws:sts::123456789012:assumed-role/Other/x', WORKER)).toBe(false);
    expect(principalMatches('local:lifecycle-tasks', 'local:*')).toBe(true);
    expect(principalMatches('local:lifecycle-tasks', 'local:lifecycle-tasks')).toBe(true);
    expect(principalMatches('local:someone', 'local:lifecycle-tasks')).toBe(false);
  });
});

describe('analyseSecretAccess', () => {
  const at = (hour: number, minute = 0) =>
    `2026-11-29T${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00.000Z`;

  it('lists unexpected principals once each and counts their accesses', () => {
    const entries = [
      { accessor: SESSION, at: at(1) },
      { accessor: 'arn:aws:sts::123456789012:assumed-role/Intruder/a', at: at(1, 5) },
      { accessor: 'arn:aws:sts::123456789012:assumed-role/Intruder/a', at: at(2) },
      { accessor: 'arn:aws:iam::123456789012:user/alice', at: at(3) },
    ];
    const findings = analyseSecretAccess(entries, [WORKER], 100);
    expect(findings).toEqual({
      totalAccesses: 4,
      unexpectedPrincipals: [
        'arn:aws:iam::123456789012:user/alice',
        'arn:aws:sts::123456789012:assumed-role/Intruder/a',
      ],
      unexpectedAccesses: 3,
      peakHourlyAccesses: 2,
      volumeAnomaly: false,
    });
  });

  it('flags an hour above the threshold as a volume anomaly, even from expected principals', () => {
    const burst = Array.from({ length: 6 }, (_, i) => ({ accessor: SESSION, at: at(4, i) }));
    const findings = analyseSecretAccess([...burst, { accessor: SESSION, at: at(5) }], [WORKER], 5);
    expect(findings.peakHourlyAccesses).toBe(6);
    expect(findings.volumeAnomaly).toBe(true);
    expect(findings.unexpectedAccesses).toBe(0);
  });

  it('reports nothing for an empty audit', () => {
    expect(analyseSecretAccess([], [WORKER], 5)).toMatchObject({
      totalAccesses: 0,
      peakHourlyAccesses: 0,
      volumeAnomaly: false,
    });
  });
});

describe('compromiseIndicators', () => {
  const clean = {
    totalAccesses: 3,
    unexpectedPrincipals: [],
    unexpectedAccesses: 0,
    peakHourlyAccesses: 1,
    volumeAnomaly: false,
  };
  it('names each finding that points at a compromise', () => {
    expect(compromiseIndicators({ status: 'rotated' }, clean)).toEqual([]);
    expect(
      compromiseIndicators({ status: 'not_rotated' }, { ...clean, unexpectedAccesses: 1, volumeAnomaly: true }),
    ).toEqual(['unexpected_secret_accessors', 'secret_access_volume_anomaly', 'token_not_rotated']);
  });
});
