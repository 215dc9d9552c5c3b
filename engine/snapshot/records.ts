import type { ElementRecord } from './element-model.js';

/**
 * Records by identity key in a hash table held in typed arrays: no key string is built per record,
 * so indexing a million records makes no garbage (building and hashing joined key strings cost
 * twice as much per record at 1M records as at 100k, mostly in allocation and GC).
 */
export class KeyIndex {
  private heads: Int32Array;
  private next: Int32Array;
  private hashes: Uint32Array;
  private readonly records: ElementRecord[] = [];
  private mask: number;

  constructor(
    private readonly fields: readonly string[],
    expected = 16,
  ) {
    const buckets = nextPowerOfTwo(Math.max(16, expected * 2));
    this.heads = new Int32Array(buckets).fill(-1);
    this.mask = buckets - 1;
    this.next = new Int32Array(Math.max(16, expected));
    this.hashes = new Uint32Array(this.next.length);
  }

  get size(): number {
    return this.records.length;
  }

  record(id: number): ElementRecord {
    return this.records[id]!;
  }

  /** The id of the record with the same key as `record`, or -1. */
  find(record: ElementRecord): number {
    return this.findHashed(record, hashKey(record, this.fields));
  }

  /** Adds `record` and returns its id, unless a record with its key is there: then returns that one's id, negated minus one. */
  add(record: ElementRecord): number {
    const hash = hashKey(record, this.fields);
    const existing = this.findHashed(record, hash);
    if (existing >= 0) return -existing - 1;
    const id = this.records.length;
    if (id === this.next.length) this.growEntries();
    this.records.push(record);
    this.hashes[id] = hash;
    const bucket = hash & this.mask;
    this.next[id] = this.heads[bucket]!;
    this.heads[bucket] = id;
    if (this.records.length * 2 > this.heads.length) this.growBuckets();
    return id;
  }

  private findHashed(record: ElementRecord, hash: number): number {
    for (let id = this.heads[hash & this.mask]!; id >= 0; id = this.next[id]!) {
      if (this.hashes[id] === hash && isSameKey(this.records[id]!, record, this.fields)) return id;
    }
    return -1;
  }

  private growEntries(): void {
    const next = new Int32Array(this.next.length * 2);
    next.set(this.next);
    this.next = next;
    const hashes = new Uint32Array(this.hashes.length * 2);
    hashes.set(this.hashes);
    this.hashes = hashes;
  }

  private growBuckets(): void {
    const buckets = this.heads.length * 2;
    this.heads = new Int32Array(buckets).fill(-1);
    this.mask = buckets - 1;
    for (let id = 0; id < this.records.length; id++) {
      const bucket = this.hashes[id]! & this.mask;
      this.next[id] = this.heads[bucket]!;
      this.heads[bucket] = id;
    }
  }
}

function nextPowerOfTwo(value: number): number {
  let power = 1;
  while (power < value) power *= 2;
  return power;
}

function isSameKey(a: ElementRecord, b: ElementRecord, fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (a[field] !== b[field]) return false;
  }
  return true;
}

/** FNV-1a over the key fields' text; integers are mixed in as numbers, without making a string. */
export function hashKey(record: ElementRecord, fields: readonly string[]): number {
  let hash = 0x811c9dc5;
  for (let f = 0; f < fields.length; f++) {
    const value = record[fields[f]!];
    if (typeof value === 'string') {
      for (let i = 0; i < value.length; i++) hash = Math.imul(hash ^ value.charCodeAt(i), 0x01000193);
    } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
      hash = Math.imul(hash ^ (value | 0), 0x01000193);
      hash = Math.imul(hash ^ Math.floor(value / 0x100000000), 0x01000193);
    } else {
      const text = String(value);
      for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    }
    hash = Math.imul(hash ^ 0x1f, 0x01000193);
  }
  return hash >>> 0;
}

/** Orders records by their key fields: numbers numerically, text by code unit, so files sort the same everywhere. */
export function compareRecordKeys(fields: readonly string[]): (x: ElementRecord, y: ElementRecord) => number {
  return (x, y) => {
    for (const field of fields) {
      const a = x[field];
      const b = y[field];
      if (a === b) continue;
      if (typeof a === 'number' && typeof b === 'number') return a - b;
      const sa = String(a);
      const sb = String(b);
      if (sa !== sb) return sa < sb ? -1 : 1;
    }
    return 0;
  };
}

export function pickFields(record: ElementRecord, fields: readonly string[]): ElementRecord {
  const out: ElementRecord = {};
  for (const field of fields) {
    const value = record[field];
    if (value !== undefined) out[field] = value;
  }
  return out;
}
