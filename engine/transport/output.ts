import { StringDecoder } from 'node:string_decoder';
import { formatDroppedMarker } from '../shared/kept-output.js';
import type { PromptAnswer } from './types.js';

/**
 * Kept per stream of a running command, what expectations, captures and snapshot parsers read; a
 * runaway command must not exhaust the controller's memory (two streams of every host at once).
 */
export const DEFAULT_OUTPUT_CAP_BYTES = 2 * 1024 * 1024;

/** Of the kept bytes, the share kept from the start; the rest is the end, what explains a failure. */
const HEAD_SHARE = 1 / 4;

/** Text kept for prompt matching; a prompt is short, the output before it need not be. */
const PROMPT_WINDOW_CHARS = 64 * 1024;

/**
 * Collects one output stream within `capBytes`: its first bytes and its last, counting what it drops
 * between; and hands the text to `onText` as it arrives. Memory stays bounded however long the stream,
 * with or without line ends.
 */
export class StreamCollector {
  private readonly head: Buffer[] = [];
  private headSize = 0;
  private readonly tail: TailBuffer;
  private readonly headCap: number;
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    capBytes: number,
    private readonly onText?: (text: string) => void,
  ) {
    this.headCap = Math.floor(capBytes * HEAD_SHARE);
    this.tail = new TailBuffer(capBytes - this.headCap);
  }

  /** Records a chunk and returns it decoded, for prompt matching. */
  push(chunk: Buffer): string {
    let rest = chunk;
    if (this.headSize < this.headCap) {
      // A copy: the chunk may be a view of a larger buffer, which must not be kept alive.
      const taken = Buffer.from(rest.subarray(0, this.headCap - this.headSize));
      this.head.push(taken);
      this.headSize += taken.length;
      rest = rest.subarray(taken.length);
    }
    if (rest.length > 0) this.tail.push(rest);
    const text = this.decoder.write(chunk);
    if (text !== '') this.onText?.(text);
    return text;
  }

  /** The stream ended: a character cut off at its end is decoded as a replacement. */
  end(): void {
    const rest = this.decoder.end();
    if (rest !== '') this.onText?.(rest);
  }

  /** Bytes dropped between the first and the last part to stay within the cap. */
  get droppedBytes(): number {
    return this.tail.dropped;
  }

  /** The stream as kept: whole, or its first and last part around a marker line counting what was dropped. */
  text(): string {
    const head = Buffer.concat(this.head);
    const tail = this.tail.parts();
    // Decoded from one buffer: one flat string, copied once.
    if (this.tail.dropped === 0) return Buffer.concat([head, ...tail]).toString('utf8');
    // The cuts may fall inside multi-byte characters: those bytes count as dropped.
    const headEnd = completeCharactersEnd(head);
    const tailStart = continuationBytesAt(Buffer.concat(tail.map((part) => part.subarray(0, 4))));
    const lastHeadByte = headEnd === 0 ? '' : String.fromCharCode(head[headEnd - 1]!);
    const marker = formatDroppedMarker(this.tail.dropped + (head.length - headEnd) + tailStart, lastHeadByte);
    return Buffer.concat([head.subarray(0, headEnd), Buffer.from(marker), ...skipBytes(tail, tailStart)]).toString('utf8');
  }
}

/** `parts` without their first `count` bytes. */
function skipBytes(parts: readonly Buffer[], count: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = count;
  for (const part of parts) {
    out.push(part.subarray(Math.min(skip, part.length)));
    skip -= Math.min(skip, part.length);
  }
  return out;
}

