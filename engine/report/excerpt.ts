import type { OutputExcerpt } from '../schema/report.js';

export interface OutputLimits {
  /** Most lines kept of each output (the last ones). */
  lines: number;
  /** Most UTF-8 bytes kept of each output (the last ones). */
  bytes: number;
}

export const DEFAULT_OUTPUT_LIMITS: OutputLimits = { lines: 40, bytes: 4096 };

/** The tail of an output within the limits. The caller redacts first, so a cut never leaves half a secret showing. */
export function excerptOutput(text: string, limits: OutputLimits = DEFAULT_OUTPUT_LIMITS): OutputExcerpt {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const lines = body === '' ? [] : body.split('\n');
  const totalBytes = Buffer.byteLength(text, 'utf8');
  let kept = lines.length > limits.lines ? lines.slice(-limits.lines).join('\n') : body;
  if (Buffer.byteLength(kept, 'utf8') > limits.bytes) kept = keepLastBytes(kept, limits.bytes);
  return { text: kept, truncated: kept !== body, totalLines: lines.length, totalBytes };
}

/** The last `max` bytes, starting at a whole line when one fits, never inside a multi-byte character. */
function keepLastBytes(text: string, max: number): string {
  const buffer = Buffer.from(text, 'utf8');
  let start = buffer.length - max;
  while (start < buffer.length && (buffer[start]! & 0xc0) === 0x80) start++;
  const tail = buffer.subarray(start).toString('utf8');
  const newline = tail.indexOf('\n');
  return newline >= 0 && newline < tail.length - 1 ? tail.slice(newline + 1) : tail;
}
