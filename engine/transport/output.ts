import { StringDecoder } from 'node:string_decoder';
import type { PromptAnswer } from './types.js';

/** Per stream; a runaway command must not exhaust the controller's memory. */
export const DEFAULT_OUTPUT_CAP_BYTES = 4 * 1024 * 1024;

/** Text kept for prompt matching; a prompt is short, the output before it need not be. */
const PROMPT_WINDOW_CHARS = 64 * 1024;

/**
 * Collects one output stream: keeps its last `capBytes` bytes, and hands each complete line to
 * `onLine` as it arrives (a trailing `\r` from a pseudo-terminal is removed).
 */
export class StreamCollector {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;
  private readonly decoder = new StringDecoder('utf8');
  private partialLine = '';

  constructor(
    private readonly capBytes: number,
    private readonly onLine?: (line: string) => void,
  ) {}

  /** Records a chunk and returns it decoded, for prompt matching. */
  push(chunk: Buffer): string {
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.trimToCap();
    const text = this.decoder.write(chunk);
    if (this.onLine) this.emitLines(text);
    return text;
  }

  /** The stream ended: its last line counts even without a newline. */
  end(): void {
    const rest = this.decoder.end();
    if (!this.onLine) return;
    this.emitLines(rest);
    if (this.partialLine !== '') this.onLine(stripCarriageReturn(this.partialLine));
    this.partialLine = '';
  }

  /** Bytes dropped from the start to stay within the cap. */
  get droppedBytes(): number {
    return this.dropped;
  }

  text(): string {
    let buffer = Buffer.concat(this.chunks);
    // The cut may fall inside a multi-byte character: skip its continuation bytes.
    if (this.dropped > 0) {
      let start = 0;
      while (start < buffer.length && start < 4 && ((buffer[start] ?? 0) & 0xc0) === 0x80) start++;
      buffer = buffer.subarray(start);
    }
    return buffer.toString('utf8');
  }

  private trimToCap(): void {
    while (this.size > this.capBytes) {
      const first = this.chunks[0];
      if (first === undefined) return;
      const excess = this.size - this.capBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
        this.dropped += excess;
      }
    }
  }

  private emitLines(text: string): void {
    if (text === '' || !this.onLine) return;
    const parts = (this.partialLine + text).split('\n');
    this.partialLine = parts.pop() ?? '';
    for (const line of parts) this.onLine(stripCarriageReturn(line));
  }
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/**
 * Watches output for prompts and answers them. Only output that arrived after the previous answer is
 * searched, so one occurrence of a prompt is answered once; a prompt shown again is answered again.
 */
export function createPromptResponder(
  answers: readonly PromptAnswer[],
  write: (text: string) => void,
): (text: string) => void {
  let pending = '';
  return (text: string) => {
    pending += text;
    if (pending.length > PROMPT_WINDOW_CHARS) pending = pending.slice(-PROMPT_WINDOW_CHARS);
    for (;;) {
      let earliest: { end: number; index: number; send: string } | undefined;
      for (const { prompt, send } of answers) {
        const match = prompt.exec(pending);
        // An empty match would answer forever without consuming anything.
        const text = match?.groups[0] ?? '';
        if (!match || text.length === 0) continue;
        if (earliest === undefined || match.index < earliest.index) {
          earliest = { index: match.index, end: match.index + text.length, send };
        }
      }
      if (earliest === undefined) return;
      pending = pending.slice(earliest.end);
      write(`${earliest.send}\n`);
    }
  };
}
