/**
 * The lifecycle API's domain: receive a customer's Virtuous key (onboarding or rotation) over HTTPS, start workflows,
 * report executions. A key is validated live, stored only through the SecretStore, and never echoed, logged or put
 * into an execution: executions carry the customer id, the rotation's task token stays in the customer record.
 */
import type { SecretStore } from '../credentials/secret-store.ts';
import type { CustomerRecord, CustomerRepository, Sensitivity, WorkflowName } from '../customers/customer.ts';
import type {
  Clock,
  ExecutionDescription,
  IncidentReportStore,
  VirtuousConnector,
  WorkflowStarter,
} from '../lifecycle/ports.ts';
import type { LifecycleSettings } from '../lifecycle/settings.ts';
import {
  type PauseResult,
  pauseCustomerSync,
  type ResumeResult,
  resumeCustomerSync,
  SYNC_PAUSE_REFUSALS,
} from '../lifecycle/sync-pause.ts';
import type { Notifier } from '../notifications/notifier.ts';
import { PermanentError, RecoverableError, TransientError } from '../shared/errors.ts';
import { logger } from '../shared/observability.ts';
import type { DeadLetters } from '../sync/dead-letters.ts';
import type { HeldMessages } from '../sync/held-messages.ts';
import type { SourceCredentialServices } from './source-credentials.ts';

export interface LifecycleApiDeps {
  readonly customers: CustomerRepository;
  readonly secrets: SecretStore;
  readonly virtuous: VirtuousConnector;
  readonly starter: WorkflowStarter;
  readonly clock: Clock;
  readonly settings: Pick<LifecycleSettings, 'tokenRotationDays'>;
  /** Pause / resume by hand: the held messages a resume releases, and who is told. Without them those routes 501. */
  readonly held?: Pick<HeldMessages, 'release'>;
  readonly notifier?: Notifier;
  /** The operator's dead-letter routes (list, replay, discard). Without them those routes 501. */
  readonly deadLetters?: Pick<DeadLetters, 'list' | 'replay' | 'discard'>;
  /** Incident reports (list, read). Without them those routes 501. */
  readonly incidentReports?: Pick<IncidentReportStore, 'get' | 'list'>;
  /** Connecting a source platform's credentials (source-credentials.ts): the OAuth refresher and the load starter. */
  readonly sourceCredentials?: SourceCredentialServices;
}

/** Statuses from which a customer may (re)start onboarding. */
const MAY_ONBOARD = new Set(['failed', 'offboarded']);

export class ApiRefusal extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiRefusal';
  }
}

/** Checks a Virtuous key live (who am I) before anything stores it; answers the organization user it reaches. */
export async function validateToken(
  deps: Pick<LifecycleApiDeps, 'virtuous'>,
  customerId: string,
  token: string,
): Promise<string> {
  let organization: Awaited<ReturnType<ReturnType<VirtuousConnector['forToken']>['currentOrganization']>>;
  try {
    organization = await deps.virtuous.forToken(customerId, token).currentOrganization();
  } catch (error) {
    if (error instanceof RecoverableError || error instanceof PermanentError) {
      throw new ApiRefusal(422, 'TOKEN_REJECTED', 'Virtuous did not accept the key');
    }
    throw error;
  }
  if (!organization.isEnabled) {
    throw new ApiRefusal(422, 'ORGANIZATION_DISABLED', 'the key reaches an organization that is not enabled');
  }
  return String(organization.organizationUserId);
}

export async function receiveOnboardingToken(
  deps: LifecycleApiDeps,
  request: { customerId: string; token: string; sensitivity: Sensitivity; tokenRotationDays?: number },
): Promise<{ executionId: string }> {
  const existing = await deps.customers.get(request.customerId);
  if (existing !== undefined && !(MAY_ONBOARD.has(existing.status) || isStalledOnboarding(existing))) {
    throw new ApiRefusal(409, 'CUSTOMER_EXISTS', `customer ${request.customerId} is already ${existing.status}`);
  }
  const organizationId = await validateToken(deps, request.customerId, request.token);
  await deps.secrets.putPending({ customerId: request.customerId, kind: 'api_token' }, request.token, {
    reason: 'onboarding:receive',
  });
  const now = deps.clock.now().toISOString();
  const tokenRotationDays = request.tokenRotationDays ?? deps.settings.tokenRotationDays[request.sensitivity];
  if (existing === undefined) {
    await deps.customers.create({
      customerId: request.customerId,
      status: 'onboarding',
      sensitivity: request.sensitivity,
      tokenRotationDays,
      organizationId,
      createdAt: now,
      updatedAt: now,
    });
  } else {
    await deps.customers.update(request.customerId, {
      status: 'onboarding',
      statusReason: undefined,
      sensitivity: request.sensitivity,
      tokenRotationDays,
      organizationId,
      webhookSubscriptionId: undefined,
      previousWebhookSecretValidUntil: undefined,
      awaitingTokenTaskToken: undefined,
      // A capture window never survives into a new connection of the customer.
      debugCaptureUntil: undefined,
      updatedAt: now,
    });
  }
  const started = await deps.starter.start('onboarding', { customerId: request.customerId });
  logger.info('onboarding started', { customerId: request.customerId, executionId: started.executionId });
  return started;
}

