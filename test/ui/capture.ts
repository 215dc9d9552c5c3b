import { Writable } from 'node:stream';

/** Collects what a consumer writes; `until` resolves once the text so far contains a string. */
export interface Capture {
  text(): string;
  until(fragment: string): Promise<void>;
}

function createCapture(): Capture & { push(chunk: string): void; chunks: string[] } {
  const chunks: string[] = [];
  const waiters: Array<{ fragment: string; resolve: () => void }> = [];
  const text = () => chunks.join('');
  return {
    chunks,
    text,
    push(chunk) {
      chunks.push(chunk);
      const all = text();
      for (const waiter of waiters.filter((w) => all.includes(w.fragment))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    },
    until(fragment) {
      return text().includes(fragment) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ fragment, resolve }));
    },
  };
}

export function captureWrites(): Capture & { write: (text: string) => void } {
  const capture = createCapture();
  return { text: capture.text, until: capture.until, write: (text) => capture.push(text) };
}

/** A writable standing in for a terminal (or a pipe when isTTY is false); listr2 writes to it as to process.stdout. */
export function captureStream(isTTY: boolean): Capture & { stream: NodeJS.WriteStream; chunks: string[] } {
  const capture = createCapture();
  const writable = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      capture.push(chunk.toString());
      callback();
    },
  });
  Object.assign(writable, { isTTY, columns: 100, rows: 60 });
  // The consumers take a NodeJS.WriteStream; this Writable has every member listr2 and log-update use.
  return { stream: writable as unknown as NodeJS.WriteStream, chunks: capture.chunks, text: capture.text, until: capture.until };
}

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}
