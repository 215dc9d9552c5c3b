import { describe, expect, it } from 'vitest';
import { evaluateDiffAssertions } from '../../engine/snapshot/assertions.js';
import { compareSnapshots } from '../../engine/snapshot/compare.js';
import { bgp, buildSnapshot, route } from './build-snapshot.js';

const routes = (count: number, extra = {}) => Array.from({ length: count }, (_, i) => route('leaf01', `10.0.${i}.0/24`, extra));

const before = buildSnapshot('pre', {
  bgp: [bgp('leaf01', 'swp51', 65101), bgp('leaf01', 'swp52', 65102)],
  lldp: [{ host: 'leaf01', ifname: 'swp51', peerHostname: 'spine01' }],
  route: routes(40),
});

describe('evaluateDiffAssertions', () => {
  it('passes when nothing was removed, added or changed beyond the limits', () => {
    const diff = compareSnapshots(before, buildSnapshot('post', { bgp: before.elements.bgp.records, lldp: before.elements.lldp.records, route: routes(40) }));
    expect(evaluateDiffAssertions(diff, { noRemoved: ['bgp', 'lldp'], noAdded: ['bgp'], maxChanged: { route: '5%' } })).toEqual({ ok: true, failures: [] });
  });

  it('names the removed and added records', () => {
    const after = buildSnapshot('post', {
      bgp: [bgp('leaf01', 'swp52', 65102), bgp('leaf01', 'swp53', 65103)],
      lldp: before.elements.lldp.records,
      route: routes(40),
    });
    const result = evaluateDiffAssertions(compareSnapshots(before, after), { noRemoved: ['bgp', 'lldp'], noAdded: ['bgp'] });
    expect(result).toEqual({
      ok: false,
      failures: ['bgp: 1 record removed: leaf01 vrf default peer swp51 asn 65101', 'bgp: 1 record added: leaf01 vrf default peer swp53 asn 65103'],
    });
  });

  it('limits changed records by percentage of the records before, or by count', () => {
    const after = buildSnapshot('post', {
      bgp: before.elements.bgp.records,
      lldp: before.elements.lldp.records,
      route: routes(40).map((r, i) => (i < 3 ? { ...r, metric: 20 } : r)),
    });
    const diff = compareSnapshots(before, after);
    expect(evaluateDiffAssertions(diff, { maxChanged: { route: '10%' } }).ok).toBe(true);
    expect(evaluateDiffAssertions(diff, { maxChanged: { route: 3 } }).ok).toBe(true);
    expect(evaluateDiffAssertions(diff, { maxChanged: { route: 2 } }).failures).toEqual([
      'route: 3 records changed (7.5% of 40 before), more than the 2 allowed: leaf01 vrf default prefix 10.0.0.0/24 (metric); leaf01 vrf default prefix 10.0.1.0/24 (metric); leaf01 vrf default prefix 10.0.2.0/24 (metric)',
    ]);
    expect(evaluateDiffAssertions(diff, { maxChanged: { route: '5%' } }).failures[0]).toMatch(/^route: 3 records changed \(7\.5% of 40 before\), more than the 5% \(2 records\) allowed/);
  });

  it('fails an assertion on an element that was not collected, rather than passing it vacuously', () => {
    const after = buildSnapshot('post', { route: routes(40) }, { notCollected: { bgp: { leaf01: 'timeout', leaf02: 'timeout' }, lldp: { leaf02: 'exit 1' } } });
    const result = evaluateDiffAssertions(compareSnapshots(before, after), { noRemoved: ['bgp', 'lldp'] });
    expect(result.ok).toBe(false);
    expect(result.failures[0]).toMatch(/^bgp: not collected, so `noRemoved` cannot be checked \(leaf01: not collected after: timeout; leaf02: /);
    expect(result.failures[1]).toMatch(/^lldp: not compared on every host, so `noRemoved` cannot be checked \(leaf02: not collected after: exit 1\)/);
  });

  it('fails on duplicate keys and on elements left out of the comparison', () => {
    const after = buildSnapshot('post', { bgp: [...before.elements.bgp.records, bgp('leaf01', 'swp51', 65101)], route: routes(40) });
    const diff = compareSnapshots(before, after, { elements: ['bgp'] });
    const result = evaluateDiffAssertions(diff, { noRemoved: ['bgp', 'lldp'] });
    expect(result.failures).toEqual([
      'bgp: 1 identity key held by several records, so `noRemoved` cannot be checked: leaf01 vrf default peer swp51 asn 65101 2 times after',
      'lldp: not part of the comparison, so `noRemoved` cannot be checked',
    ]);
  });

  it('lists at most five records and counts the rest', () => {
    const after = buildSnapshot('post', { bgp: before.elements.bgp.records, lldp: before.elements.lldp.records, route: [] });
    const [failure] = evaluateDiffAssertions(compareSnapshots(before, after), { noRemoved: ['route'] }).failures;
    expect(failure).toMatch(/^route: 40 records removed: (leaf01 vrf default prefix [^;]+; ){5}and 35 more$/);
  });
});
