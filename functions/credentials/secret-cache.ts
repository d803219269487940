/**
 * The per-container cache of secret versions (short TTL). It can never serve a value superseded by a write this
 * container performed: every write bumps the secret's generation and drops its entries, and a read that started
 * before the bump may not store what it fetched (a promote racing a read cannot resurrect the old current).
 * Writes by other containers are bounded by the TTL and by `invalidate` (used when Virtuous answers 401).
 */
import type { SecretStage, SecretVersion } from './secret-store.ts';

export const DEFAULT_SECRET_CACHE_TTL_MS = 30_000;
const MAX_ENTRIES = 1_000;

interface Entry {
  readonly version: SecretVersion;
  readonly expiresAt: number;
}

export class SecretCache {
  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly ttlMs: number = DEFAULT_SECRET_CACHE_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  generation(name: string): number {
    return this.generations.get(name) ?? 0;
  }

  get(name: string, stage: SecretStage): SecretVersion | undefined {
    const key = `${name}#${stage}`;
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.version;
  }

  /** Stores a fetched version unless the secret changed since `generationAtFetch` was taken. */
  set(name: string, stage: SecretStage, version: SecretVersion, generationAtFetch: number): void {
    if (this.ttlMs <= 0 || this.generation(name) !== generationAtFetch) return;
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(`${name}#${stage}`, { version, expiresAt: this.now() + this.ttlMs });
  }

  invalidate(name: string): void {
    this.generations.set(name, this.generation(name) + 1);
    for (const stage of ['current', 'pending', 'previous'] as const) this.entries.delete(`${name}#${stage}`);
  }
}
