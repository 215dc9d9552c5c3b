import { MAX_NESTING, exceedsNesting } from '../shared/nesting.js';

/** Reads `a.b[0].c` (or `a.b.0.c`) from parsed JSON; undefined when any part is missing. */
export function readJsonPath(root: unknown, path: string): unknown {
  const parts = path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p !== '' && p !== '$');
  let node: unknown = root;
  for (const part of parts) {
    // Own properties only: `constructor` must not find Object's.
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export function parseJsonOutput(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    const value: unknown = JSON.parse(text);
    // Printing or comparing a deeper value would overflow the stack: a device's output cannot be allowed to.
    if (exceedsNesting(value, false)) return { ok: false, error: `output is JSON nested more than ${MAX_NESTING} levels deep` };
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: `output is not JSON (${(error as Error).message})` };
  }
}
