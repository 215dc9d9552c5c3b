import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../engine/load/diagnostic.js';
import { ELEMENT_TYPES } from '../../engine/snapshot/element-model.js';
import { MappingError, compileProfile, loadProfile, type CompiledCollector } from '../../engine/snapshot/profile.js';

const root = join(import.meta.dirname, '..', '..');

/** A profile with one collector, from YAML text, compiled. */
function collectorFrom(yaml: string): CompiledCollector {
  const text = `apiVersion: runbook/v1\nkind: Profile\nmetadata: { name: t }\ncollectors:\n${yaml}`;
  const loaded = loadProfile('t.yaml', text);
  if (!loaded.ok) throw new Error(loaded.diagnostics.map(formatDiagnostic).join('\n'));
  return loaded.compiled.collectors[0]!;
}

function problemsOf(yaml: string): string[] {
  const loaded = loadProfile('t.yaml', `apiVersion: runbook/v1\nkind: Profile\nmetadata: { name: t }\ncollectors:\n${yaml}`);
  expect(loaded.ok).toBe(false);
  return loaded.diagnostics.map(formatDiagnostic);
}

// `show bgp vrf all summary json` of FRR: VRFs and peers are map keys, the local AS sits above the peers.
const FRR_BGP = JSON.stringify({
  default: {
    ipv4Unicast: {
      routerId: '10.10.10.1',
      as: 65101,
      peers: {
        swp51: { remoteAs: 65199, state: 'Established', pfxRcd: 12, peerUptimeMsec: 3_600_500, hostname: 'spine01' },
        swp52: { remoteAs: 65199, state: 'Active', peerUptimeMsec: 1_000 },
      },
    },
  },
  blue: { ipv4Unicast: { routerId: '10.10.10.1', as: 65101, peers: { '10.1.1.1': { remoteAs: '65300', state: 'Established', pfxRcd: 3 } } } },
});

