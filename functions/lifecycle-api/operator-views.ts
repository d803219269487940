/**
 * The operator's reads and dead-letter decisions, shared by the lifecycle API (deployed stack) and the local
 * runtime's `/local` routes: the same checks on identifiers, the same domain calls, answers of identifiers, codes,
 * counts and timestamps only. A dead letter's sealed payload never leaves (DeadLetters.list does not even read it).
 */
import { ForbiddenInputError, PermanentError } from '../shared/errors.ts';
import type { DeadLetterResolution, DeadLetterSummary, DeadLetters, ReplayOptions } from '../sync/dead-letters.ts';

export const DEAD_LETTER_RESOLUTIONS: readonly DeadLetterResolution[] = ['open', 'replayed', 'discarded'];
const DEAD_LETTER_ID = /^[A-Za-z0-9_#:.-]{1,200}$/;

export type DeadLetterAction = 'replay' | 'discard';

/** What an operator sees of a dead letter. */
export interface DeadLetterView {
  readonly customerId: string;
  readonly deadLetterId: string;
  readonly operation: string;
  readonly errorCode: string;
  readonly statusCode?: number;
  readonly attempts: number;
  readonly resolution: DeadLetterResolution;
  readonly createdAt: string;
  readonly resolvedAt?: string;
}

export function viewDeadLetter(summary: DeadLetterSummary): DeadLetterView {
  return {
    customerId: summary.customerId,
    deadLetterId: summary.deadLetterId,
    operation: summary.operation,
    errorCode: summary.errorCode,
    ...(summary.statusCode === undefined ? {} : { statusCode: summary.statusCode }),
    attempts: summary.attempts,
    resolution: summary.resolution,
    createdAt: summary.createdAt,
    ...(summary.resolvedAt === undefined ? {} : { resolvedAt: summary.resolvedAt }),
  };
}

/** A dead letter id from a path (possibly still percent-encoded); the refusal never repeats it. */
export function parseDeadLetterId(raw: string | undefined): string {
  let decoded: string | undefined;
  try {
    decoded = raw === undefined ? undefined : decodeURIComponent(raw);
  } catch {
    decoded = undefined;
  }
  if (decoded === undefined || !DEAD_LETTER_ID.test(decoded)) {
    throw new ForbiddenInputError('INVALID_DEAD_LETTER_ID', 'dead letter id is malformed');
  }
  return decoded;
}

export function parseResolution(raw: string | undefined): DeadLetterResolution | undefined {
  if (raw === undefined) return undefined;
  if (!(DEAD_LETTER_RESOLUTIONS as readonly string[]).includes(raw)) {
    throw new ForbiddenInputError('INVALID_RESOLUTION', 'resolution must be open, replayed or discarded');
  }
  return raw as DeadLetterResolution;
}

export async function listDeadLetters(
  deadLetters: Pick<DeadLetters, 'list'>,
  customerIds: readonly string[],
  resolution?: DeadLetterResolution,
): Promise<DeadLetterSummary[]> {
  const found: DeadLetterSummary[] = [];
  for (const customerId of customerIds) found.push(...(await deadLetters.list(customerId, resolution)));
  return found;
}

/**
 * Replays or discards one open dead letter. The domain's refusals keep their codes; their messages are replaced by
 * fixed ones so no answer repeats what the caller sent.
 */
export async function resolveDeadLetter(
  deadLetters: Pick<DeadLetters, 'replay' | 'discard'>,
  request: { customerId: string; deadLetterId: string; action: DeadLetterAction; now: Date } & ReplayOptions,
): Promise<DeadLetterSummary> {
  const { customerId, deadLetterId, action, now } = request;
  try {
    return action === 'replay'
      ? await deadLetters.replay(customerId, deadLetterId, now, { checked: request.checked === true })
      : await deadLetters.discard(customerId, deadLetterId, now);
  } catch (error) {
    if (error instanceof PermanentError && error.code in REFUSALS) {
      throw new PermanentError(error.code, REFUSALS[error.code] as string);
    }
    throw error;
  }
}

const REFUSALS: Record<string, string> = {
  DEAD_LETTER_NOT_FOUND: 'no such dead letter',
  DEAD_LETTER_RESOLVED: 'the dead letter is already resolved',
  DEAD_LETTER_EMPTY: 'the dead letter kept no message to replay',
  OUTCOME_UNDECIDED:
    'the write may have reached Virtuous: replay a gift or contact after reconciliation reports it, a refund with checked once you have looked',
};