/** An onboarding whose workflow never started (the start failed) may be resubmitted. */
function isStalledOnboarding(record: CustomerRecord): boolean {
  return record.status === 'onboarding' && record.lock === undefined;
}

export async function receiveRotationToken(
  deps: LifecycleApiDeps,
  request: { customerId: string; token: string },
): Promise<{ accepted: true }> {
  const record = await deps.customers.get(request.customerId);
  const taskToken = record?.awaitingTokenTaskToken;
  if (record === undefined || taskToken === undefined) {
    throw new ApiRefusal(409, 'NO_ROTATION_WAITING', 'no token rotation is waiting for a new key');
  }
  const { versionId } = await deps.secrets.putPending(
    { customerId: request.customerId, kind: 'api_token' },
    request.token,
    {
      reason: 'rotation:receive',
    },
  );
  try {
    await deps.starter.sendTaskSuccess(taskToken, { tokenVersionId: versionId });
  } catch (error) {
    if (error instanceof TransientError) throw error;
    // The wait is over (timed out, or the execution was stopped): the key must not linger as pending.
    await deps.secrets.discardPending(
      { customerId: request.customerId, kind: 'api_token' },
      { reason: 'rotation:receive' },
    );
    await deps.customers.update(request.customerId, { awaitingTokenTaskToken: undefined });
    throw new ApiRefusal(409, 'NO_ROTATION_WAITING', 'the token rotation is no longer waiting for a key');
  }
  await deps.customers.update(request.customerId, { awaitingTokenTaskToken: undefined });
  logger.info('rotation key received', { customerId: request.customerId });
  return { accepted: true };
}

export const STARTABLE: ReadonlySet<WorkflowName> = new Set([
  'token-rotation',
  'webhook-secret-rotation',
  'offboarding',
  'incident-response',
]);

export async function startWorkflow(
  deps: LifecycleApiDeps,
  request: { customerId: string; workflow: WorkflowName; expedited?: boolean },
): Promise<{ executionId: string }> {
  const record = await deps.customers.get(request.customerId);
  if (record === undefined || record.status === 'offboarded') {
    throw new ApiRefusal(404, 'CUSTOMER_NOT_FOUND', `customer ${request.customerId} is not connected`);
  }
  if (record.lock !== undefined) {
    throw new ApiRefusal(409, 'WORKFLOW_IN_PROGRESS', `a ${record.lock.workflow} workflow is running for the customer`);
  }
  const started = await deps.starter.start(request.workflow, {
    customerId: request.customerId,
    ...(request.expedited === true ? { expedited: true } : {}),
  });
  logger.info('workflow started', { customerId: request.customerId, workflow: request.workflow });
  return started;
}

export async function describeExecution(deps: LifecycleApiDeps, executionId: string): Promise<ExecutionDescription> {
  const description = await deps.starter.describe(executionId);
  if (description === undefined) throw new ApiRefusal(404, 'EXECUTION_NOT_FOUND', 'no such execution');
  return description;
}

function syncPauseDeps(deps: LifecycleApiDeps) {
  const { held, notifier } = deps;
  if (held === undefined || notifier === undefined) {
    throw new ApiRefusal(501, 'NOT_CONFIGURED', 'pause and resume are not configured here');
  }
  return { customers: deps.customers, virtuous: deps.virtuous, clock: deps.clock, held, notifier };
}

/** A refusal of the domain (PermanentError with a known code) becomes a 404 or 409 with that code and its message. */
async function refusalsAsAnswers<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof PermanentError) {
      if (error.code === SYNC_PAUSE_REFUSALS.notFound) throw new ApiRefusal(404, error.code, error.message);
      if ((Object.values(SYNC_PAUSE_REFUSALS) as string[]).includes(error.code)) {
        throw new ApiRefusal(409, error.code, error.message);
      }
      if (error.code === 'INVALID_REASON') throw new ApiRefusal(400, error.code, error.message);
    }
    throw error;
  }
}

export function resumeSync(deps: LifecycleApiDeps, customerId: string): Promise<ResumeResult> {
  return refusalsAsAnswers(() => resumeCustomerSync(syncPauseDeps(deps), customerId));
}

export function pauseSync(deps: LifecycleApiDeps, customerId: string, reason?: string): Promise<PauseResult> {
  return refusalsAsAnswers(() => pauseCustomerSync(syncPauseDeps(deps), customerId, reason));
}
