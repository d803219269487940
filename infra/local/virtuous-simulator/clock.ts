/**
 * The simulator's notion of time: a base clock (real time unless injected) plus an offset that tests advance, so a
 * rate-limit window or a nightly batch can be reached without waiting an hour.
 */
export interface SimulatorClock {
  /** Epoch milliseconds. */
  now(): number;
  advance(ms: number): void;
}

export function createSimulatorClock(base: () => number = Date.now): SimulatorClock {
  let offset = 0;
  return {
    now: () => base() + offset,
    advance(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError('the simulator clock only moves forward');
      offset += ms;
    },
  };
}