describe('JSON mapping', () => {
  const bgp = collectorFrom(`
  - element: bgp
    command: show bgp vrf all summary json
    json:
      each: '{vrf}.ipv4Unicast.peers.{peer}'
      fields:
        vrf: '{vrf}'
        peer: '{peer}'
        asn: remoteAs
        state: state
        localAsn: $.{vrf}.ipv4Unicast.as
        prefixesReceived: pfxRcd
        peerHostname: { path: hostname, default: unknown }
        uptime: { path: peerUptimeMsec, scale: 0.001 }
`);

  it('iterates map keys, binds them, reads from the root with bound keys, and coerces by field type', () => {
    expect(bgp.parse(FRR_BGP)).toEqual([
      { vrf: 'default', peer: 'swp51', asn: 65199, state: 'Established', localAsn: 65101, prefixesReceived: 12, peerHostname: 'spine01', uptime: 3600 },
      { vrf: 'default', peer: 'swp52', asn: 65199, state: 'Active', localAsn: 65101, peerHostname: 'unknown', uptime: 1 },
      { vrf: 'blue', peer: '10.1.1.1', asn: 65300, state: 'Established', localAsn: 65101, prefixesReceived: 3, peerHostname: 'unknown' },
    ]);
  });

  it('refuses output that is not JSON, a record without its key, or a value of the wrong type', () => {
    expect(() => bgp.parse('% BGP instance not found')).toThrow(MappingError);
    expect(() => bgp.parse('')).toThrow(/empty/);
    expect(() => bgp.parse(JSON.stringify({ default: { ipv4Unicast: { peers: { swp51: { state: 'Idle' } } } } }))).toThrow(
      /item vrf=default peer=swp51: key field\(s\) `asn` found nothing/,
    );
    expect(() => bgp.parse(JSON.stringify({ default: { ipv4Unicast: { peers: { swp51: { remoteAs: 'external' } } } } }))).toThrow(
      /field `asn`: `external` is not an integer/,
    );
  });

  it('binds array indexes to read a parent, as ip -j addr needs', () => {
    const address = collectorFrom(`
  - element: address
    command: ip -j addr show
    json:
      each: '[{i}].addr_info[*]'
      fields:
        ifname: '$[{i}].ifname'
        prefix: local
        mask: prefixlen
        family: { path: family, map: { inet: ipv4, inet6: ipv6 } }
`);
    const output = JSON.stringify([
      { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }, { family: 'inet6', local: '::1', prefixlen: 128 }] },
      { ifname: 'swp1', addr_info: [] },
      { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.200.31', prefixlen: 24 }] },
    ]);
    expect(address.parse(output)).toEqual([
      { ifname: 'lo', prefix: '127.0.0.1', mask: 8, family: 'ipv4' },
      { ifname: 'lo', prefix: '::1', mask: 128, family: 'ipv6' },
      { ifname: 'eth0', prefix: '192.168.200.31', mask: 24, family: 'ipv4' },
    ]);
  });

  it('builds list values with format, optional sections and path alternatives, and filters with where', () => {
    const route = collectorFrom(`
  - element: route
    command: ip -j route show
    json:
      each: '[*]'
      where: { type: { exists: false }, protocol: [bgp, kernel] }
      fields:
        vrf: { value: default }
        prefix: { path: dst, map: { default: 0.0.0.0/0 } }
        protocol: protocol
        nexthops: { path: ['nexthops[*]', '@'], format: '[via {gateway} ]dev {dev}' }
`);
    const output = JSON.stringify([
      { dst: '10.10.10.101', gateway: '169.254.0.1', dev: 'swp51', protocol: 'bgp' },
      { dst: '10.10.10.3', protocol: 'bgp', nexthops: [{ gateway: '169.254.0.1', dev: 'swp52' }, { gateway: '169.254.0.1', dev: 'swp51' }] },
      { dst: '10.1.10.0/24', dev: 'vlan10', protocol: 'kernel' },
      { dst: 'default', dev: 'eth0', protocol: 'static' },
      { type: 'unreachable', dst: 'default', protocol: 'bgp' },
    ]);
    expect(route.parse(output)).toEqual([
      { vrf: 'default', prefix: '10.10.10.101', protocol: 'bgp', nexthops: ['via 169.254.0.1 dev swp51'] },
      { vrf: 'default', prefix: '10.10.10.3', protocol: 'bgp', nexthops: ['via 169.254.0.1 dev swp51', 'via 169.254.0.1 dev swp52'] },
      { vrf: 'default', prefix: '10.1.10.0/24', protocol: 'kernel', nexthops: ['dev vlan10'] },
    ]);
  });

  it('binds keys inside a field path for format, and maps with a catch-all', () => {
    const clag = collectorFrom(`
  - element: clag
    command: net show clag json
    json:
      each: status
      where: { sysMac: { exists: true } }
      fields:
        sysmac: sysMac
        peerAlive: { path: peerState, map: { up: true, '*': false } }
        bonds: { path: '$.clagIntfs.{bond}', format: '{bond}:{clagId}' }
`);
    const output = { clagIntfs: { bond2: { clagId: 2 }, bond1: { clagId: 1 } }, status: { sysMac: '44:38:39:ff:00:01', peerState: 'down' } };
    expect(clag.parse(JSON.stringify(output))).toEqual([{ sysmac: '44:38:39:ff:00:01', peerAlive: false, bonds: ['bond1:1', 'bond2:2'] }]);
    expect(clag.parse(JSON.stringify({ clagIntfs: {}, status: {} }))).toEqual([]);
  });

  it('reads a whole output as one record when there is no each, and a scalar picked by regex from a list', () => {
    const link = collectorFrom(`
  - element: link
    command: ip -j -d link show
    json:
      each: '[*]'
      fields:
        ifname: ifname
        kind: { path: linkinfo.info_kind, default: device }
        adminUp: { path: 'flags[*]', regex: '^UP$', map: { UP: true }, default: false }
`);
    const output = JSON.stringify([
      { ifname: 'swp1', flags: ['BROADCAST', 'UP', 'LOWER_UP'] },
      { ifname: 'bond1', flags: ['BROADCAST', 'LOWER_UP'], linkinfo: { info_kind: 'bond' } },
    ]);
    expect(link.parse(output)).toEqual([
      { ifname: 'swp1', kind: 'device', adminUp: true },
      { ifname: 'bond1', kind: 'bond', adminUp: false },
    ]);
    const node = collectorFrom(`
  - element: node
    command: net show system json
    json:
      fields: { version: version, memoryKb: memoryKb, uptime: uptimeSeconds }
`);
    expect(node.parse('{"version":"4.4.0","memoryKb":"1945736","uptimeSeconds":12}')).toEqual([{ version: '4.4.0', memoryKb: 1945736, uptime: 12 }]);
  });
});

describe('text mapping', () => {
  const services = collectorFrom(`
  - element: service
    command: systemctl list-unit-files --type=service --no-legend
    text:
      match: '^(?<name>[\\w@.-]+?)(@(?<vrf>\\w+))?\\.service\\s+(?<state>\\S+)'
      ignore: '^UNIT FILE|unit files listed'
      fields:
        vrf: { path: '{vrf}', default: default }
        enabled: { path: '{state}', map: { enabled: true, '*': false } }
`);

  it('maps named groups per line, with defaults and translations, skipping ignored and unmatched lines', () => {
    const output = ['UNIT FILE              STATE', 'frr.service            enabled', 'ssh@mgmt.service       enabled', 'rsync.service          disabled', '', 'something else', '3 unit files listed.'].join('\n');
    expect(services.parse(output)).toEqual([
      { name: 'frr', vrf: 'default', enabled: true },
      { name: 'ssh', vrf: 'mgmt', enabled: true },
      { name: 'rsync', vrf: 'default', enabled: false },
    ]);
  });

  it('takes named groups in both RE2 spellings, `(?P<name>...)` and `(?<name>...)`', () => {
    const lldp = collectorFrom(`
  - element: lldp
    command: lldpctl
    text: { match: '^(?P<ifname>\\S+)\\s+(?<peerHostname>\\S+)' }
`);
    expect(lldp.parse('swp51 spine01\nswp52 spine02\n')).toEqual([
      { ifname: 'swp51', peerHostname: 'spine01' },
      { ifname: 'swp52', peerHostname: 'spine02' },
    ]);
  });

  it('refuses a line that matches nothing when strict, and splits lists', () => {
    const strict = collectorFrom(`
  - element: interface
    command: show vlans
    text:
      match: '^(?<ifname>\\S+)\\s+(?<mtu>\\d+)\\s+(?<vlans>\\S*)$'
      strict: true
      fields:
        vlans: { path: '{vlans}', split: ',' }
`);
    expect(strict.parse('swp1 9216 10,20\nswp2 1500 \n')).toEqual([
      { ifname: 'swp1', mtu: 9216, vlans: ['10', '20'] },
      { ifname: 'swp2', mtu: 1500, vlans: [] },
    ]);
    expect(() => strict.parse('swp1 9216 10\n%% error: busy\n')).toThrow(/line 2 matches neither `match` nor `ignore`/);
  });
});

