/** Checkpoints kept in memory, merged per write like the DynamoDB store, for unit tests of the sync paths. */
import type { Checkpoint, CheckpointStore } from '../../functions/sync/checkpoints.ts';

export class MemoryCheckpoints implements CheckpointStore {
  readonly items = new Map<string, Checkpoint>();
  async get(customerId: string, name: string) {
    return this.items.get(`${customerId}/${name}`);
  }
  async put(customerId: string, name: string, changes: { position?: string; status: string }, now: Date) {
    const previous = this.items.get(`${customerId}/${name}`);
    this.items.set(`${customerId}/${name}`, {
      ...previous,
      customerId,
      checkpointName: name,
      ...changes,
      updatedAt: now.toISOString(),
    });
  }
}
