import { setTimeout as delay } from 'node:timers/promises';

/** Time as the executor sees it; tests pass a controllable one. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    try {
      await delay(ms, undefined, { signal });
    } catch (error) {
      // An aborted sleep just ends early; the caller checks the signal.
      if ((error as Error).name !== 'AbortError') throw error;
    }
  },
};

/** A clock whose sleeps return at once and advance its time: retries and polls without waiting. */
export function createManualClock(start = 0): Clock {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
}