describe('profile loading', () => {
  it('ships a fabric profile that loads cleanly and collects all thirteen elements on cumulus', () => {
    const loaded = loadProfile('profiles/fabric.yaml', readFileSync(join(root, 'profiles', 'fabric.yaml'), 'utf8'));
    expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const covered = new Set(loaded.compiled.collectors.filter((c) => c.platforms?.includes('cumulus')).map((c) => c.element));
    expect([...covered].sort()).toEqual([...ELEMENT_TYPES].sort());
  });

  it('reports an unknown field with a suggestion at its position', () => {
    const problems = problemsOf(`
  - element: bgp
    command: x
    json:
      each: '{peer}'
      fields: { vrf: v, peer: '{peer}', asn: a, stat: s }
`);
    expect(problems).toEqual([expect.stringMatching(/^t\.yaml:10:49: error RB1101 `stat` is not a field of `bgp`; did you mean `state`\?/)]);
  });

  it('reports unmapped key fields, unbound names, bad paths and bad regular expressions', () => {
    const problems = problemsOf(`
  - element: bgp
    command: x
    json:
      each: '{peer}'
      fields: { vrf: '{vrff}', peer: 'a..b', state: { path: x, regex: '(' } }
  - element: lldp
    command: y
    text: { match: '^(?<name>\\S+)' }
`);
    expect(problems.join('\n')).toMatch(/RB1102 the collector of `bgp` does not map the key field\(s\) `asn`/);
    expect(problems.join('\n')).toMatch(/`\{vrff\}` is not bound by `each`; bound: \{peer\}/);
    expect(problems.join('\n')).toMatch(/path `a\.\.b`: empty segment/);
    expect(problems.join('\n')).toMatch(/RB1205 missing closing \): `\(`; fix the regular expression \(patterns use the RE2 dialect\)/);
    expect(problems.join('\n')).toMatch(/the collector of `lldp` does not map the key field\(s\) `ifname`/);
  });

  it('refuses, at its position, a regex construct the linear-time engine does not have', () => {
    const problems = problemsOf(`
  - element: lldp
    command: y
    text: { match: '^(?<ifname>\\S+)(?!x)', ignore: '^(\\w)\\1' }
`);
    expect(problems).toEqual([
      expect.stringMatching(/^t\.yaml:8:20: error RB1214 negative lookahead `\(\?!` is not supported: patterns use the RE2 dialect/),
      expect.stringMatching(/^t\.yaml:8:52: error RB1214 backreference `\\1` is not supported: patterns use the RE2 dialect/),
    ]);
  });

  it('reports an unknown element through the schema, and a collector with both or neither of json and text', () => {
    expect(problemsOf(`
  - element: bpg
    command: x
    json: { fields: {} }
`).join('\n')).toMatch(/did you mean `bgp`\?/);
    expect(problemsOf(`
  - element: node
    command: x
`).join('\n')).toMatch(/needs exactly one of `json` or `text`/);
  });

  it('refuses a several-valued path for a one-valued field', () => {
    expect(problemsOf(`
  - element: node
    command: x
    json: { fields: { version: 'versions[*]' } }
`).join('\n')).toMatch(/field `version`: the path can find several values/);
  });

  it('compiles a profile given as a value and refuses an invalid one as bad input', () => {
    const compiled = compileProfile({
      apiVersion: 'runbook/v1',
      kind: 'Profile',
      metadata: { name: 'p' },
      defaults: { timeout: '5s' },
      collectors: [{ element: 'node', command: 'uname -a', timeout: '2m', text: { match: '^(?<hostname>\\S+)' } }],
    });
    expect(compiled.collectors[0]).toMatchObject({ element: 'node', command: 'uname -a', timeoutMs: 120_000 });
    expect(() =>
      compileProfile({ apiVersion: 'runbook/v1', kind: 'Profile', metadata: { name: 'p' }, collectors: [{ element: 'node', command: 'x' }] }),
    ).toThrow(/profile `p` is invalid: collectors\.0: collector of `node` needs exactly one/);
  });
});
