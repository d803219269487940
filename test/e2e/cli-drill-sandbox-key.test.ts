// The deletion drill's set-up through the CLI and the lifecycle API (the same route a deployed stack's operator
// calls with --aws): the sandbox key is read from stdin, checked against Virtuous, stored under the reserved drill
// customer, and the drill then onboards its synthetic customer with it.
import { describe, expect, it } from 'vitest';
import { DRILL_SANDBOX_CUSTOMER_ID } from '../../functions/deletion-drill/drill.ts';
import { findLeaks, registerSecret } from '../support/canaries.ts';
import { useSimulatedRuntime } from './support.ts';

describe('drill-sandbox-key through the CLI', () => {
  const local = useSimulatedRuntime({ timeScale: 60 });
  const { cli } = local;
  const stored = () =>
    local.runtime.components.secrets.read({ customerId: DRILL_SANDBOX_CUSTOMER_ID, kind: 'api_token' }, 'current', {
      reason: 'test:inspect',
    });

  it('refuses a key Virtuous does not accept and stores nothing', async () => {
    const wrong = registerSecret('vkey_not_a_sandbox_key_0123456789');
    const run = await cli(['drill-sandbox-key'], wrong);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('TOKEN_REJECTED');
    expect(await stored()).toBeUndefined();
  });

  it('stores the sandbox key, and the drill onboards and offboards its customer with it', async () => {
    const sandbox = local.simulator.control.createOrganization({ name: 'Drill Sandbox' });
    registerSecret(sandbox.apiKey);
    const run = await cli(['drill-sandbox-key'], sandbox.apiKey);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('deletion-drill sandbox key stored');
    expect((await stored())?.value).toBe(sandbox.apiKey);

    const drill = await cli(['run-job', 'deletion-drill']);
    expect(drill.code).toBe(0);
    const report = JSON.parse(drill.stdout.split('\n')[1] ?? '{}') as { ok?: boolean; customerId?: string };
    expect(report.ok).toBe(true);
    // The drill used the stored key: no other organization was made for it, and the key stays for the next drill.
    expect(local.simulator.control.organizationList().map((org) => org.organizationId)).toEqual([
      sandbox.organizationId,
    ]);
    expect((await stored())?.value).toBe(sandbox.apiKey);
  }, 60_000);

  it('prints no key', () => {
    expect(findLeaks(local.cliOutput())).toHaveLength(0);
  });
});
