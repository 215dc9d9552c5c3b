import pLimit from 'p-limit';

/**
 * Runs at most `limit` tasks at once, strictly in the order they were queued (p-limit): a caller
 * arriving as a task ends waits behind those already queued.
 */
export function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  const limiter = pLimit(limit);
  return (task) => limiter(task);
}
