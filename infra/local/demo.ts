/**
 * `npm run demo`: the product end to end on this machine, in memory, on free ports. Onboards a demo customer against
 * the Virtuous simulator through the CLI, sends signed Stripe webhooks, runs the simulator's nightly batch (whose
 * signed Virtuous GiftCreate webhooks confirm the gifts), rotates the webhook secret while deliveries continue,
 * offboards and prints the deletion record. Every step checks what it should have done; the exit code is 0 only if
 * all checks passed.
 *
 * Output holds identifiers, counts and states only: no donor data, no key, no secret.
 */
import './process-defaults.ts';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { tableName } from '../../functions/shared/tables.ts';
import { runCli } from './cli/main.ts';
import { type LocalRuntime, startLocalRuntime } from './runtime.ts';
import { readSettings } from './settings.ts';
import { customerCreatedEvent, type Donor, paymentSucceededEvent, sendStripeEvent } from './stripe-events.ts';
import { transactionKey } from './virtuous-simulator/model.ts';
import { startVirtuousSimulator, type VirtuousSimulator } from './virtuous-simulator/server.ts';

export const DEMO_CUSTOMER = 'demo-customer';

/** Obviously fictional donor used when the caller gives none. */
export const DEMO_DONOR: Donor = {
  firstName: 'Demo',
  lastName: 'Donor',
  email: 'demo.donor@example.invalid',
  phone: '+1-555-0100-000',
  address1: '1 Example Street',
  city: 'Exampleville',
  postal: '00000',
};

export interface DemoCheck {
  readonly step: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface DemoReport {
  readonly ok: boolean;
  readonly checks: readonly DemoCheck[];
  /** Everything the CLI printed during the demo (for tests to scan). */
  readonly cliOutput: string;
}

export interface DemoOptions {
  readonly out?: (line: string) => void;
  readonly donor?: Donor;
  /** Extra runtime flags (tests pass nothing; the demo always runs in memory on free ports). */
  readonly runtimeArgs?: readonly string[];
  /** Called with each secret value the demo creates, so a test can scan output for it. */
  readonly onSecret?: (value: string) => void;
}

class LineSink extends Writable {
  text = '';
  constructor(private readonly out: (line: string) => void) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.text += text;
    for (const line of text.split('\n')) if (line.trim() !== '') this.out(`    │ ${line}`);
    callback();
  }
}

async function cli(args: readonly string[], stdin: string, out: (line: string) => void, sink: { all: string }) {
  const stdout = new LineSink(out);
  const stderr = new LineSink(out);
  const input = Readable.from(stdin === '' ? [] : [Buffer.from(stdin)]);
  const code = await runCli(args, {
    stdin: input as unknown as NodeJS.ReadStream,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    env: {},
  }).catch((error: unknown) => {
    stderr.write(`error: ${(error as Error).message}\n`);
    return (error as { exitCode?: number }).exitCode ?? 1;
  });
  sink.all += stdout.text + stderr.text;
  return code;
}

