import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TransportError, type TransferResult } from './types.js';

/** SHA-256 and size of a local file, read as a stream. */
export async function hashLocalFile(path: string): Promise<TransferResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Refuses to send a local file that is missing or not what was recorded. */
export async function checkLocalSource(host: string, path: string, expectedSha256: string | undefined): Promise<TransferResult> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new TransportError('TRANSFER_FAILED', host, `the local file ${path} does not exist; nothing was written`);
  const local = await hashLocalFile(path);
  if (expectedSha256 !== undefined && local.sha256 !== expectedSha256) {
    throw new TransportError(
      'TRANSFER_FAILED',
      host,
      `${path} has changed since it was recorded (sha256 ${local.sha256.slice(0, 12)}…, recorded ${expectedSha256.slice(0, 12)}…); nothing was written`,
    );
  }
  return local;
}

/**
 * Runs `write(partial)` into `<path>.part` and renames it into place, so a transfer cut off never
 * leaves a file that looks complete.
 */
export async function writeWhole(path: string, write: (partial: string) => Promise<void>): Promise<TransferResult> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.part`;
  try {
    await write(partial);
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  return hashLocalFile(path);
}
