// What is kept of a long command output: its first and its last part, and between them one marker
// line counting the bytes dropped. The transport writes it, a step record cuts it further, the
// report reads the count back.

export interface KeptOutput {
  head: string;
  /** Bytes (as the command wrote them) between `head` and `tail` that were not kept. */
  droppedBytes: number;
  tail: string;
}

const MARKER = /(?:^|\n)\[… (\d+) bytes dropped …\]\n/;
const LINE_END = /\r\n|\r|\n/;

/** The marker line that goes between a head and a tail, with the line end before it when the head lacks one. */
export function formatDroppedMarker(droppedBytes: number, head: string): string {
  const separator = head === '' || head.endsWith('\n') ? '' : '\n';
  return `${separator}[… ${droppedBytes} bytes dropped …]\n`;
}

export function formatKeptOutput({ head, droppedBytes, tail }: KeptOutput): string {
  return droppedBytes === 0 ? head + tail : head + formatDroppedMarker(droppedBytes, head) + tail;
}

/** The parts of a text `formatKeptOutput` made; a text without a marker is all head. */
export function parseKeptOutput(text: string): KeptOutput {
  const found = MARKER.exec(text);
  if (!found) return { head: text, droppedBytes: 0, tail: '' };
  const start = found.index + (found[0].startsWith('\n') ? 1 : 0);
  return { head: text.slice(0, start), droppedBytes: Number(found[1]), tail: text.slice(found.index + found[0].length) };
}

/**
 * The first `headBytes` and last `tailBytes` of an output (itself possibly already cut), for display:
 * cuts fall on line ends where the part holds one (a secret never spans lines, so none is cut in
 * half to escape redaction), and `\r` ends a line as `\n` does, so progress bars read as lines.
 */
export function keepHeadAndTail(text: string, headBytes: number, tailBytes: number): string {
  const kept = parseKeptOutput(text);
  const whole = kept.droppedBytes === 0;
  if (whole && Buffer.byteLength(text, 'utf8') <= headBytes + tailBytes) return normalizeLineEnds(text);
  const head = firstBytes(kept.head, headBytes);
  const rest = whole ? kept.head.slice(head.length) : kept.tail;
  const tail = lastBytes(rest, tailBytes);
  const before = Buffer.byteLength(kept.head, 'utf8') + Buffer.byteLength(kept.tail, 'utf8');
  const cut = before - Buffer.byteLength(head, 'utf8') - Buffer.byteLength(tail, 'utf8');
  return formatKeptOutput({ head: normalizeLineEnds(head), droppedBytes: kept.droppedBytes + cut, tail: normalizeLineEnds(tail) });
}

export function normalizeLineEnds(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

/** The longest start of `text` within `max` UTF-8 bytes, ending after a line end when it holds one. */
function firstBytes(text: string, max: number): string {
  let part = text.slice(0, max);
  while (Buffer.byteLength(part, 'utf8') > max) part = part.slice(0, part.length - Math.ceil((Buffer.byteLength(part, 'utf8') - max) / 3));
  if (part.length === text.length || isLineEnd(text[part.length])) return part;
  const end = Math.max(part.lastIndexOf('\n'), part.lastIndexOf('\r'));
  if (end >= 0) return part.slice(0, end + 1);
  // No line end at all: cut where the budget ends, but not inside a surrogate pair.
  return /[\uD800-\uDBFF]$/.test(part) ? part.slice(0, -1) : part;
}

/** The longest end of `text` within `max` UTF-8 bytes, starting after a line end when it holds one. */
function lastBytes(text: string, max: number): string {
  let part = max === 0 ? '' : text.slice(-max);
  while (Buffer.byteLength(part, 'utf8') > max) part = part.slice(Math.ceil((Buffer.byteLength(part, 'utf8') - max) / 3));
  const before = text[text.length - part.length - 1];
  if (before === '\r' && part.startsWith('\n')) return part.slice(1);
  if (part.length === text.length || isLineEnd(before)) return part;
  const found = LINE_END.exec(part);
  if (found && found.index + found[0].length < part.length) return part.slice(found.index + found[0].length);
  return /^[\uDC00-\uDFFF]/.test(part) ? part.slice(1) : part;
}

const isLineEnd = (char: string | undefined) => char === '\n' || char === '\r';
