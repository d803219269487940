import { describe, expect, it } from 'vitest';
import { analyseSecretAccess, compromiseIndicators } from '../../../functions/lifecycle/incident-response.ts';
import { type TrailFinding, trailUnavailable } from '../../../functions/lifecycle/secret-access-trail.ts';

const WORKER = 'arn:aws:iam::123456789012:role/CustomerSecretsRole';
const SESSION = 'arn:aws:sts::123456789012:assumed-role/CustomerSecretsRole/acme@processor';
const OTHER_CUSTOMER_SESSION = 'arn:aws:sts::123456789012:assumed-role/CustomerSecretsRole/globex@processor';
const expecting = (hourlyThreshold: number) => ({ customerId: 'acme', expectedAccessors: [WORKER], hourlyThreshold });

describe('analyseSecretAccess', () => {
  const at = (hour: number, minute = 0) =>
    `2026-11-29T${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00.000Z`;

  it('lists unexpected principals once each and counts their accesses', () => {
    const entries = [
      { accessor: SESSION, at: at(1) },
      { accessor: 'arn:aws:sts::123456789012:assumed-role/Intruder/a', at: at(1, 5) },
      { accessor: 'arn:aws:sts::123456789012:assumed-role/Intruder/a', at: at(2) },
      { accessor: 'arn:aws:iam::123456789012:user/alice', at: at(3) },
      { accessor: OTHER_CUSTOMER_SESSION, at: at(3, 10) },
      { accessor: 'function:virtuous-prod-tasks', at: at(3, 20) },
    ];
    const findings = analyseSecretAccess(entries, expecting(100));
    expect(findings).toEqual({
      totalAccesses: 6,
      unexpectedPrincipals: [
        'arn:aws:iam::123456789012:user/alice',
        'arn:aws:sts::123456789012:assumed-role/CustomerSecretsRole/globex@processor',
        'arn:aws:sts::123456789012:assumed-role/Intruder/a',
        'function:virtuous-prod-tasks',
      ],
      unexpectedAccesses: 5,
      peakHourlyAccesses: 3,
      volumeAnomaly: false,
    });
  });

  it('flags an hour above the threshold as a volume anomaly, even from expected principals', () => {
    const burst = Array.from({ length: 6 }, (_, i) => ({ accessor: SESSION, at: at(4, i) }));
    const findings = analyseSecretAccess([...burst, { accessor: SESSION, at: at(5) }], expecting(5));
    expect(findings.peakHourlyAccesses).toBe(6);
    expect(findings.volumeAnomaly).toBe(true);
    expect(findings.unexpectedAccesses).toBe(0);
  });

  it('reports nothing for an empty audit', () => {
    expect(analyseSecretAccess([], expecting(5))).toMatchObject({
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
  const quietTrail = trailUnavailable({ source: 'cloudtrail', deliveryLagMinutes: 15 }, 'x');
  const finding = (kind: TrailFinding['kind']): TrailFinding => ({
    kind,
    principal: 'arn:aws:sts::123456789012:assumed-role/Intruder/a',
    secretName: 'virtuous/prod/acme/api_token',
    calls: 1,
    firstAt: '2026-11-29T01:00:00.000Z',
    lastAt: '2026-11-29T01:00:00.000Z',
  });
  it('names each finding that points at a compromise', () => {
    expect(compromiseIndicators({ status: 'rotated' }, clean, quietTrail)).toEqual([]);
    expect(compromiseIndicators({ status: 'in_progress' }, clean, quietTrail)).toEqual([]);
    expect(
      compromiseIndicators(
        { status: 'not_rotated' },
        { ...clean, unexpectedAccesses: 1, volumeAnomaly: true },
        {
          ...quietTrail,
          foreignCalls: 2,
          deniedCalls: 1,
          findings: [finding('foreign_accessor'), finding('volume_anomaly')],
        },
      ),
    ).toEqual([
      'unexpected_secret_accessors',
      'secret_access_volume_anomaly',
      'secrets_manager_foreign_accessor',
      'secrets_manager_access_denied',
      'secrets_manager_volume_anomaly',
      'token_not_rotated',
    ]);
  });
});
