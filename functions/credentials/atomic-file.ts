/**
 * Replaces a file in one step: write a temporary file beside it (mode 0600), flush it, rename it over the target.
 * A crash leaves either the old or the new content, never a torn file.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { link, open, rename, rm } from 'node:fs/promises';

/** A name no other writer (another process, or this one concurrently) picks for its own temporary file. */
function temporaryBeside(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

/** A new 0600 file beside `path` holding `content`, flushed to disk, so a rename or link of it is complete. */
async function flushedTemporary(path: string, content: string): Promise<string> {
  const temporary = temporaryBeside(path);
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temporary;
}

export async function writeFileAtomically(path: string, content: string): Promise<void> {
  const temporary = await flushedTemporary(path, content);
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The same replacement for callers that cannot wait (a save from a timer or at a synchronous stop). */
export function writeFileAtomicallySync(path: string, content: string): void {
  const temporary = temporaryBeside(path);
  const descriptor = openSync(temporary, 'wx', 0o600);
  try {
    writeFileSync(descriptor, content, 'utf8');
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
  try {
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Creates `path` with `content` only if it does not exist yet (hard link of a complete temporary file, which fails
 * with EEXIST instead of replacing). Returns false when another writer created it first.
 */
export async function createFileExclusively(path: string, content: string): Promise<boolean> {
  const temporary = await flushedTemporary(path, content);
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temporary, { force: true });
  }
}
