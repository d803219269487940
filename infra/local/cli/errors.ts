/** CLI outcomes as exit codes: 0 succeeded, 1 failed, 2 usage or bad input, 3 timed out or aborted. */

export const EXIT = { succeeded: 0, failed: 1, usage: 2, timedOut: 3 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI reports in one line and maps to an exit code. Messages never hold a token. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

export function usage(message: string): CliError {
  return new CliError(message, EXIT.usage);
}
