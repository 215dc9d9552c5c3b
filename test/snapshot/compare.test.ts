import { describe, expect, it } from 'vitest';
import { RunbookError } from '../../engine/errors.js';
import { compareSnapshots, isWithinTolerance, parseToleranceRule } from '../../engine/snapshot/compare.js';
import { bgp, buildSnapshot, route } from './build-snapshot.js';

const before = buildSnapshot(
  'pre',
  {
    bgp: [bgp('leaf01', 'swp51', 65199), bgp('leaf01', 'swp52', 65199), bgp('leaf02', 'swp51', 65199)],
    route: [route('leaf01', '10.10.10.1/32'), route('leaf01', '10.10.10.2/32')],
  },
  { createdAt: '2024-05-01T10:00:00.000Z' },
);

describe('compareSnapshots', () => {
  it('reports added, removed and changed records per element, with counts before and after', () => {
    const after = buildSnapshot('post', {
      bgp: [
        bgp('leaf01', 'swp51', 65199, { state: 'Idle', prefixesReceived: 0 }),
        bgp('leaf02', 'swp51', 65199),
        bgp('leaf02', 'swp53', 65199),
      ],
      route: [route('leaf01', '10.10.10.1/32'), route('leaf01', '10.10.10.2/32')],
    });
    const diff = compareSnapshots(before, after);
    const d = diff.elements.bgp!;
    expect(d.status).toBe('compared');
    expect(d.counts).toMatchObject({ before: 3, after: 3, added: 1, removed: 1, changed: 1, unchanged: 1 });
    expect(d.added.map((r) => `${r.host} ${r.peer}`)).toEqual(['leaf02 swp53']);
    expect(d.removed.map((r) => `${r.host} ${r.peer}`)).toEqual(['leaf01 swp52']);
    expect(d.changed).toEqual([
      {
        key: { host: 'leaf01', vrf: 'default', peer: 'swp51', asn: 65199 },
        fields: [
          { field: 'state', before: 'Established', after: 'Idle' },
          { field: 'prefixesReceived', before: 10, after: 0 },
        ],
      },
    ]);
    expect(diff.elements.route!.counts).toMatchObject({ before: 2, after: 2, added: 0, removed: 0, changed: 0 });
    expect(diff.totals).toMatchObject({ added: 1, removed: 1, changed: 1, notCollected: [] });
    expect(diff.before).toEqual({ name: 'pre', createdAt: '2024-05-01T10:00:00.000Z' });
    expect(diff.after.name).toBe('post');
  });

  it('matches by identity key, whatever the order of the records', () => {
    const shuffled = buildSnapshot('post', {
      bgp: [...before.elements.bgp.records].reverse(),
      route: [...before.elements.route.records].reverse(),
    });
    const diff = compareSnapshots(before, shuffled);
    for (const d of Object.values(diff.elements)) expect(d.counts).toMatchObject({ added: 0, removed: 0, changed: 0 });
    expect(diff.elements.bgp!.counts.unchanged).toBe(3);
  });

  it('treats a different value of a key field as a different record, not a change', () => {
    const after = buildSnapshot('post', { bgp: [bgp('leaf01', 'swp51', 65100), bgp('leaf01', 'swp52', 65199), bgp('leaf02', 'swp51', 65199)] });
    const d = compareSnapshots(before, after, { elements: ['bgp'] }).elements.bgp!;
    expect(d.counts).toMatchObject({ added: 1, removed: 1, changed: 0 });
    expect(d.added[0]).toMatchObject({ peer: 'swp51', asn: 65100 });
    expect(d.removed[0]).toMatchObject({ peer: 'swp51', asn: 65199 });
  });

  it('leaves volatile fields out by default and compares them with defaultExclusions off', () => {
    const after = buildSnapshot('post', {
      bgp: before.elements.bgp.records.map((r) => ({ ...r, uptime: 5, messagesReceived: 7 })),
    });
    const quiet = compareSnapshots(before, after, { elements: ['bgp'] }).elements.bgp!;
    expect(quiet.counts.changed).toBe(0);
    expect(quiet.excluded).toEqual(expect.arrayContaining(['uptime', 'messagesReceived']));
    const loud = compareSnapshots(before, after, { elements: ['bgp'], defaultExclusions: false }).elements.bgp!;
    expect(loud.counts.changed).toBe(3);
    expect(loud.excluded).toEqual([]);
    expect(loud.changed[0]!.fields.map((f) => f.field)).toEqual(['uptime', 'messagesReceived']);
  });

  it('extends the exclusions by field or element.field', () => {
    const after = buildSnapshot('post', {
      bgp: before.elements.bgp.records.map((r) => ({ ...r, state: 'Active' })),
      route: before.elements.route.records.map((r) => ({ ...r, metric: 20 })),
    });
    expect(compareSnapshots(before, after).totals.changed).toBe(5);
    const scoped = compareSnapshots(before, after, { exclude: ['bgp.state'] });
    expect(scoped.elements.bgp!.counts.changed).toBe(0);
    expect(scoped.elements.route!.counts.changed).toBe(2);
    const everywhere = compareSnapshots(before, after, { exclude: ['state', 'metric'] });
    expect(everywhere.totals.changed).toBe(0);
    expect(everywhere.elements.route!.excluded).toContain('metric');
  });

  it('refuses an unknown or key field in the exclusions, with a suggestion', () => {
    expect(() => compareSnapshots(before, before, { exclude: ['bgp.stat'] })).toThrow(/`stat` is not a field of `bgp`; did you mean `state`\?/);
    expect(() => compareSnapshots(before, before, { exclude: ['bpg.state'] })).toThrow(/did you mean `bgp`/);
    expect(() => compareSnapshots(before, before, { exclude: ['bgp.peer'] })).toThrow(/identity key/);
    try {
      compareSnapshots(before, before, { exclude: ['nonsense'] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RunbookError);
      expect((error as RunbookError).exitCode).toBe(2);
    }
  });

  it('applies numeric tolerances per element field, by direction', () => {
    const after = buildSnapshot('post', {
      bgp: [
        bgp('leaf01', 'swp51', 65199, { prefixesReceived: 11 }),
        bgp('leaf01', 'swp52', 65199, { prefixesReceived: 8 }),
        bgp('leaf02', 'swp51', 65199, { prefixesReceived: 10 }),
      ],
    });
    const changedWith = (rules: string | string[]) =>
      compareSnapshots(before, after, { elements: ['bgp'], tolerances: { 'bgp.prefixesReceived': rules } }).elements.bgp!;
    expect(changedWith('10%').changed.map((c) => c.key.peer)).toEqual(['swp52']);
    expect(changedWith('10%').counts.tolerated).toBe(1);
    expect(changedWith('20%').counts).toMatchObject({ changed: 0, tolerated: 2 });
    expect(changedWith('+1').changed.map((c) => c.key.peer)).toEqual(['swp52']);
    expect(changedWith('-20%').changed.map((c) => c.key.peer)).toEqual(['swp51']);
    expect(changedWith(['+1', '-2']).counts.changed).toBe(0);
  });

  it('parses tolerance rules and refuses malformed ones or ones on text fields', () => {
    expect(parseToleranceRule('10%')).toMatchObject({ increase: true, decrease: true, amount: 10, relative: true });
    expect(parseToleranceRule('+5')).toMatchObject({ increase: true, decrease: false, amount: 5, relative: false });
    expect(parseToleranceRule('-5%')).toMatchObject({ increase: false, decrease: true, relative: true });
    expect(parseToleranceRule('±2')).toMatchObject({ increase: true, decrease: true, amount: 2 });
    expect(isWithinTolerance(100, 110, [parseToleranceRule('10%')])).toBe(true);
    expect(isWithinTolerance(100, 111, [parseToleranceRule('10%')])).toBe(false);
    expect(isWithinTolerance(0, 1, [parseToleranceRule('50%')])).toBe(false);
    expect(() => parseToleranceRule('ten')).toThrow(/not a rule/);
    expect(() => compareSnapshots(before, before, { tolerances: { 'bgp.state': '10%' } })).toThrow(/not a number/);
  });

  it('reports duplicate identity keys instead of merging them', () => {
    const dup = bgp('leaf01', 'swp51', 65199, { state: 'Idle' });
    const withDuplicates = buildSnapshot('post', { bgp: [...before.elements.bgp.records, dup] });
    const d = compareSnapshots(before, withDuplicates, { elements: ['bgp'] }).elements.bgp!;
    expect(d.duplicates).toEqual([{ side: 'after', key: { host: 'leaf01', vrf: 'default', peer: 'swp51', asn: 65199 }, count: 2 }]);
    expect(d.counts).toMatchObject({ added: 0, removed: 0, changed: 0 });
    const reverse = compareSnapshots(withDuplicates, before, { elements: ['bgp'] }).elements.bgp!;
    expect(reverse.duplicates).toEqual([{ side: 'before', key: { host: 'leaf01', vrf: 'default', peer: 'swp51', asn: 65199 }, count: 2 }]);
    expect(reverse.counts).toMatchObject({ added: 0, removed: 0, changed: 0 });
  });

  it('never shows an element not collected after as all removed', () => {
    const after = buildSnapshot('post', {}, { notCollected: { bgp: { leaf01: 'ssh timeout', leaf02: 'ssh timeout' } } });
    const d = compareSnapshots(before, after).elements.bgp!;
    expect(d.status).toBe('notCollected');
    expect(d.counts).toMatchObject({ before: null, after: null, added: 0, removed: 0, changed: 0 });
    expect(d.removed).toEqual([]);
    expect(d.notCompared.map((n) => n.host)).toEqual(['leaf01', 'leaf02']);
    expect(d.notCompared[0]!.reason).toContain('not collected after: ssh timeout');
  });

  it('compares the other hosts when one host was not collected, and lists that host', () => {
    const after = buildSnapshot(
      'post',
      { bgp: [bgp('leaf01', 'swp51', 65199, { state: 'Idle' }), bgp('leaf01', 'swp52', 65199)] },
      { notCollected: { bgp: { leaf02: 'exit 1' } } },
    );
    const d = compareSnapshots(before, after).elements.bgp!;
    expect(d.status).toBe('partial');
    expect(d.counts).toMatchObject({ before: 2, after: 2, removed: 0, added: 0, changed: 1 });
    expect(d.notCompared).toEqual([{ host: 'leaf02', reason: 'not collected after: exit 1' }]);
  });

  it('does not count the records of a host absent from one snapshot', () => {
    const after = buildSnapshot('post', { bgp: [bgp('leaf01', 'swp51', 65199), bgp('leaf01', 'swp52', 65199)] }, { hosts: ['leaf01'] });
    const d = compareSnapshots(before, after).elements.bgp!;
    expect(d.status).toBe('partial');
    expect(d.counts.removed).toBe(0);
    expect(d.notCompared).toEqual([{ host: 'leaf02', reason: 'not in snapshot `post` (after)' }]);
  });

  it('compares list fields by content', () => {
    const after = buildSnapshot('post', {
      route: [route('leaf01', '10.10.10.1/32'), route('leaf01', '10.10.10.2/32', { nexthops: ['via fe80::1 dev swp51'] })],
    });
    const d = compareSnapshots(before, after, { elements: ['route'] }).elements.route!;
    expect(d.changed).toEqual([
      {
        key: { host: 'leaf01', vrf: 'default', prefix: '10.10.10.2/32' },
        fields: [{ field: 'nexthops', before: ['via fe80::1 dev swp51', 'via fe80::2 dev swp52'], after: ['via fe80::1 dev swp51'] }],
      },
    ]);
  });

  it('reports a field present on one side only, with null for the missing value', () => {
    const after = buildSnapshot('post', { route: [route('leaf01', '10.10.10.1/32', { distance: 20 }), route('leaf01', '10.10.10.2/32')] });
    const d = compareSnapshots(before, after, { elements: ['route'] }).elements.route!;
    expect(d.changed[0]!.fields).toEqual([{ field: 'distance', before: null, after: 20 }]);
  });
});