async function syncStates(runtime: LocalRuntime, customerId: string): Promise<Map<string, string>> {
  const answer = await runtime.components.documentClient.send(
    new QueryCommand({
      TableName: tableName(runtime.settings.environment, 'syncRecords'),
      KeyConditionExpression: 'customerId = :c',
      ExpressionAttributeValues: { ':c': customerId },
    }),
  );
  return new Map((answer.Items ?? []).map((item) => [String(item.recordKey), String(item.state)]));
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const out = options.out ?? ((line: string) => console.log(line));
  const donor = options.donor ?? DEMO_DONOR;
  const checks: DemoCheck[] = [];
  const cliSink = { all: '' };
  const check = (step: string, ok: boolean, detail: string) => {
    checks.push({ step, ok, detail });
    out(`  ${ok ? '✔' : '✖'} ${detail}`);
    return ok;
  };
  const section = (title: string) => out(`\n▶ ${title}`);

  let simulator: VirtuousSimulator | undefined;
  let runtime: LocalRuntime | undefined;
  try {
    section('Start the runtime (in memory, free ports) with the Virtuous simulator');
    simulator = await startVirtuousSimulator();
    runtime = await startLocalRuntime(
      readSettings(['--in-memory', '--free-ports', ...(options.runtimeArgs ?? [])], {}),
      {
        simulator,
        // 60× faster clocks for waits: the rotation's cache wait (90 s) and overlap window take seconds.
        timeScale: 60,
      },
    );
    const rt = runtime;
    const sim = simulator;
    out(
      `  webhooks ${rt.endpoints.webhooks}   lifecycle API ${rt.endpoints.lifecycle}   Virtuous ${rt.endpoints.virtuous}`,
    );
    const url = ['--url', rt.endpoints.lifecycle, '--timeout', '60'];
    const waitIdle = async () => rt.waitForQueueIdle(20_000);

    section('Onboard a demo customer through the CLI (the API key goes in on stdin, never as an argument)');
    const { organizationId, apiKey } = sim.control.createOrganization({ name: 'Demo Organization' });
    options.onSecret?.(apiKey);
    const onboarded = await cli(['onboard', DEMO_CUSTOMER, ...url], apiKey, out, cliSink);
    const customer = await rt.components.customers.get(DEMO_CUSTOMER);
    check(
      'onboard',
      onboarded === 0 && customer?.status === 'active',
      `onboarding exit ${onboarded}, customer ${customer?.status ?? 'missing'}`,
    );
    const [subscription] = sim.control.inspect(organizationId).webhooks;
    check(
      'onboard',
      subscription?.payloadUrl === `${rt.endpoints.webhooks}/webhooks/virtuous/${DEMO_CUSTOMER}` && subscription.active,
      `Virtuous webhook subscription ${subscription?.id ?? 'missing'} points at this runtime`,
    );

    section('Connect Stripe through the CLI (the webhook signing secret goes in on stdin)');
    const stripeSecret = `whsec_${randomBytes(24).toString('base64url')}`;
    options.onSecret?.(stripeSecret);
    const connectedSecret = await cli(
      ['connect-stripe', DEMO_CUSTOMER, '--webhook-secret', ...url.slice(0, 2)],
      stripeSecret,
      out,
      cliSink,
    );
    check('stripe', connectedSecret === 0, `connect-stripe --webhook-secret exit ${connectedSecret}`);

    section('Send signed Stripe webhooks (a new donor and a $25.00 gift, the gift delivered twice)');
    const created = Math.floor(Date.now() / 1000);
    const send = (event: unknown) =>
      sendStripeEvent({ webhooksUrl: rt.endpoints.webhooks, customerId: DEMO_CUSTOMER, secret: stripeSecret, event });
    const gift = paymentSucceededEvent({
      eventId: 'evt_demo_gift_1',
      paymentIntentId: 'pi_demo_1',
      customerId: 'cus_demo_1',
      donor,
      amountCents: 2_500,
      created,
    });
    const answers = [
      await send(customerCreatedEvent({ eventId: 'evt_demo_customer_1', customerId: 'cus_demo_1', donor, created })),
      await send(gift),
      await send(gift),
    ];
    check(
      'stripe',
      answers.every((answer) => answer.status === 202),
      `webhook answers ${answers.map((a) => a.status).join(', ')}`,
    );
    const forged = await sendStripeEvent({
      webhooksUrl: rt.endpoints.webhooks,
      customerId: DEMO_CUSTOMER,
      secret: 'whsec_not_the_right_secret',
      event: gift,
    });
    check('stripe', forged.status === 401, `a delivery signed with the wrong secret is refused (${forged.status})`);
    await waitIdle();
    const submitted = sim.control.inspect(organizationId);
    const giftSubmissions = submitted.giftTransactions[transactionKey('Stripe', 'pi_demo_1')] ?? 0;
    check(
      'stripe',
      giftSubmissions === 1,
      `gift pi_demo_1 submitted to Virtuous ${giftSubmissions} time(s) (delivered twice)`,
    );
    check(
      'stripe',
      submitted.held.gifts === 1,
      `Virtuous holds ${submitted.held.gifts} gift transaction(s) for its nightly batch`,
    );

    section("Connect the customer's Stripe account (Stripe Connect): its history loads into Virtuous once");
    // The account authorizes the platform at the Stripe stand-in (what `sim stripe connect` does); its refresh
    // token goes into connect-stripe on stdin, never printed.
    const grant = rt.stripe.control.connectAccount();
    options.onSecret?.(grant.refreshToken);
    const connectedAccount = await cli(
      ['connect-stripe', DEMO_CUSTOMER, '--refresh-token', ...url.slice(0, 2)],
      grant.refreshToken,
      out,
      cliSink,
    );
    check('stripe', connectedAccount === 0, `connect-stripe --refresh-token exit ${connectedAccount}`);
    const seeded = (rt.stripe.control.history(grant.accountId)?.paymentIntents ?? [])
      .filter((intent) => intent.status === 'succeeded')
      .map((intent) => transactionKey('Stripe', intent.id));
    const loadedOnce = () => {
      const received = sim.control.inspect(organizationId).giftTransactions;
      return seeded.filter((key) => received[key] === 1).length;
    };
    // The load runs in the background, as the bulk loader's asynchronous invoke does on AWS.
    for (let polls = 0; polls < 100 && loadedOnce() < seeded.length; polls++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await waitIdle();
    check(
      'stripe',
      seeded.length > 0 && loadedOnce() === seeded.length,
      `${loadedOnce()} of the account's ${seeded.length} past payments submitted to Virtuous exactly once`,
    );

    section('A signed but malformed event is dead-lettered; the operator lists and discards it through the CLI');
    const malformed = { ...gift, id: 'evt_demo_malformed', data: { object: { id: 'not-a-payment-intent' } } };
    const malformedAnswer = await send(malformed);
    await waitIdle();
    const listed = await cli(
      ['dead-letters', 'list', '--customer', DEMO_CUSTOMER, ...url.slice(0, 2)],
      '',
      out,
      cliSink,
    );
    const [deadLetter] = await rt.components.deadLetters.list(DEMO_CUSTOMER, 'open');
    check(
      'dead-letters',
      malformedAnswer.status === 202 && listed === 0 && deadLetter !== undefined,
      `accepted (${malformedAnswer.status}), then dead-lettered as ${deadLetter?.errorCode ?? 'nothing'}`,
    );
    const discarded = deadLetter
      ? await cli(
          ['dead-letters', 'discard', DEMO_CUSTOMER, deadLetter.deadLetterId, ...url.slice(0, 2)],
          '',
          out,
          cliSink,
        )
      : 1;
    const open = await rt.components.deadLetters.list(DEMO_CUSTOMER, 'open');
    check(
      'dead-letters',
      discarded === 0 && open.length === 0,
      `discarded (exit ${discarded}); ${open.length} open dead letters`,
    );

    section("Run the simulator's nightly batch: its signed GiftCreate webhooks confirm the gift");
    const batch = await sim.control.nightlyBatch({ organizationId });
    const deliveries = batch.organizations[0]?.deliveries;
    check(
      'batch',
      (deliveries?.delivered ?? 0) > 0 && deliveries?.failed === 0,
      `webhooks delivered ${deliveries?.delivered ?? 0}, failed ${deliveries?.failed ?? 0}`,
    );
    await waitIdle();
    const states = await syncStates(rt, DEMO_CUSTOMER);
    const giftState = [...states.entries()].find(([key]) => key.includes('pi_demo_1'))?.[1];
    check('batch', giftState === 'confirmed', `gift pi_demo_1 is ${giftState ?? 'unknown'} in the sync ledger`);

    section('Run the hourly reconciliation now, through the CLI');
    const reconciled = await cli(['run-job', 'reconciliation', ...url.slice(0, 2)], '', out, cliSink);
    check('batch', reconciled === 0, `reconciliation exit ${reconciled}`);

    section('Rotate the webhook secret through the CLI while deliveries continue');
    const before = sim.control.inspect(organizationId).webhooks[0]?.secretSha256;
    const rotation = cli(['rotate-webhook-secret', DEMO_CUSTOMER, ...url], '', out, cliSink);
    let rounds = 0;
    let rotationDone = false;
    void rotation.finally(() => {
      rotationDone = true;
    });
    do {
      rounds += 1;
      const id = `pi_demo_rotation_${rounds}`;
      await send(
        paymentSucceededEvent({
          eventId: `evt_${id}`,
          paymentIntentId: id,
          customerId: 'cus_demo_1',
          donor,
          amountCents: 1_000,
          created,
        }),
      );
      await waitIdle();
      await sim.control.nightlyBatch({ organizationId });
      await waitIdle();
    } while (!rotationDone && rounds < 40);
    const rotated = await rotation;
    const after = sim.control.inspect(organizationId);
    const failedDeliveries = after.deliveries.filter((delivery) => delivery.outcome !== 'delivered').length;
    check('rotation', rotated === 0, `webhook-secret rotation exit ${rotated}`);
    check('rotation', after.webhooks[0]?.secretSha256 !== before, 'the subscription now carries a new secret');
    check(
      'rotation',
      failedDeliveries === 0,
      `${after.deliveries.length} Virtuous deliveries in total, ${failedDeliveries} refused (${rounds} rounds during the rotation)`,
    );
    const finalStates = await syncStates(rt, DEMO_CUSTOMER);
    const unconfirmed = [...finalStates.entries()].filter(
      ([key, state]) => key.startsWith('gift#') && state !== 'confirmed',
    );
    check(
      'rotation',
      unconfirmed.length === 0,
      `${[...finalStates.keys()].filter((key) => key.startsWith('gift#')).length} gifts confirmed, ${unconfirmed.length} not`,
    );

    section('Offboard through the CLI and print the deletion record');
    const offboarded = await cli(['offboard', DEMO_CUSTOMER, '--yes', ...url], '', out, cliSink);
    const marker = await rt.components.customers.get(DEMO_CUSTOMER);
    check(
      'offboard',
      offboarded === 0 && marker?.status === 'offboarded',
      `offboarding exit ${offboarded}, customer ${marker?.status ?? 'missing'}`,
    );
    check(
      'offboard',
      sim.control.inspect(organizationId).webhooks.length === 0,
      'the Virtuous webhook subscription is deleted',
    );
    const token = await rt.components.secrets.read({ customerId: DEMO_CUSTOMER, kind: 'api_token' }, 'current', {
      reason: 'demo:verify-deletion',
    });
    check('offboard', token === undefined, 'no secret of the customer is left in the secret store');
    const remaining = await syncStates(rt, DEMO_CUSTOMER);
    check('offboard', remaining.size === 0, `${remaining.size} sync records left`);
  } catch (error) {
    check(
      'demo',
      false,
      `the demo stopped: ${(error as Error)?.name ?? 'error'} ${(error as { code?: string })?.code ?? ''}`,
    );
  } finally {
    await runtime?.stop().catch(() => undefined);
    await simulator?.close().catch(() => undefined);
  }
  const ok = checks.length > 0 && checks.every((entry) => entry.ok);
  out(
    `\n${ok ? 'Demo succeeded' : 'Demo FAILED'}: ${checks.filter((entry) => entry.ok).length}/${checks.length} checks passed`,
  );
  return { ok, checks, cliOutput: cliSink.all };
}

const isEntry = process.argv[1] !== undefined && import.meta.filename === process.argv[1];
if (isEntry) {
  runDemo().then(
    (report) => process.exit(report.ok ? 0 : 1),
    () => process.exit(1),
  );
}
