/**
 * Live progress of a workflow execution: every step as it starts and ends. On a terminal, the step in progress has a
 * spinner line that is replaced when it ends; elsewhere (pipes, CI logs), plain lines. Shows state names, durations
 * and error names only.
 */

export interface Step {
  readonly state: string;
  readonly type: string;
  readonly event: 'entered' | 'exited' | 'failed' | 'retried' | 'caught';
  readonly at: string;
  readonly error?: string;
  readonly attempt?: number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class ProgressPrinter {
  private printed = 0;
  private spinnerTimer: NodeJS.Timeout | undefined;
  private frame = 0;
  private current: { state: string; since: number } | undefined;
  private readonly entered = new Map<string, number>();

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty: boolean = Boolean(out.isTTY),
  ) {}

  /** Prints the steps not printed yet (the history grows; earlier entries never change). */
  update(steps: readonly Step[]): void {
    for (const step of steps.slice(this.printed)) this.print(step);
    this.printed = steps.length;
  }

  private print(step: Step): void {
    const at = Date.parse(step.at);
    switch (step.event) {
      case 'entered':
        this.entered.set(step.state, at);
        if (this.tty) {
          this.current = { state: step.state, since: Date.now() };
          this.startSpinner();
        } else {
          this.line(`… ${step.state} started`);
        }
        return;
      case 'exited': {
        if (this.current?.state === step.state) this.current = undefined;
        const started = this.entered.get(step.state);
        const took = started === undefined ? '' : ` (${((at - started) / 1000).toFixed(1)}s)`;
        this.line(`✔ ${step.state}${took}`);
        return;
      }
      case 'failed':
        if (this.current?.state === step.state) this.current = undefined;
        this.line(`✖ ${step.state} failed: ${step.error ?? 'error'}`);
        return;
      case 'retried':
        this.line(`↻ ${step.state} retrying (attempt ${(step.attempt ?? 0) + 1})`);
        return;
      case 'caught':
        this.line(`→ ${step.state}: error handled, compensating`);
        return;
    }
  }

  private startSpinner(): void {
    if (this.spinnerTimer) return;
    this.spinnerTimer = setInterval(() => this.drawSpinner(), 100);
    this.spinnerTimer.unref();
    this.drawSpinner();
  }

  private drawSpinner(): void {
    if (!this.current) return;
    this.frame = (this.frame + 1) % SPINNER.length;
    const seconds = ((Date.now() - this.current.since) / 1000).toFixed(0);
    this.out.write(`\r\x1b[2K${SPINNER[this.frame]} ${this.current.state} (${seconds}s)`);
  }

  line(text: string): void {
    if (this.tty) {
      this.out.write(`\r\x1b[2K${text}\n`);
      if (this.current) this.drawSpinner();
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** Shows a waiting message (e.g. "waiting for the customer's new token") in place of the spinner. */
  note(text: string): void {
    this.line(`· ${text}`);
  }

  finish(): void {
    if (this.spinnerTimer) clearInterval(this.spinnerTimer);
    this.spinnerTimer = undefined;
    this.current = undefined;
    if (this.tty) this.out.write('\r\x1b[2K');
  }
}
