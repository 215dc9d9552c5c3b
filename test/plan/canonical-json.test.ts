import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { joinCanonicalFields, toCanonicalFields, toCanonicalJson } from '../../engine/plan/canonical-json.js';

// Keys that JavaScript orders specially (integer-like ones go first), or that are special on objects.
// Any UTF-16 units, lone surrogates too: the joined JSON is UTF-8, and must decode to the very same text.
const key = fc.oneof(fc.string({ maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 4 }), fc.constantFrom('0', '1', '9', '10', '010', '-1', '4294967295', '__proto__', 'toString', 'é', 'Z', 'a'));
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.string({ unit: 'binary' }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.constant(undefined), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 5, noNullPrototype: true }),
})).object;

function countOf(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops undefined', () => {
    expect(toCanonicalJson({ b: 1, a: { d: undefined, c: [{ z: 1, y: 2 }] } })).toBe('{"a":{"c":[{"y":2,"z":1}]},"b":1}');
  });

  it('joined from its fields, with any of them serialised as a shared map, is the canonical JSON to the byte', () => {
    fc.assert(
      fc.property(json, fc.array(key, { maxLength: 3 }), (value, sharing) => {
        expect(joinCanonicalFields(toCanonicalFields(value, sharing)).toString('utf8')).toBe(toCanonicalJson(value));
      }),
      { numRuns: 500 },
    );
  });

  it('serialises a map of one shared value once per key, in canonical key order', () => {
    const shared = { steps: [{ id: 'install', command: 'onie-install' }], prechecks: [] };
    const hosts = { leaf10: shared, leaf9: shared, '10': shared, '9': { prechecks: [], steps: [] } };
    const joined = joinCanonicalFields(toCanonicalFields({ hostPlans: hosts, kind: 'Plan' }, ['hostPlans'])).toString('utf8');
    expect(joined).toBe(toCanonicalJson({ hostPlans: hosts, kind: 'Plan' }));
    expect(countOf(joined, '"command":"onie-install"')).toBe(3);
    expect(Object.keys((JSON.parse(joined) as { hostPlans: object }).hostPlans)).toEqual(['9', '10', 'leaf10', 'leaf9']);
  });
});
