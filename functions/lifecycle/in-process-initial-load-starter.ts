/**
 * Starts onboarding's initial loads in this process (the one-machine runtime): the reconciler and bulk-loader
 * handlers the Lambdas run, called without being awaited, as an asynchronous invoke would. A load that fails is
 * logged by its error code only; the hourly reconciliation catches up with what it missed.
 */
import { errorCode } from '../shared/errors.ts';
import { assertCustomerId } from '../shared/identifiers.ts';
import { logger } from '../shared/observability.ts';
import { initialLoadEvent } from './lambda-initial-load-starter.ts';
import type { InitialLoad, InitialLoadStarter } from './ports.ts';

export interface InProcessLoadHandlers {
  /** The reconciler handler (functions/reconciler/handler.ts), given `{ customerId }`. */
  readonly reconcile: (event: { readonly customerId: string }) => Promise<unknown>;
  /** The bulk-loader handler (functions/bulk-loader/handler.ts), given its Stripe Connect event. */
  readonly bulkLoad: (event: { readonly customerId: string; readonly source: string }) => Promise<unknown>;
}

export class InProcessInitialLoadStarter implements InitialLoadStarter {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly handlers: InProcessLoadHandlers) {}

  async start(customerId: string, load: InitialLoad): Promise<void> {
    assertCustomerId(customerId);
    const event = initialLoadEvent(customerId, load) as { customerId: string; source: string };
    const run = (load === 'reconciliation' ? this.handlers.reconcile(event) : this.handlers.bulkLoad(event)).then(
      () => undefined,
      (error: unknown) => {
        logger.error('initial load failed', { customerId, load, errorCode: errorCode(error) });
      },
    );
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Resolves once every load started so far has ended (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
