/**
 * Settings of the one-machine runtime: flags first, then environment variables, then safe defaults. Every value is
 * checked here, once; a bad one is a `ForbiddenInputError` naming the setting (never echoing a secret), and the entry
 * point turns it into exit code 2.
 */
import { resolve } from 'node:path';
import { ForbiddenInputError } from '../../functions/shared/errors.ts';
import { assertEnvironmentName } from '../../functions/shared/identifiers.ts';

export interface PortSettings {
  /** Webhook endpoint (API Gateway stand-in). */
  readonly webhooks: number;
  /** Lifecycle API (the `/lifecycle/...` routes). */
  readonly lifecycle: number;
  readonly dynamodb: number;
  readonly sqs: number;
  /** Virtuous simulator; unused when a real Virtuous base URL is configured. */
  readonly virtuous: number;
  /** Stripe stand-in (Connect OAuth token endpoint and the lists the Stripe history load reads). */
  readonly stripe: number;
}

export interface RuntimeSettings {
  readonly host: '127.0.0.1';
  readonly ports: PortSettings;
  /** Folder for dynalite data, the queue backlog, the keyring and the encrypted secret store. */
  readonly dataDir: string;
  /** Keep everything in memory: nothing is read from or written to `dataDir`. */
  readonly inMemory: boolean;
  readonly environment: string;
  /** A real Virtuous base URL (HTTPS only); undefined = start the simulator. */
  readonly virtuousBaseUrl: string | undefined;
  /** Public base URL Virtuous and Stripe deliver webhooks to; defaults to the local webhook endpoint. */
  readonly webhookPublicBaseUrl: string | undefined;
  readonly reconciliationIntervalMinutes: number;
  readonly rotationReminderIntervalMinutes: number;
  /** Idle pause of the queue poller between empty receives (the receive itself long-polls). */
  readonly pollWaitSeconds: number;
  /** Overlap window of a webhook-secret rotation (how long the old secret is still accepted). */
  readonly webhookSecretOverlapSeconds: number;
  /** Seconds before an unprocessed message is received again (SQS visibility timeout). */
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  /** Log level of the handlers' Powertools logger. */
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Workflow waits run this many times faster (demos, tests); 1 = as written in the ASL files. */
  readonly timeScale: number;
}

export const DEFAULT_PORTS: PortSettings = {
  webhooks: 4510,
  lifecycle: 4511,
  dynamodb: 4512,
  sqs: 4513,
  virtuous: 4514,
  stripe: 4515,
};

/** One setting: its flag, its environment variable, and how its text becomes a value. */
interface SettingSpec {
  readonly flag: string;
  readonly env: string;
  readonly help: string;
}

