// What the journal (and the `--format json` stream, and the progress display) gets of a step's
// output: lines gathered into one `output` event per short interval or batch size, and per stream
// only the first and the last part; what lies between is counted, not sent. `\n`, `\r\n` and a lone
// `\r` each end a line, so a progress bar redrawn with `\r` reads as lines.

export type OutputStream = 'stdout' | 'stderr';

export interface OutputBudgetLimits {
  /** Per stream: bytes of lines sent as they come. */
  headBytes: number;
  /** Per stream: bytes of the last lines, held and sent when the attempt ends. */
  tailBytes: number;
  /** An event is sent once this many bytes are pending... */
  batchBytes: number;
  /** ...or this long after its first line arrived. */
  batchMs: number;
}

export const OUTPUT_EVENT_LIMITS: OutputBudgetLimits = { headBytes: 32 * 1024, tailBytes: 32 * 1024, batchBytes: 8 * 1024, batchMs: 250 };

export interface OutputBudget {
  /** Output text as it arrives, in pieces that need not end at line ends. */
  write(stream: OutputStream, text: string): void;
  /** The attempt ended: sends what is pending, then the count of what was not sent and the last lines. */
  finish(): void;
}

/** `send` gets one or more lines joined by `\n`. */
export function createOutputBudget(send: (stream: OutputStream, text: string) => void, limits: OutputBudgetLimits = OUTPUT_EVENT_LIMITS): OutputBudget {
  const streams = new Map<OutputStream, StreamBudget>();
  return {
    write(stream, text) {
      let budget = streams.get(stream);
      if (!budget) {
        budget = new StreamBudget(limits, (lines) => send(stream, lines));
        streams.set(stream, budget);
      }
      budget.write(text);
    },
    finish() {
      for (const budget of streams.values()) budget.finish();
      streams.clear();
    },
  };
}

const LINE_END = /\r\n|\r|\n/g;

/**
 * One stream. Until the head budget is spent, text is cut into lines and sent in batches; after it,
 * only the last `tailBytes` of text are held, in the pieces they came in, and the line ends of what
 * falls out are counted: a flood of any size allocates nothing per line and keeps nothing alive long.
 */
class StreamBudget {
  private headUsed = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;
  /** The previous text ended with `\r`: a `\n` starting the next belongs to the same line end. */
  private afterCarriageReturn = false;
  private tail: string[] | undefined;
  private tailChars = 0;
  private droppedLines = 0;
  private droppedBytes = 0;

  constructor(
    private readonly limits: OutputBudgetLimits,
    private readonly send: (text: string) => void,
  ) {}

  write(input: string): void {
    const text = this.afterCarriageReturn && input.startsWith('\n') ? input.slice(1) : input;
    this.afterCarriageReturn = input.endsWith('\r');
    if (this.tail) return this.hold(text);
    LINE_END.lastIndex = 0;
    let start = 0;
    for (let found = LINE_END.exec(text); found; found = LINE_END.exec(text)) {
      const line = this.partial + text.slice(start, found.index);
      if (!this.take(line)) return this.hold(`${line}\n${text.slice(found.index + found[0].length)}`);
      this.partial = '';
      start = found.index + found[0].length;
    }
    this.partial += text.slice(start);
    // A line longer than what is left of the head: the head is spent.
    if (this.headUsed + Buffer.byteLength(this.partial, 'utf8') > this.limits.headBytes) {
      const partial = this.partial;
      this.partial = '';
      this.hold(partial);
    }
  }

  finish(): void {
    if (!this.tail && this.partial !== '') this.take(this.partial);
    this.flush();
    if (!this.tail) return;
    const lines = this.lastLines();
    if (this.droppedLines > 0 || this.droppedBytes > 0) {
      this.send(`[… ${this.droppedLines} lines (${this.droppedBytes} bytes) of output not shown …]`);
    }
    for (const line of lines) this.queue(line);
    this.flush();
  }

  /** Queues a line of the head; false when it does not fit what is left of it. */
  private take(line: string): boolean {
    const bytes = Buffer.byteLength(line, 'utf8') + 1;
    if (this.headUsed + bytes > this.limits.headBytes) return false;
    this.headUsed += bytes;
    this.queue(line);
    return true;
  }

  private queue(line: string): void {
    this.pending.push(line);
    this.pendingBytes += Buffer.byteLength(line, 'utf8') + 1;
    if (this.pendingBytes >= this.limits.batchBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.limits.batchMs).unref();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.join('\n');
    this.pending = [];
    this.pendingBytes = 0;
    this.send(text);
  }

  /** Past the head: keeps the text's last `tailBytes`, counting what falls out. */
  private hold(text: string): void {
    if (!this.tail) {
      this.flush();
      this.tail = [];
    }
    this.tail.push(text);
    this.tailChars += text.length;
    // A character is at least one byte: `tailBytes` characters hold at least `tailBytes` bytes.
    while (this.tail.length > 1 && this.tailChars - this.tail[0]!.length >= this.limits.tailBytes) this.drop(this.tail.shift()!);
  }

  private drop(text: string): void {
    this.tailChars -= text.length;
    this.droppedBytes += Buffer.byteLength(text, 'utf8');
    this.droppedLines += countLineEnds(text);
  }

  /** The held text's last lines within `tailBytes`, the first of them whole; the rest counted as dropped. */
  private lastLines(): string[] {
    let text = this.tail!.join('');
    this.tail = [];
    const excess = Buffer.byteLength(text, 'utf8') - this.limits.tailBytes;
    if (excess > 0) {
      // Drop at least `excess` bytes (as many characters are at least as many bytes), up to the next line end.
      let cut = Math.min(text.length, excess);
      LINE_END.lastIndex = cut;
      const found = LINE_END.exec(text);
      if (found) cut = found.index + found[0].length;
      this.drop(text.slice(0, cut));
      text = text.slice(cut);
    }
    const lines = text.split(/\r\n|\r|\n/);
    // The last line end closes the last line; it does not open an empty one.
    if (lines.at(-1) === '') lines.pop();
    return lines;
  }
}

/** Line ends in `text`; `\r\n` counts once. Allocates nothing, however many. */
function countLineEnds(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  for (let i = text.indexOf('\r'); i >= 0; i = text.indexOf('\r', i + 1)) if (text.charCodeAt(i + 1) !== 10) count++;
  return count;
}
