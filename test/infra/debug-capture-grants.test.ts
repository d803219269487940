// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation template JSON is untyped
/**
 * The debug-capture bucket's writers and readers, evaluated with the IAM simulator over the synthesized policies:
 * only the webhook verifier may put captures (PutObject, nothing else on the bucket), only offboarding may list and
 * delete them, and no function may read one back.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/shared/environment.ts';
import { WORKER_SPECS, type WorkerName } from '../../infra/aws/constructs/workers.ts';
import { type Synthesized, synthesize } from './synth.ts';
import { logicalId, PARTITION, simulate, TemplatePolicies } from './template-policies.ts';

let synth: Synthesized;
let policies: TemplatePolicies;
let bucket: string;

function role(name: WorkerName): string {
  return logicalId(synth.built.stack.workers.functions[name].role);
}

async function allowed(roleId: string, action: string, resource: string, resourcePolicy?: unknown): Promise<boolean> {
  const principal = policies.roleArn(roleId);
  const outcome = await simulate({
    principal,
    identityPolicies: policies.identityPolicies(roleId),
    action,
    resource,
    resourcePolicy,
    context: { 'aws:PrincipalArn': principal },
  });
  return outcome === 'Allowed';
}

beforeAll(() => {
  synth = synthesize({}, { nag: false });
  policies = new TemplatePolicies(synth.json as never);
  const bucketId = logicalId(synth.built.stack.observability.debugBucket);
  bucket = String(policies.resource(bucketId).Properties?.BucketName ?? bucketId).toLowerCase();
});

describe('debug-capture bucket access', () => {
  it('the verifier may put captures and do nothing else with the bucket', async () => {
    const verifier = role('webhookVerifier');
    const object = `arn:${PARTITION}:s3:::${bucket}/captures/acme/2026-11-29/${'a'.repeat(64)}.accepted.json`;
    expect(await allowed(verifier, 's3:PutObject', object)).toBe(true);
    for (const action of ['s3:GetObject', 's3:DeleteObject', 's3:PutObjectAcl', 's3:PutObjectTagging']) {
      expect(await allowed(verifier, action, object), action).toBe(false);
    }
    expect(await allowed(verifier, 's3:ListBucket', `arn:${PARTITION}:s3:::${bucket}`)).toBe(false);
    const s3Actions = policies
      .identityPolicies(verifier)
      .flatMap((p) => (p.policy.Statement as any[]).flatMap((s) => [s.Action].flat()))
      .filter((action: string) => action.startsWith('s3:'));
    expect(s3Actions).toEqual(['s3:PutObject']);
  });

  it('the verifier may generate a data key under the data key (an SSE-KMS put), through the key policy too', async () => {
    const verifier = role('webhookVerifier');
    const dataKeyId = logicalId(synth.built.stack.secrets.dataKey);
    expect(
      await allowed(verifier, 'kms:GenerateDataKey', policies.keyArn(dataKeyId), policies.keyPolicy(dataKeyId)),
    ).toBe(true);
  });

  it('no other function may put captures; no function may read one', async () => {
    const object = `arn:${PARTITION}:s3:::${bucket}/captures/acme/2026-11-29/x.json`;
    for (const name of Object.keys(WORKER_SPECS) as WorkerName[]) {
      expect(await allowed(role(name), 's3:PutObject', object), name).toBe(name === 'webhookVerifier');
      expect(await allowed(role(name), 's3:GetObject', object), name).toBe(false);
    }
  });

  it('only offboarding deletes captures, every version of them: the bucket is versioned', async () => {
    const object = `arn:${PARTITION}:s3:::${bucket}/captures/acme/2026-11-29/x.json`;
    const bucketArn = `arn:${PARTITION}:s3:::${bucket}`;
    for (const name of Object.keys(WORKER_SPECS) as WorkerName[]) {
      const offboarding = name === 'tasks:offboarding';
      expect(await allowed(role(name), 's3:DeleteObjectVersion', object), name).toBe(offboarding);
      expect(await allowed(role(name), 's3:ListBucketVersions', bucketArn), name).toBe(offboarding);
    }
  });

  it("names the bucket in the verifier's environment", () => {
    const fn = logicalId(synth.built.stack.workers.functions.webhookVerifier.function);
    const variables = policies.resource(fn).Properties?.Environment?.Variables ?? {};
    expect(Object.keys(variables)).toContain(ENV.debugCaptureBucket);
  });
});