export const SETTINGS = {
  webhooksPort: { flag: '--webhooks-port', env: 'LOCAL_WEBHOOKS_PORT', help: 'webhook endpoint port (0 = any free)' },
  lifecyclePort: { flag: '--lifecycle-port', env: 'LOCAL_LIFECYCLE_PORT', help: 'lifecycle API port (0 = any free)' },
  dynamodbPort: { flag: '--dynamodb-port', env: 'LOCAL_DYNAMODB_PORT', help: 'dynalite port (0 = any free)' },
  sqsPort: { flag: '--sqs-port', env: 'LOCAL_SQS_PORT', help: 'local SQS port (0 = any free)' },
  virtuousPort: { flag: '--virtuous-port', env: 'LOCAL_VIRTUOUS_PORT', help: 'Virtuous simulator port (0 = any free)' },
  stripePort: { flag: '--stripe-port', env: 'LOCAL_STRIPE_PORT', help: 'Stripe stand-in port (0 = any free)' },
  dataDir: { flag: '--data-dir', env: 'LOCAL_DATA_DIR', help: 'folder for local data (default .local)' },
  inMemory: { flag: '--in-memory', env: 'LOCAL_IN_MEMORY', help: 'keep everything in memory (true/false)' },
  freePorts: { flag: '--free-ports', env: 'LOCAL_FREE_PORTS', help: 'pick any free ports (true/false)' },
  environment: { flag: '--environment', env: 'ENVIRONMENT_NAME', help: 'environment name in table/secret names' },
  virtuousBaseUrl: {
    flag: '--virtuous-base-url',
    env: 'VIRTUOUS_BASE_URL',
    help: 'real Virtuous API base URL (https only); default: the simulator',
  },
  webhookPublicBaseUrl: {
    flag: '--webhook-public-base-url',
    env: 'WEBHOOK_PUBLIC_BASE_URL',
    help: 'public URL webhooks are delivered to (default: the local webhook endpoint)',
  },
  reconciliationMinutes: {
    flag: '--reconciliation-minutes',
    env: 'LOCAL_RECONCILIATION_MINUTES',
    help: 'minutes between scheduled reconciliations (default 60)',
  },
  rotationReminderMinutes: {
    flag: '--rotation-reminder-minutes',
    env: 'LOCAL_ROTATION_REMINDER_MINUTES',
    help: 'minutes between rotation-reminder runs (default 1440)',
  },
  pollWaitSeconds: { flag: '--poll-wait-seconds', env: 'LOCAL_POLL_WAIT_SECONDS', help: 'long-poll wait (0-20)' },
  overlapSeconds: {
    flag: '--webhook-secret-overlap-seconds',
    env: 'WEBHOOK_SECRET_OVERLAP_SECONDS',
    help: 'webhook-secret rotation overlap window, 60-1209600 (default 300)',
  },
  visibilityTimeoutSeconds: {
    flag: '--visibility-timeout-seconds',
    env: 'LOCAL_VISIBILITY_TIMEOUT_SECONDS',
    help: 'queue visibility timeout (default 30)',
  },
  maxReceiveCount: {
    flag: '--max-receive-count',
    env: 'LOCAL_MAX_RECEIVE_COUNT',
    help: 'receives before a message moves to the DLQ (default 5)',
  },
  logLevel: { flag: '--log-level', env: 'POWERTOOLS_LOG_LEVEL', help: 'DEBUG, INFO, WARN or ERROR (default WARN)' },
  timeScale: {
    flag: '--time-scale',
    env: 'LOCAL_TIME_SCALE',
    help: 'run workflow waits N times faster, for demos and tests (default 1)',
  },
} as const satisfies Record<string, SettingSpec>;

type SettingKey = keyof typeof SETTINGS;

function invalid(spec: SettingSpec, expectation: string): ForbiddenInputError {
  return new ForbiddenInputError('INVALID_SETTING', `setting ${spec.flag} (${spec.env}) ${expectation}`);
}

/** Splits `--name value`, `--name=value` and bare boolean flags; an unknown flag is an error naming it. */
export function parseFlags(argv: readonly string[]): Map<string, string> {
  const known = new Map<string, SettingSpec>(Object.values(SETTINGS).map((spec) => [spec.flag, spec] as const));
  const booleans = new Set<string>([SETTINGS.inMemory.flag, SETTINGS.freePorts.flag]);
  const values = new Map<string, string>();
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] as string;
    const equals = arg.indexOf('=');
    const name = equals > 0 ? arg.slice(0, equals) : arg;
    if (!known.has(name)) {
      throw new ForbiddenInputError('UNKNOWN_SETTING', `unknown option ${name.slice(0, 60)} (try --help)`);
    }
    if (equals > 0) {
      values.set(name, arg.slice(equals + 1));
    } else if (booleans.has(name)) {
      values.set(name, 'true');
    } else {
      const next = argv[index + 1];
      if (next === undefined || next.startsWith('--')) {
        throw new ForbiddenInputError('INVALID_SETTING', `option ${name} needs a value`);
      }
      values.set(name, next);
      index += 1;
    }
  }
  return values;
}

class SettingReader {
  constructor(
    private readonly flags: Map<string, string>,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  raw(key: SettingKey): string | undefined {
    const spec = SETTINGS[key];
    const value = this.flags.get(spec.flag) ?? this.env[spec.env];
    return value === undefined || value === '' ? undefined : value;
  }

  integer(key: SettingKey, fallback: number, min: number, max: number): number {
    const raw = this.raw(key);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(SETTINGS[key], `must be an integer between ${min} and ${max}`);
    }
    return value;
  }

  boolean(key: SettingKey): boolean {
    const raw = this.raw(key);
    if (raw === undefined) return false;
    if (['true', '1', 'yes'].includes(raw.toLowerCase())) return true;
    if (['false', '0', 'no'].includes(raw.toLowerCase())) return false;
    throw invalid(SETTINGS[key], 'must be true or false');
  }
}

