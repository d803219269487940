// The demo as a test: every step's check must pass, with DONOR canaries as the donor data of every event, and no
// canary or secret may appear in any log line (captured by test/support/setup.ts), in the CLI's output, or in any
// answer of the product's HTTP endpoints during the whole run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoReport, runDemo } from '../../infra/local/demo.ts';
import { DONOR, findLeaks, registerSecret } from '../support/canaries.ts';
import { recordHttpAnswers } from './support.ts';

describe('npm run demo, as a test', () => {
  let report: DemoReport;
  const lines: string[] = [];
  const recorder = recordHttpAnswers();

  beforeAll(async () => {
    report = await runDemo({ donor: DONOR, out: (line) => lines.push(line), onSecret: registerSecret });
  }, 60_000);

  afterAll(() => recorder.restore());

  it.each(['onboard', 'stripe', 'batch', 'rotation', 'offboard'])('passes every check of the %s step', (step) => {
    const checks = report.checks.filter((check) => check.step === step);
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.filter((check) => !check.ok).map((check) => check.detail)).toEqual([]);
  });

  it('succeeds as a whole and says so', () => {
    expect(report.checks.find((check) => check.step === 'demo')).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(lines.at(-1)).toMatch(/^\nDemo succeeded: (\d+)\/\1 checks passed$/);
  });

  it('shows live step progress and the deletion record through the CLI', () => {
    expect(report.cliOutput).toMatch(/onboarding succeeded/);
    expect(report.cliOutput).toMatch(/✔ \w+ \(\d+\.\ds\)/);
    expect(report.cliOutput).toMatch(/"customerRecord": "reduced_to_offboarded_marker"/);
    expect(report.cliOutput).toMatch(/"secretsDeleted": [1-9]/);
  });

  it('connects Stripe through the CLI, as an operator does: the webhook secret, then the Connect refresh token', () => {
    expect(report.cliOutput).toContain('Stripe webhook signing secret of demo-customer stored');
    expect(report.cliOutput).toContain(
      'Stripe Connect refresh token of demo-customer validated with Stripe and stored; the Stripe history load started',
    );
    expect(report.checks.some((check) => /past payments submitted to Virtuous exactly once/.test(check.detail))).toBe(
      true,
    );
  });

  it('leaks no donor data or secret into its output, the CLI output, or any answer of the product', () => {
    const productAnswers = recorder.answers.filter((answer) => /\/(webhooks|lifecycle|local)\//.test(answer.url));
    expect(productAnswers.length).toBeGreaterThan(10);
    // Reported by count only: printing the leak would print the secret.
    expect(findLeaks(lines.join('\n')).length).toBe(0);
    expect(findLeaks(report.cliOutput).length).toBe(0);
    expect(findLeaks(productAnswers.map((answer) => answer.body).join('\n')).length).toBe(0);
  });

  it('really carried the canaries through the pipeline (the scan had something to find)', () => {
    // Virtuous received the donor's email and name: the data did flow, so its absence from output is meaningful.
    const toVirtuous = recorder.answers.filter((exchange) => exchange.url.includes('/api/'));
    expect(toVirtuous.some((exchange) => exchange.sent.includes(DONOR.email))).toBe(true);
    expect(toVirtuous.some((exchange) => exchange.sent.includes(DONOR.lastName))).toBe(true);
  });
});
