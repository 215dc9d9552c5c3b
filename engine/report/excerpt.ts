import type { OutputExcerpt } from '../schema/report.js';
import { formatKeptOutput, parseKeptOutput } from '../shared/kept-output.js';

export interface OutputLimits {
  /** Most lines kept of each output (the last ones). */
  lines: number;
  /** Most UTF-8 bytes kept of each output (the last ones). */
  bytes: number;
}

export const DEFAULT_OUTPUT_LIMITS: OutputLimits = { lines: 40, bytes: 4096 };

/** Of an output the executor cut, the share of the limits given to its first lines. */
const HEAD_SHARE = 1 / 4;

/**
 * The tail of an output within the limits; of an output the executor cut (its first and last part
 * kept), the first lines and the last, around the line counting what was dropped. The caller redacts
 * first, so a cut never leaves half a secret showing.
 */
export function excerptOutput(text: string, limits: OutputLimits = DEFAULT_OUTPUT_LIMITS): OutputExcerpt {
  const cut = parseKeptOutput(text);
  if (cut.droppedBytes > 0) return excerptKeptOutput(text, cut.head, cut.droppedBytes, cut.tail, limits);
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const lines = body === '' ? [] : body.split('\n');
  const totalBytes = Buffer.byteLength(text, 'utf8');
  let kept = lines.length > limits.lines ? lines.slice(-limits.lines).join('\n') : body;
  if (Buffer.byteLength(kept, 'utf8') > limits.bytes) kept = keepLastBytes(kept, limits.bytes);
  return { text: kept, truncated: kept !== body, totalLines: lines.length, totalBytes };
}

function excerptKeptOutput(text: string, headText: string, droppedBytes: number, tailText: string, limits: OutputLimits): OutputExcerpt {
  const headLimits = { lines: Math.max(1, Math.floor(limits.lines * HEAD_SHARE)), bytes: Math.floor(limits.bytes * HEAD_SHARE) };
  const tailLimits = { lines: Math.max(1, limits.lines - headLimits.lines - 1), bytes: limits.bytes - headLimits.bytes };
  const headLines = (headText.endsWith('\n') ? headText.slice(0, -1) : headText).split('\n');
  let head = headLines.slice(0, headLimits.lines).join('\n');
  if (Buffer.byteLength(head, 'utf8') > headLimits.bytes) head = keepFirstBytes(head, headLimits.bytes);
  const tail = excerptOutput(tailText, tailLimits).text;
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return {
    text: formatKeptOutput({ head: head === '' ? '' : `${head}\n`, droppedBytes, tail }),
    truncated: true,
    totalLines: body.split('\n').length,
    totalBytes: Buffer.byteLength(text, 'utf8'),
    droppedBytes,
  };
}

/** The first `max` bytes, ending at a whole line when one fits, never inside a multi-byte character. */
function keepFirstBytes(text: string, max: number): string {
  const buffer = Buffer.from(text, 'utf8');
  let end = max;
  while (end > 0 && (buffer[end]! & 0xc0) === 0x80) end--;
  const head = buffer.subarray(0, end).toString('utf8');
  const newline = head.lastIndexOf('\n');
  return newline > 0 ? head.slice(0, newline) : head;
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
