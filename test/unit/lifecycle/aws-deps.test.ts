import { describe, expect, it } from 'vitest';
import { createAwsLifecycleDeps } from '../../../functions/lifecycle-tasks/aws-deps.ts';
import { tableEnvVar } from '../../../functions/shared/tables.ts';

describe('AWS wiring of the lifecycle tasks', () => {
  it('builds each dependency on first use, so a setting only its own tasks need fails only those, by name', () => {
    const env = { AWS_REGION: 'us-east-1', [tableEnvVar('customers')]: 'virtuous-prod-customers' };
    const deps = createAwsLifecycleDeps(env);
    expect(deps.customers).toBeDefined();
    expect(deps.customers).toBe(deps.customers);
    expect(() => deps.virtuous).toThrow(
      expect.objectContaining({ code: 'MISSING_SETTING', message: expect.stringContaining('VIRTUOUS_BASE_URL') }),
    );
    expect(() => deps.debugCaptures).toThrow(
      expect.objectContaining({ message: expect.stringContaining('DEBUG_CAPTURE_BUCKET') }),
    );
    expect(() => deps.incidentReports).toThrow(
      expect.objectContaining({ message: expect.stringContaining('TABLE_INCIDENT_REPORTS') }),
    );
  });
});
