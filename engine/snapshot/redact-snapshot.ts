import type { Snapshot } from '../schema/snapshot.js';

/**
 * A snapshot with `redact` applied to every text in it, keys included: records hold what a device
 * printed, and a device may print a secret the run knows (a key in its configuration). Redacting a
 * before and an after snapshot alike keeps them comparable.
 */
export function redactSnapshot(snapshot: Snapshot, redact: (text: string) => string): Snapshot {
  return redactValue(snapshot, redact) as Snapshot;
}

function redactValue(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, redact));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [redact(key), redactValue(item, redact)]));
  }
  return value;
}
