import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { assertCustomerId } from '../shared/identifiers.ts';
import { captureCustomerPrefix, type DebugCaptureStore } from './debug-capture-store.ts';

/** One machine: captures are files under `{root}/captures/{customerId}/`. */
export class LocalFolderCaptureStore implements DebugCaptureStore {
  constructor(private readonly root: string) {}

  private folder(customerId: string): string {
    return join(this.root, captureCustomerPrefix(assertCustomerId(customerId)));
  }

  async list(customerId: string): Promise<string[]> {
    try {
      const entries = await readdir(this.folder(customerId), { recursive: true, withFileTypes: true });
      return entries
        .filter((entry) => entry.isFile())
        .map((entry) => join(entry.parentPath, entry.name).slice(this.folder(customerId).length))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async deleteCustomer(customerId: string): Promise<{ deleted: number }> {
    const files = await this.list(customerId);
    await rm(this.folder(customerId), { recursive: true, force: true });
    return { deleted: files.length };
  }
}
