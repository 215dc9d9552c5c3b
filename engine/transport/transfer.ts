import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
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

/** Refuses to send a local file that is missing. */
export async function checkLocalSource(host: string, path: string): Promise<TransferResult> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile()) throw new TransportError('TRANSFER_FAILED', host, `the local file ${path} does not exist; nothing was written`);
  return hashLocalFile(path);
}
