import type { RunEvent } from '../run/events.js';
import type { ProgressConsumer, WriteText } from './progress.js';

export interface JsonProgressOptions {
  write: WriteText;
}

/** `--format json`: every event exactly as the executor emitted it, one JSON object per line. */
export function createJsonProgress(options: JsonProgressOptions): ProgressConsumer {
  let closed = false;
  return {
    handle(event: RunEvent) {
      if (!closed) options.write(`${JSON.stringify(event)}\n`);
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}
