import type { RunEvent } from '../run/events.js';

/** A consumer of the executor's event stream that renders it for a person or a program. */
export interface ProgressConsumer {
  handle(event: RunEvent): void;
  /** Flushes what is buffered and stops rendering; resolves once nothing of the display is left running. */
  close(): Promise<void>;
}

/** Writes one chunk of text as is; the consumers end every line they write with a newline. */
export type WriteText = (text: string) => void;
