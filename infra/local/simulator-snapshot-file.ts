/**
 * Keeps the Virtuous simulator's state across restarts of a runtime that owns it: loaded from
 * `<dataDir>/virtuous-simulator.json` at start, written at a clean stop and every so often while running (only
 * when something changed), so a crash loses at most one interval.
 *
 * The file holds the simulator's API keys and webhook secrets (a local stand-in's, still secrets) and donor data of
 * held transactions and records: it is written 0600 inside the 0700 data folder, replaced atomically (write to a
 * temporary file, fsync, rename), and never printed. A file that cannot be used stops the start with a message
 * naming it: starting an empty simulator over it would silently revoke every onboarded customer's key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicallySync } from '../../functions/credentials/atomic-file.ts';
import { ForbiddenInputError } from '../../functions/shared/errors.ts';
import type { VirtuousSimulatorState } from './virtuous-simulator/simulator.ts';
import {
  parseSimulatorSnapshot,
  type SimulatorSnapshot,
  SimulatorSnapshotError,
} from './virtuous-simulator/snapshot.ts';

export const SIMULATOR_SNAPSHOT_FILE = 'virtuous-simulator.json';
export const DEFAULT_SIMULATOR_SAVE_INTERVAL_MS = 30_000;

export function simulatorSnapshotPath(dataDir: string): string {
  return join(dataDir, SIMULATOR_SNAPSHOT_FILE);
}

function unusable(path: string, reason: string): ForbiddenInputError {
  return new ForbiddenInputError(
    'SIMULATOR_SNAPSHOT_UNREADABLE',
    `Virtuous simulator snapshot ${path} cannot be loaded: ${reason}. Move it away to start with an empty simulator (customers onboarded against it will need onboarding again).`,
  );
}

/** The saved snapshot, or undefined when there is none (a first start). Throws ForbiddenInputError when unusable. */
export function readSimulatorSnapshot(path: string): SimulatorSnapshot | undefined {
  if (!existsSync(path)) return undefined;
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    throw unusable(path, `it cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw unusable(path, 'it is not valid JSON');
  }
  try {
    return parseSimulatorSnapshot(value);
  } catch (error) {
    if (error instanceof SimulatorSnapshotError) throw unusable(path, error.message);
    throw error;
  }
}

export function writeSimulatorSnapshot(path: string, snapshot: SimulatorSnapshot): void {
  writeFileAtomicallySync(path, JSON.stringify(snapshot));
}

export interface SimulatorSnapshotKeeperOptions {
  readonly state: VirtuousSimulatorState;
  readonly path: string;
  readonly intervalMs?: number;
  /** A periodic save that failed (the next one tries again); gets the error code only. */
  readonly onSaveError?: (code: string) => void;
}

/** Periodic and final saves of one simulator's state to one file. */
export class SimulatorSnapshotKeeper {
  private timer: NodeJS.Timeout | undefined;
  private savedRevision: number | undefined;

  constructor(private readonly options: SimulatorSnapshotKeeperOptions) {}

  /** Marks the state just loaded (or found empty) as already saved, then saves every interval when it changed. */
  start(): void {
    this.savedRevision = this.options.state.revision;
    const interval = this.options.intervalMs ?? DEFAULT_SIMULATOR_SAVE_INTERVAL_MS;
    this.timer = setInterval(() => {
      try {
        this.saveIfChanged();
      } catch (error) {
        this.options.onSaveError?.((error as NodeJS.ErrnoException).code ?? (error as Error).name ?? 'error');
      }
    }, interval);
    this.timer.unref();
  }

  /** Writes the snapshot when the state changed since the last save; returns whether it wrote. */
  saveIfChanged(): boolean {
    const revision = this.options.state.revision;
    if (revision === this.savedRevision) return false;
    writeSimulatorSnapshot(this.options.path, this.options.state.exportSnapshot());
    this.savedRevision = revision;
    return true;
  }

  /** Stops the periodic saves and writes the final state (always, so the file matches the state at stop). */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    writeSimulatorSnapshot(this.options.path, this.options.state.exportSnapshot());
    this.savedRevision = this.options.state.revision;
  }
}
