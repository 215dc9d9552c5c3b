/** Polls `probe` until it returns a value; gives up (throwing `what`) after `limitMs`. Never a timing assertion: a bound on a wait. */
export async function waitFor<T>(probe: () => T | undefined, what: string, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
