import { describe, expect, it } from 'vitest';
import { createLimiter } from '../../engine/shared/limiter.js';

// The limiter behind --max-parallel, operator prompts, the SSH handshake cap and snapshot capture.

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('createLimiter', () => {
  it('never runs two tasks at once with a limit of 1, even when a caller arrives as a task ends', async () => {
    const limit = createLimiter(1);
    let active = 0;
    let most = 0;
    const order: string[] = [];
    const task = (name: string, hold: Promise<void>) => async () => {
      active++;
      most = Math.max(most, active);
      order.push(name);
      await hold;
      active--;
    };
    let releaseA!: () => void;
    const a = limit(task('a', new Promise<void>((resolve) => (releaseA = resolve))));
    const b = limit(task('b', tick()));
    await tick();
    // A ends; in the same turn, before B's turn has come, a late caller asks for a slot.
    releaseA();
    await Promise.resolve();
    await Promise.resolve();
    const c = limit(task('c', tick()));
    await Promise.all([a, b, c]);
    expect(most).toBe(1);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('runs up to the limit at once, in the order queued', async () => {
    const limit = createLimiter(2);
    let active = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        limit(async () => {
          active++;
          most = Math.max(most, active);
          order.push(i);
          await tick();
          active--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
