/**
 * `npm start`: the whole integration on this machine. Prints what runs where, runs until Ctrl-C (SIGINT) or
 * SIGTERM, then stops cleanly: no new requests, in-flight batches finish, queued messages are saved for the next
 * start. Exit codes: 0 after a clean stop, 2 for a bad setting (named in the message), 1 for anything else.
 */
import './process-defaults.ts';
import { errorCode, ForbiddenInputError } from '../../functions/shared/errors.ts';
import type { LocalRuntime } from './runtime.ts';
import { DEFAULT_PORTS, type RuntimeSettings, readSettings, settingsHelp } from './settings.ts';

/** Signals closer than this to the first are duplicates of the same keypress. */
const DUPLICATE_SIGNAL_WINDOW_MS = 1_500;

function describe(runtime: LocalRuntime, jobs: { reconciliation: string; reminders: string }): string {
  const { settings, endpoints } = runtime;
  const storage = settings.inMemory ? 'in memory (nothing kept after stop)' : `on disk under ${settings.dataDir}`;
  const virtuous = runtime.simulator ? `${endpoints.virtuous} (Virtuous simulator)` : `${endpoints.virtuous} (real)`;
  const lines = [
    'Virtuous integration, local runtime',
    `  environment         ${settings.environment}; data ${storage}`,
    `  webhook endpoint    ${endpoints.webhooks}/webhooks/{virtuous|stripe}/{customerId}`,
    `  lifecycle API       ${endpoints.lifecycle}/lifecycle/...   operator routes ${endpoints.lifecycle}/local/...`,
    `  Virtuous            ${virtuous}`,
    `  Stripe              ${endpoints.stripe} (Stripe stand-in: Connect OAuth and the history load's lists)`,
    `  DynamoDB            ${endpoints.dynamodb} (dynalite)`,
    `  SQS                 ${endpoints.sqs} (local-aws-sqs: inbound queue + DLQ, redrive after ${settings.maxReceiveCount})`,
    '  workflows           onboarding, token-rotation, webhook-secret-rotation, offboarding, incident-response',
    ...(settings.timeScale === 1 ? [] : [`  time scale          workflow waits run ${settings.timeScale}x faster`]),
    `  schedules           ${jobs.reconciliation} every ${settings.reconciliationIntervalMinutes} min, ${jobs.reminders} every ${settings.rotationReminderIntervalMinutes} min`,
  ];
  if (runtime.restoredSimulator) {
    lines.push(
      `  resumed Virtuous    simulator state: ${runtime.restoredSimulator.organizations} organization(s), ${runtime.restoredSimulator.apiKeys} active key(s)`,
    );
  }
  if (runtime.restored.inbound + runtime.restored.deadLetter > 0) {
    lines.push(
      `  resumed backlog     ${runtime.restored.inbound} queued message(s), ${runtime.restored.deadLetter} dead-lettered`,
    );
  }
  // The CLI looks for the lifecycle API on the default port; on any other it must be told where.
  const cli =
    endpoints.lifecycle === `http://${settings.host}:${DEFAULT_PORTS.lifecycle}`
      ? 'npm run cli -- status'
      : `LOCAL_LIFECYCLE_URL=${endpoints.lifecycle} npm run cli -- status`;
  lines.push('', `Try: ${cli}     Stop: Ctrl-C`);
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`Usage: npm start -- [options]\n\n${settingsHelp()}`);
    return 0;
  }
  let settings: RuntimeSettings;
  try {
    settings = readSettings(argv);
  } catch (error) {
    if (error instanceof ForbiddenInputError) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    throw error;
  }

  // Loaded only once the settings are valid: a bad setting is reported at once, without loading every handler.
  const { JOB_RECONCILIATION, JOB_ROTATION_REMINDERS, startLocalRuntime } = await import('./runtime.ts');
  let runtime: LocalRuntime;
  try {
    runtime = await startLocalRuntime(settings, { log: (line) => console.log(`[runtime] ${line}`) });
  } catch (error) {
    if (error instanceof ForbiddenInputError) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    console.error(`error: the local runtime did not start (${errorCode(error)}: ${(error as Error)?.message ?? ''})`);
    return 1;
  }
  console.log(describe(runtime, { reconciliation: JOB_RECONCILIATION, reminders: JOB_ROTATION_REMINDERS }));

  return new Promise<number>((resolve) => {
    let firstSignalAt: number | undefined;
    let lateSignals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      const now = Date.now();
      if (firstSignalAt !== undefined) {
        // One Ctrl-C reaches this process several times (the terminal's process group, npm and tsx relaying it):
        // repeats within a moment are the same keypress, not an impatient user.
        if (now - firstSignalAt < DUPLICATE_SIGNAL_WINDOW_MS) return;
        lateSignals += 1;
        if (lateSignals === 1) {
          console.error('still stopping (saving the queue); press Ctrl-C again to exit without saving it');
          return;
        }
        process.exit(130);
      }
      firstSignalAt = now;
      console.log(`\n${signal}: stopping (finishing in-flight work, saving queued messages)…`);
      runtime.stop().then(
        (report) => {
          const saved = report.savedMessages;
          if (saved) console.log(`saved ${saved.inbound} queued and ${saved.deadLetter} dead-lettered message(s)`);
          if (report.simulatorSaved === true) console.log('saved the Virtuous simulator state');
          if (report.simulatorSaved === false) console.error('the Virtuous simulator state was not saved');
          if (report.workflows.aborted > 0) {
            console.log(`aborted ${report.workflows.aborted} running workflow execution(s); their locks were released`);
          }
          console.log('stopped');
          resolve(0);
        },
        (error: unknown) => {
          console.error(`error while stopping: ${errorCode(error)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`error: ${errorCode(error)}`);
    process.exit(1);
  },
);
