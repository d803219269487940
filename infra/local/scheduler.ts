/**
 * The EventBridge Scheduler stand-in: runs each job at a fixed interval (reconciliation hourly, rotation reminders
 * daily by default) and on demand. A job never overlaps itself: an on-demand run while the scheduled one is running
 * joins it. Failures are reported by the job's name and error code, never with data.
 */

export interface JobResult {
  readonly job: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly ok: boolean;
  /** Counts the job returned (ids and numbers only). */
  readonly summary?: Readonly<Record<string, unknown>>;
  readonly errorCode?: string;
}

export interface ScheduledJob {
  readonly name: string;
  readonly intervalMinutes: number;
  run(): Promise<Readonly<Record<string, unknown>> | undefined>;
}

export class Scheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Map<string, Promise<JobResult>>();
  private readonly last = new Map<string, JobResult>();
  private stopped = false;

  constructor(
    private readonly jobs: readonly ScheduledJob[],
    private readonly onResult?: (result: JobResult) => void,
  ) {}

  start(): void {
    for (const job of this.jobs) {
      const timer = setInterval(() => {
        void this.runNow(job.name);
      }, job.intervalMinutes * 60_000);
      timer.unref();
      this.timers.push(timer);
    }
  }

  lastResult(name: string): JobResult | undefined {
    return this.last.get(name);
  }

  names(): string[] {
    return this.jobs.map((job) => job.name);
  }

  runNow(name: string): Promise<JobResult> {
    const job = this.jobs.find((candidate) => candidate.name === name);
    if (!job) return Promise.reject(new RangeError(`no scheduled job named ${name}`));
    const running = this.inFlight.get(name);
    if (running) return running;
    if (this.stopped) {
      const now = new Date().toISOString();
      return Promise.resolve({ job: name, startedAt: now, finishedAt: now, ok: false, errorCode: 'RUNTIME_STOPPING' });
    }
    const startedAt = new Date().toISOString();
    const run = job
      .run()
      .then(
        (summary): JobResult => ({
          job: name,
          startedAt,
          finishedAt: new Date().toISOString(),
          ok: true,
          ...(summary === undefined ? {} : { summary }),
        }),
        (error: unknown): JobResult => ({
          job: name,
          startedAt,
          finishedAt: new Date().toISOString(),
          ok: false,
          errorCode: (error as { code?: string })?.code ?? (error instanceof Error ? error.name : 'UNKNOWN'),
        }),
      )
      .then((result) => {
        this.inFlight.delete(name);
        this.last.set(name, result);
        this.onResult?.(result);
        return result;
      });
    this.inFlight.set(name, run);
    return run;
  }

  /** Stops the timers and waits for running jobs to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all([...this.inFlight.values()]);
  }
}
