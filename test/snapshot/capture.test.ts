import { describe, expect, it } from 'vitest';
import type { Profile } from '../../engine/schema/snapshot.js';
import { captureSnapshot, type ExecFunction, type ExecResult } from '../../engine/snapshot/capture.js';
import { parseSnapshot, serializeSnapshotText } from '../../engine/snapshot/snapshot-file.js';

const profile: Profile = {
  apiVersion: 'runbook/v1',
  kind: 'Profile',
  metadata: { name: 'mini' },
  defaults: { timeout: '200ms' },
  collectors: [
    {
      element: 'bgp',
      platforms: ['cumulus'],
      command: 'show bgp',
      json: { each: 'peers.{peer}', fields: { vrf: { value: 'default' }, peer: '{peer}', asn: 'remoteAs', state: 'state' } },
    },
    { element: 'node', platforms: ['cumulus'], command: 'show system', json: { fields: { version: 'version', hostname: 'hostname' } } },
    // Same command as node: it must run once per host.
    { element: 'sensor', platforms: ['cumulus'], command: 'show system', json: { each: 'sensors[*]', fields: { kind: 'kind', name: 'name' } } },
    { element: 'lldp', platforms: ['cumulus'], command: 'show lldp', json: { each: '[*]', fields: { ifname: 'ifname', peerHostname: 'peer' } } },
    { element: 'route', platforms: ['cumulus'], command: 'show route', json: { each: '[*]', fields: { vrf: { value: 'default' }, prefix: 'dst' } } },
    { element: 'service', platforms: ['cumulus'], command: 'show services', text: { match: '^(?<name>\\S+) (?<vrf>\\S+)$' } },
  ],
};

const OUTPUTS: Record<string, string> = {
  'show bgp': JSON.stringify({ peers: { swp51: { remoteAs: 65199, state: 'Established' }, swp52: { remoteAs: 65199, state: 'Established' } } }),
  'show system': JSON.stringify({ version: '4.4.0', hostname: 'x', sensors: [{ kind: 'fan', name: 'Fan1' }] }),
  'show lldp': JSON.stringify([{ ifname: 'swp51', peer: 'spine01' }]),
  'show route': JSON.stringify([{ dst: '10.0.0.0/24' }]),
  'show services': 'frr default\nssh mgmt\n',
};

/** The injected I/O boundary: a device that answers from a table, with per-host misbehaviour. */
function fakeExec(misbehave: (host: string, command: string) => Promise<ExecResult> | undefined = () => undefined) {
  const calls: string[] = [];
  const exec: ExecFunction = async (host, command) => {
    calls.push(`${host}: ${command}`);
    const special = misbehave(host, command);
    if (special) return special;
    await new Promise((resolve) => setImmediate(resolve));
    return { stdout: OUTPUTS[command] ?? '', stderr: '', exitCode: OUTPUTS[command] === undefined ? 127 : 0 };
  };
  return { exec, calls };
}

const clock = { now: () => Date.parse('2024-05-01T10:00:00.000Z') };
const hosts = [
  { name: 'leaf01', platform: 'cumulus' },
  { name: 'leaf02', platform: 'cumulus' },
];