function absoluteUrl(spec: SettingSpec, raw: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw invalid(spec, 'must be an absolute URL');
  }
}

/** The form base URLs are joined with: no trailing slash. */
function baseUrlOf(url: URL): string {
  return url.toString().replace(/\/$/, '');
}

function httpsUrl(spec: SettingSpec, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const url = absoluteUrl(spec, raw);
  if (url.protocol !== 'https:') throw invalid(spec, 'must use https://');
  if (url.username || url.password) throw invalid(spec, 'must not carry credentials');
  return baseUrlOf(url);
}

function publicUrl(spec: SettingSpec, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const url = absoluteUrl(spec, raw);
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(spec, 'must use https:// (plain http only for a loopback address)');
  }
  return baseUrlOf(url);
}

export function readSettings(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): RuntimeSettings {
  const reader = new SettingReader(parseFlags(argv), env);
  const freePorts = reader.boolean('freePorts');
  const port = (key: SettingKey, fallback: number) => reader.integer(key, freePorts ? 0 : fallback, 0, 65535);
  const ports: PortSettings = {
    webhooks: port('webhooksPort', DEFAULT_PORTS.webhooks),
    lifecycle: port('lifecyclePort', DEFAULT_PORTS.lifecycle),
    dynamodb: port('dynamodbPort', DEFAULT_PORTS.dynamodb),
    sqs: port('sqsPort', DEFAULT_PORTS.sqs),
    virtuous: port('virtuousPort', DEFAULT_PORTS.virtuous),
    stripe: port('stripePort', DEFAULT_PORTS.stripe),
  };
  const fixed = Object.entries(ports).filter(([, value]) => value !== 0);
  const seen = new Map<number, string>();
  for (const [name, value] of fixed) {
    const other = seen.get(value);
    if (other !== undefined) {
      throw new ForbiddenInputError('INVALID_SETTING', `ports of ${other} and ${name} must differ (both ${value})`);
    }
    seen.set(value, name);
  }

  const environmentRaw = reader.raw('environment') ?? 'local';
  let environment: string;
  try {
    environment = assertEnvironmentName(environmentRaw);
  } catch {
    throw invalid(SETTINGS.environment, 'must be 1-32 lowercase letters, digits or "-", starting with a letter');
  }

  const logLevel = (reader.raw('logLevel') ?? 'WARN').toUpperCase();
  if (!['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(logLevel)) {
    throw invalid(SETTINGS.logLevel, 'must be DEBUG, INFO, WARN or ERROR');
  }

  return {
    host: '127.0.0.1',
    ports,
    dataDir: resolve(cwd, reader.raw('dataDir') ?? '.local'),
    inMemory: reader.boolean('inMemory'),
    environment,
    virtuousBaseUrl: httpsUrl(SETTINGS.virtuousBaseUrl, reader.raw('virtuousBaseUrl')),
    webhookPublicBaseUrl: publicUrl(SETTINGS.webhookPublicBaseUrl, reader.raw('webhookPublicBaseUrl')),
    reconciliationIntervalMinutes: reader.integer('reconciliationMinutes', 60, 1, 10_080),
    rotationReminderIntervalMinutes: reader.integer('rotationReminderMinutes', 1_440, 1, 10_080),
    pollWaitSeconds: reader.integer('pollWaitSeconds', 1, 0, 20),
    // The same bounds as the deployed workflows (functions/lifecycle/settings.ts).
    webhookSecretOverlapSeconds: reader.integer('overlapSeconds', 300, 60, 14 * 24 * 60 * 60),
    visibilityTimeoutSeconds: reader.integer('visibilityTimeoutSeconds', 30, 1, 43_200),
    maxReceiveCount: reader.integer('maxReceiveCount', 5, 1, 1_000),
    logLevel: logLevel as RuntimeSettings['logLevel'],
    timeScale: reader.integer('timeScale', 1, 1, 3_600),
  };
}

export function settingsHelp(): string {
  const lines = Object.values(SETTINGS).map((spec) => `  ${spec.flag.padEnd(34)} ${spec.env.padEnd(38)} ${spec.help}`);
  return ['Options (flag, environment variable, meaning):', ...lines].join('\n');
}