/**
 * The last `cap` bytes of a stream. Chunks are kept as they come until the cap is first reached,
 * then copied into one ring: a flood then allocates nothing that lives on, which would otherwise
 * pile up as garbage faster than the collector frees it.
 */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private ring: Buffer | undefined;
  /** Where the next byte goes in the ring, which is full once it exists. */
  private next = 0;
  dropped = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    if (this.cap === 0) {
      this.dropped += chunk.length;
      return;
    }
    if (this.ring) return this.writeRing(chunk);
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size <= this.cap) return;
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    this.dropped += all.length - this.cap;
    this.ring = Buffer.from(all.subarray(all.length - this.cap));
    this.next = 0;
  }

  /** The kept bytes, oldest first, in pieces. */
  parts(): Buffer[] {
    if (!this.ring) return this.chunks;
    return [this.ring.subarray(this.next), this.ring.subarray(0, this.next)];
  }

  private writeRing(chunk: Buffer): void {
    const ring = this.ring!;
    // Only the last `cap` bytes of the chunk can stay.
    const kept = chunk.length > ring.length ? chunk.subarray(chunk.length - ring.length) : chunk;
    this.dropped += chunk.length;
    const first = Math.min(kept.length, ring.length - this.next);
    kept.copy(ring, this.next, 0, first);
    kept.copy(ring, 0, first);
    this.next = (this.next + kept.length) % ring.length;
  }
}

/** Where the last complete UTF-8 character of `bytes` ends. */
function completeCharactersEnd(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

/** How many continuation bytes (the end of a character cut off) start `bytes`. */
function continuationBytesAt(bytes: Buffer): number {
  let start = 0;
  while (start < bytes.length && start < 4 && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  return start;
}

/**
 * Watches output for prompts and answers them. Only output that arrived after the previous answer is
 * searched, so one occurrence of a prompt is answered once; a prompt shown again is answered again.
 *
 * When several rules match, the most specific answers: the one that is more specific than each of the
 * others, a rule being more specific than another when its match contains the other's and it does not
 * match the other's text on its own (it needs everything the other needs, and more). When no rule is,
 * nothing is typed: `onAmbiguous` is told why, once, and nothing more is answered.
 */
export function createPromptResponder(
  answers: readonly PromptAnswer[],
  write: (text: string) => void,
  onAmbiguous?: (problem: string) => void,
): (text: string) => void {
  let pending = '';
  let stopped = false;
  return (text: string) => {
    if (stopped) return;
    pending += text;
    if (pending.length > PROMPT_WINDOW_CHARS) pending = pending.slice(-PROMPT_WINDOW_CHARS);
    for (;;) {
      const candidates = findCandidates(answers, pending);
      if (candidates.length === 0) return;
      const winner = candidates.find((candidate) => candidates.every((other) => other === candidate || isMoreSpecific(answers, candidate, other)));
      if (winner === undefined) {
        stopped = true;
        onAmbiguous?.(describeAmbiguity(answers, candidates, pending));
        return;
      }
      pending = pending.slice(winner.end);
      write(`${answers[winner.rule]!.send}\n`);
    }
  };
}

interface Candidate {
  rule: number;
  start: number;
  end: number;
  text: string;
}

/** Each rule's leftmost match; an empty match would answer forever without consuming anything. */
function findCandidates(answers: readonly PromptAnswer[], pending: string): Candidate[] {
  const candidates: Candidate[] = [];
  answers.forEach(({ prompt }, rule) => {
    const match = prompt.exec(pending);
    const text = match?.groups[0] ?? '';
    if (match && text.length > 0) candidates.push({ rule, start: match.index, end: match.index + text.length, text });
  });
  return candidates;
}

function isMoreSpecific(answers: readonly PromptAnswer[], candidate: Candidate, other: Candidate): boolean {
  const contains = candidate.start <= other.start && other.end <= candidate.end;
  return contains && answers[candidate.rule]!.prompt.exec(other.text) === null;
}

function describeAmbiguity(answers: readonly PromptAnswer[], candidates: readonly Candidate[], pending: string): string {
  const rules = candidates.map(({ rule }) => `answer[${rule}] /${answers[rule]!.prompt.source}/`);
  // From the start of the line: the words before the first match say which question it is.
  const start = pending.lastIndexOf('\n', Math.min(...candidates.map((c) => c.start))) + 1;
  const end = Math.max(...candidates.map((c) => c.end));
  const prompt = pending.slice(start, end);
  const shown = prompt.length > 200 ? `…${prompt.slice(-200)}` : prompt;
  return (
    `the prompt ${JSON.stringify(shown)} is matched by ${rules.slice(0, -1).join(', ')} and ${rules.at(-1)}, and none is more specific than the others ` +
    '(its match containing theirs and needing more than they do): nothing was typed and the command was stopped; ' +
    'make the rule meant for this prompt match the whole question, or remove the others'
  );
}
