import { createHash } from 'node:crypto';

/** JSON with object keys sorted and undefined dropped, so equal content always gives equal text. */
export function toCanonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(sortKeys(value), null, indent);
}

/**
 * The canonical JSON of each defined field of an object, as UTF-8, which `joinCanonicalFields` joins
 * into the object's canonical JSON: a caller that needs it with and without some fields serialises and
 * encodes the rest once. The fields named in `sharing` are maps whose values are often one shared object
 * (hosts with the same steps): each distinct value is serialised and encoded once.
 */
export function toCanonicalFields(value: Record<string, unknown>, sharing: readonly string[] = []): Record<string, Buffer> {
  // No prototype: a `__proto__` field is an ordinary one.
  const fields: Record<string, Buffer> = Object.create(null) as Record<string, Buffer>;
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (item === undefined) continue;
    fields[key] = sharing.includes(key) && isPlainMap(item) ? toCanonicalJsonSharing(item) : Buffer.from(toCanonicalJson(item));
  }
  return fields;
}

/** The object's canonical JSON in UTF-8, and `suffix` after it (a file's final newline, say) in the same copy. */
export function joinCanonicalFields(fields: Record<string, Buffer>, suffix = ''): Buffer {
  return joinMembers(orderKeys(Object.keys(fields)).map((key) => [key, fields[key]!]), suffix);
}

function toCanonicalJsonSharing(map: Record<string, unknown>): Buffer {
  const encoded = new Map<unknown, Buffer>();
  const members: Array<[string, Buffer]> = [];
  for (const key of orderKeys(Object.keys(map))) {
    const item = map[key];
    if (item === undefined) continue;
    let json = encoded.get(item);
    if (json === undefined) {
      json = Buffer.from(toCanonicalJson(item));
      encoded.set(item, json);
    }
    members.push([key, json]);
  }
  return joinMembers(members);
}

/** `{"key":value,...}` from encoded values: one copy into the result, no intermediate strings. */
function joinMembers(members: ReadonlyArray<[string, Buffer]>, suffix = ''): Buffer {
  const chunks: Buffer[] = [OPEN];
  members.forEach(([key, json], i) => chunks.push(Buffer.from(`${i === 0 ? '' : ','}${JSON.stringify(key)}:`), json));
  chunks.push(Buffer.from(`}${suffix}`));
  return Buffer.concat(chunks);
}

const OPEN = Buffer.from('{');

function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype && !('toJSON' in value);
}

/**
 * Keys in the order JSON.stringify writes an object built in sorted order: sorted, except that the engine
 * puts integer-like keys first in numeric order. Joined JSON then equals `toCanonicalJson` to the byte.
 */
function orderKeys(keys: readonly string[]): string[] {
  const ordered: Record<string, true> = Object.create(null) as Record<string, true>;
  for (const key of [...keys].sort()) ordered[key] = true;
  return Object.keys(ordered);
}

/**
 * The value with every object's keys in sorted order. Copy on write: a plain object whose keys are already
 * sorted is kept as it is (JSON.stringify drops its undefined values itself), so a plan built in canonical
 * key order is serialised without being copied, which matters at 10,000 hosts.
 */
function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const sorted = sortKeys(item);
      if (copy === undefined && sorted !== item) copy = value.slice(0, i);
      copy?.push(sorted);
    }
    return copy ?? value;
  }
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  const prototype: unknown = Object.getPrototypeOf(source);
  // Only a plain object without toJSON may be kept: JSON.stringify calls toJSON on what it is given.
  let keep = (prototype === Object.prototype || prototype === null) && !('toJSON' in source);
  for (let i = 1; keep && i < keys.length; i++) keep = keys[i - 1]! < keys[i]!;
  // Values are only collected once a copy is certain (those before it came back unchanged): the common case allocates nothing.
  let values: unknown[] | undefined = keep ? undefined : [];
  for (let i = 0; i < keys.length; i++) {
    const item = source[keys[i]!];
    const sorted = item === undefined ? undefined : sortKeys(item);
    if (values === undefined && sorted !== item) values = keys.slice(0, i).map((key) => source[key]);
    values?.push(sorted);
  }
  if (values === undefined) return source;
  const order = keys.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : 1));
  const copy: Record<string, unknown> = {};
  for (const i of order) {
    const key = keys[i]!;
    if (values[i] === undefined) continue;
    // Defined rather than assigned: `__proto__` stays an ordinary key, as with Object.fromEntries.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: values[i], enumerable: true, writable: true, configurable: true });
    else copy[key] = values[i];
  }
  return copy;
}

export function hashSha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}
