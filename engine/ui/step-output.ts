import type { RunEvent, StepRecord } from '../run/events.js';
import { stripControl } from './ansi.js';

/** How much of a failed step's output is shown: the end is where the error usually is. */
export const OUTPUT_TAIL_LINES = 40;

export interface OutputLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface OutputTail {
  lines: OutputLine[];
  /** Lines before the tail that are not shown. */
  omitted: number;
}

type OutputEvent = Extract<RunEvent, { type: 'output' }>;

interface Buffered {
  lines: OutputLine[];
  dropped: number;
}

/**
 * Keeps the last lines of each running step's output, so they can be shown if the step fails and
 * dropped if it succeeds. Memory stays bounded however much a step prints.
 */
export interface StepOutputBuffer {
  /** A step (or a new attempt of it) started: only the output of the last attempt is kept. */
  begin(host: string, stepId: string): void;
  add(event: OutputEvent): void;
  /** Ends the step: returns its tail, from the output events or else from the record, and forgets it. */
  take(host: string, record: StepRecord): OutputTail;
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines.map(stripControl);
}

function tailOf(lines: OutputLine[], dropped: number, limit: number): OutputTail {
  const start = Math.max(0, lines.length - limit);
  return { lines: lines.slice(start), omitted: dropped + start };
}

export function createStepOutputBuffer(limit = OUTPUT_TAIL_LINES): StepOutputBuffer {
  const buffers = new Map<string, Buffered>();
  const keyOf = (host: string, stepId: string) => `${host}\u0000${stepId}`;
  return {
    begin(host, stepId) {
      buffers.set(keyOf(host, stepId), { lines: [], dropped: 0 });
    },
    add(event) {
      const key = keyOf(event.host, event.stepId);
      const buffered = buffers.get(key) ?? { lines: [], dropped: 0 };
      buffers.set(key, buffered);
      // One event is one line, possibly empty; a stray newline inside it still starts a new line.
      for (const text of event.line.replace(/\r?\n$/, '').split(/\r?\n/)) buffered.lines.push({ stream: event.stream, text: stripControl(text) });
      const excess = buffered.lines.length - limit;
      if (excess > 0) {
        buffered.lines.splice(0, excess);
        buffered.dropped += excess;
      }
    },
    take(host, record) {
      const key = keyOf(host, record.id);
      const buffered = buffers.get(key);
      buffers.delete(key);
      // Output events keep stdout and stderr interleaved as they came; the record is the fallback.
      if (buffered && buffered.lines.length > 0) return tailOf(buffered.lines, buffered.dropped, limit);
      const lines: OutputLine[] = [
        ...splitLines(record.stdout).map((text) => ({ stream: 'stdout' as const, text })),
        ...splitLines(record.stderr).map((text) => ({ stream: 'stderr' as const, text })),
      ];
      return tailOf(lines, 0, limit);
    },
  };
}

/** The tail as indented lines (without newlines); stderr lines are marked so they stand out without colour. */
export function formatOutputTail(tail: OutputTail, indent: string): string[] {
  const lines: string[] = [];
  if (tail.omitted > 0) lines.push(`${indent}... ${tail.omitted} earlier line${tail.omitted === 1 ? '' : 's'} not shown`);
  for (const line of tail.lines) lines.push(`${indent}${line.stream === 'stderr' ? 'err' : 'out'} | ${line.text}`);
  return lines;
}
