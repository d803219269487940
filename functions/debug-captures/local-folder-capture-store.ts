import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { assertCustomerId } from '../shared/identifiers.ts';
import {
  captureCustomerPrefix,
  captureKey,
  type DebugCapture,
  type DebugCaptureStore,
  type DebugCaptureWriter,
  serializeCapture,
} from './debug-capture-store.ts';

/** One machine: captures are files under `{root}/captures/{customerId}/`. */
export class LocalFolderCaptureStore implements DebugCaptureStore, DebugCaptureWriter {
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

  async write(capture: DebugCapture): Promise<{ key: string }> {
    const key = captureKey(capture);
    const file = join(this.folder(capture.customerId), key);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    // Owner-only: a capture may hold a donor's data.
    await writeFile(file, serializeCapture(capture), { mode: 0o600 });
    return { key };
  }

  async deleteCustomer(customerId: string): Promise<{ deleted: number }> {
    const files = await this.list(customerId);
    await rm(this.folder(customerId), { recursive: true, force: true });
    return { deleted: files.length };
  }
}