describe('captureSnapshot', () => {
  it('collects every element of the profile on every host, records sorted by key and tagged with the host', async () => {
    const { exec, calls } = fakeExec();
    const snapshot = await captureSnapshot({ name: 'pre', profile, hosts, exec, clock, engineVersion: '9.9.9' });
    expect(snapshot).toMatchObject({ kind: 'Snapshot', name: 'pre', createdAt: '2024-05-01T10:00:00.000Z', profile: 'mini', engineVersion: '9.9.9' });
    expect(snapshot.elements.bgp.status).toBe('collected');
    expect(snapshot.elements.bgp.records.map((r) => `${r.host} ${r.peer}`)).toEqual(['leaf01 swp51', 'leaf01 swp52', 'leaf02 swp51', 'leaf02 swp52']);
    expect(snapshot.elements.service.records).toEqual([
      { host: 'leaf01', name: 'frr', vrf: 'default' },
      { host: 'leaf01', name: 'ssh', vrf: 'mgmt' },
      { host: 'leaf02', name: 'frr', vrf: 'default' },
      { host: 'leaf02', name: 'ssh', vrf: 'mgmt' },
    ]);
    expect(snapshot.elements.node.hosts).toEqual({ leaf01: { status: 'collected', records: 1 }, leaf02: { status: 'collected', records: 1 } });
    expect(calls.filter((c) => c === 'leaf01: show system')).toHaveLength(1);
    // Elements the profile does not collect are marked so, never left out or shown empty.
    expect(snapshot.elements.ospf).toMatchObject({ status: 'notCollected', records: [] });
    expect(snapshot.elements.ospf.hosts.leaf01).toEqual({ status: 'notCollected', cause: 'noCollector', reason: 'profile `mini` has no collector of ospf' });
    // What capture produces is what the schema accepts.
    expect(parseSnapshot(serializeSnapshotText(snapshot), 'pre.json')).toEqual(snapshot);
  });

  it('marks an element not collected on the host whose collector failed, timed out or printed garbage, and keeps the rest', async () => {
    const { exec } = fakeExec((host, command) => {
      if (host !== 'leaf02') return undefined;
      if (command === 'show bgp') return Promise.resolve({ stdout: '', stderr: 'vtysh: bgpd is not running\n', exitCode: 1 });
      if (command === 'show lldp') return new Promise<ExecResult>(() => {});
      if (command === 'show route') return Promise.resolve({ stdout: '<html>oops</html>', stderr: '', exitCode: 0 });
      return undefined;
    });
    const snapshot = await captureSnapshot({ name: 'post', profile, hosts, exec, clock });
    expect(snapshot.elements.bgp.status).toBe('partial');
    expect(snapshot.elements.bgp.hosts.leaf02).toEqual({
      status: 'notCollected',
      cause: 'commandFailed',
      reason: '`show bgp` exited with 1: vtysh: bgpd is not running',
    });
    expect(snapshot.elements.bgp.records.every((r) => r.host === 'leaf01')).toBe(true);
    expect(snapshot.elements.bgp.records).toHaveLength(2);
    expect(snapshot.elements.lldp.hosts.leaf02).toEqual({ status: 'notCollected', cause: 'timeout', reason: '`show lldp` did not finish within 200ms' });
    expect(snapshot.elements.route.hosts.leaf02).toMatchObject({ status: 'notCollected', cause: 'unparseable' });
    expect((snapshot.elements.route.hosts.leaf02 as { reason: string }).reason).toMatch(/^output of `show route`: the output is not JSON/);
    // leaf02's other elements are collected.
    expect(snapshot.elements.node.hosts.leaf02).toEqual({ status: 'collected', records: 1 });
    expect(snapshot.elements.service.hosts.leaf02).toEqual({ status: 'collected', records: 2 });
  });

  it('treats a timeout the exec reports itself as a timeout', async () => {
    const { exec } = fakeExec((host, command) =>
      host === 'leaf01' && command === 'show route' ? Promise.resolve({ stdout: '[', stderr: '', exitCode: null, timedOut: true }) : undefined,
    );
    const snapshot = await captureSnapshot({ name: 's', profile, hosts, exec, clock });
    expect(snapshot.elements.route.hosts.leaf01).toMatchObject({ status: 'notCollected', cause: 'timeout' });
  });

  it('stops using a host whose commands cannot be run, and says why for every element', async () => {
    const { exec, calls } = fakeExec((host) => (host === 'leaf02' ? Promise.reject(new Error('leaf02: connection refused')) : undefined));
    const snapshot = await captureSnapshot({ name: 's', profile, hosts, exec, clock });
    expect(snapshot.elements.bgp.hosts.leaf02).toEqual({ status: 'notCollected', cause: 'transportError', reason: 'leaf02: connection refused' });
    expect(snapshot.elements.lldp.hosts.leaf02).toMatchObject({ status: 'notCollected', cause: 'skipped' });
    expect((snapshot.elements.lldp.hosts.leaf02 as { reason: string }).reason).toContain('connection refused');
    expect(calls.filter((c) => c.startsWith('leaf02'))).toEqual(['leaf02: show bgp']);
    expect(snapshot.elements.lldp.hosts.leaf01).toEqual({ status: 'collected', records: 1 });
  });

  it('says which platform a host lacks a collector for', async () => {
    const { exec, calls } = fakeExec();
    const snapshot = await captureSnapshot({ name: 's', profile, hosts: [...hosts, { name: 'nso1', platform: 'nso' }, { name: 'bare' }], exec, clock });
    expect(snapshot.elements.bgp.status).toBe('partial');
    expect(snapshot.elements.bgp.hosts.nso1).toMatchObject({ cause: 'noCollector', reason: 'profile `mini` has no collector of bgp for platform `nso` (only cumulus)' });
    expect(snapshot.elements.bgp.hosts.bare).toMatchObject({ cause: 'noCollector', reason: expect.stringContaining('host has no `platform` in the inventory') });
    expect(calls.some((c) => c.startsWith('nso1') || c.startsWith('bare'))).toBe(false);
  });

  it('collects at most `concurrency` hosts at once', async () => {
    let active = 0;
    let most = 0;
    const exec: ExecFunction = async (_host, command) => {
      active++;
      most = Math.max(most, active);
      await new Promise((resolve) => setImmediate(resolve));
      active--;
      return { stdout: OUTPUTS[command]!, stderr: '', exitCode: 0 };
    };
    const many = Array.from({ length: 7 }, (_, i) => ({ name: `leaf${i}`, platform: 'cumulus' }));
    const snapshot = await captureSnapshot({ name: 's', profile, hosts: many, exec, clock, concurrency: 3 });
    expect(most).toBe(3);
    expect(Object.keys(snapshot.elements.bgp.hosts)).toHaveLength(7);
    expect(snapshot.elements.bgp.records).toHaveLength(14);
  });

  it('refuses a bad name, no hosts, or a host listed twice', async () => {
    const { exec } = fakeExec();
    await expect(captureSnapshot({ name: '../x', profile, hosts, exec })).rejects.toThrow(/not a valid snapshot name/);
    await expect(captureSnapshot({ name: 'x', profile, hosts: [], exec })).rejects.toThrow(/no hosts/);
    await expect(captureSnapshot({ name: 'x', profile, hosts: [hosts[0]!, hosts[0]!], exec })).rejects.toThrow(/listed twice/);
  });
});
