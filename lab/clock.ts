/** Time source of the simulator, injectable so tests can drive it. */
export interface Clock {
  now(): number;
  /** Runs `task` after `delayMs`; the returned function cancels it. */
  schedule(delayMs: number, task: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(delayMs, task) {
    const timer = setTimeout(task, delayMs);
    return () => clearTimeout(timer);
  },
};

/** The timers one lab has pending, so that stop() cancels every one of them. */
export class Timers {
  private readonly pending = new Set<() => void>();

  constructor(readonly clock: Clock) {}

  after(delayMs: number, task: () => void): () => void {
    const cancel = this.clock.schedule(delayMs, () => {
      this.pending.delete(cancel);
      task();
    });
    this.pending.add(cancel);
    return () => {
      this.pending.delete(cancel);
      cancel();
    };
  }

  /** Resolves true after `delayMs`, or false as soon as `signal` aborts. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve(false);
      const onAbort = (): void => {
        cancel();
        resolve(false);
      };
      const cancel = this.after(delayMs, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  cancelAll(): void {
    for (const cancel of [...this.pending]) cancel();
    this.pending.clear();
  }
}
