import { Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProfile } from '../../engine/io/snapshot-store.js';
import type { Snapshot } from '../../engine/schema/snapshot.js';
import { captureSnapshot, type ExecFunction } from '../../engine/snapshot/capture.js';
import { compareSnapshots } from '../../engine/snapshot/compare.js';
import { ELEMENT_TYPES } from '../../engine/snapshot/element-model.js';
import { parseSnapshot, serializeSnapshotText } from '../../engine/snapshot/snapshot-file.js';
import { IMAGE_STORE_URL, startLab, type Lab } from '../../lab/index.js';
import { getFile, putFile, run, until } from '../helpers/ssh-client.js';

/** A small exec over real SSH: one connection per host, opened on first use; nothing checked but the password. */
function createSshExec(lab: Lab): { exec: ExecFunction; close(): void } {
  const connections = new Map<string, Promise<Client>>();
  const connect = (host: string) =>
    new Promise<Client>((resolve, reject) => {
      const device = lab.device(host);
      const client = new Client();
      client.on('ready', () => resolve(client)).on('error', reject);
      client.connect({ host: device.address, port: device.port, username: 'lab', password: 'lab-password', readyTimeout: 20_000 });
    });
  const exec: ExecFunction = async (host, command) => {
    if (!connections.has(host)) connections.set(host, connect(host));
    const client = await connections.get(host)!;
    return new Promise((resolve, reject) => {
      client.exec(command, (error, stream) => {
        if (error) return reject(error);
        let stdout = '';
        let stderr = '';
        stream.on('data', (data: Buffer) => (stdout += data.toString()));
        stream.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
        stream.on('close', (code: number | null) => resolve({ stdout, stderr, exitCode: code ?? null }));
      });
    });
  };
  const close = () => {
    for (const connection of connections.values()) connection.then((c) => c.end(), () => undefined);
  };
  return { exec, close };
}

const fabric = readProfile('fabric');
const targets = [
  { name: 'spine01', platform: 'cumulus' },
  { name: 'leaf01', platform: 'cumulus' },
];

async function snapshotLab(lab: Lab, name: string): Promise<Snapshot> {
  const ssh = createSshExec(lab);
  try {
    return await captureSnapshot({ name, profile: fabric, hosts: targets, exec: ssh.exec });
  } finally {
    ssh.close();
  }
}

describe('snapshots of the embedded lab over SSH', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ topology: { spines: 2, leaves: 2, storageNodes: 0, nso: false, chassis: false }, timings: { rebootDelayMs: 300 } });
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('collects all thirteen elements from two switches with the shipped fabric profile', async () => {
    const snapshot = await snapshotLab(lab, 'lab-pre');
    for (const type of ELEMENT_TYPES) {
      expect({ type, hosts: snapshot.elements[type].hosts }).toEqual({
        type,
        hosts: { spine01: expect.objectContaining({ status: 'collected' }), leaf01: expect.objectContaining({ status: 'collected' }) },
      });
    }
    const bgp = snapshot.elements.bgp.records;
    expect(bgp).toContainEqual(expect.objectContaining({ host: 'leaf01', vrf: 'default', peer: 'swp51', asn: 65199, state: 'Established', peerHostname: 'spine01' }));
    expect(bgp).toContainEqual(expect.objectContaining({ host: 'spine01', peer: 'swp1', asn: 65101, state: 'Established' }));
    expect(snapshot.elements.lldp.records).toContainEqual(expect.objectContaining({ host: 'spine01', ifname: 'swp1', peerHostname: 'leaf01', peerIfname: 'swp51' }));
    expect(snapshot.elements.interface.records).toContainEqual(expect.objectContaining({ host: 'leaf01', ifname: 'swp51', operState: 'up', mtu: 9216 }));
    expect(snapshot.elements.route.records).toContainEqual(
      expect.objectContaining({ host: 'leaf01', vrf: 'default', prefix: '10.10.10.101', protocol: 'bgp', nexthops: ['via 169.254.0.1 dev swp51'] }),
    );
    expect(snapshot.elements.clag.records).toEqual([expect.objectContaining({ host: 'leaf01', sysmac: '44:38:39:ff:00:01', role: 'primary', peerAlive: true })]);
    expect(snapshot.elements.node.records).toContainEqual(expect.objectContaining({ host: 'leaf01', version: '4.3.0' }));
    // Every link kind the document lists for the Links element, as the leaf reports them.
    const kinds = new Set(snapshot.elements.link.records.filter((r) => r.host === 'leaf01').map((r) => r.kind));
    expect([...kinds].sort()).toEqual(['bond', 'bridge', 'eth', 'loopback', 'macvlan', 'swp', 'vlan', 'vrf', 'vxlan']);
    expect(snapshot.elements.link.records).toContainEqual(expect.objectContaining({ host: 'leaf01', ifname: 'peerlink.4094', kind: 'vlan' }));
    // Routes of both VRFs.
    expect(new Set(snapshot.elements.route.records.map((r) => r.vrf))).toEqual(new Set(['default', 'mgmt']));
    expect(parseSnapshot(serializeSnapshotText(snapshot), 'lab-pre.json')).toEqual(snapshot);
  });

  it('shows an upgrade of a leaf as the changes a real one makes, and nothing else', async () => {
    const before = await snapshotLab(lab, 'lab-before');
    // As the document's upgrade job does it: back up, install (a fresh install), restore.
    const leaf01 = { host: lab.device('leaf01').address, port: lab.device('leaf01').port };
    expect((await run(leaf01, 'tar czf /var/backups/pre.tgz /etc/network /etc/frr /etc/hostname /etc/systemd')).code).toBe(0);
    const backup = await getFile(leaf01, '/var/backups/pre.tgz');
    const ssh = createSshExec(lab);
    const install = await ssh.exec('leaf01', `onie-install -a -i ${IMAGE_STORE_URL}/cumulus-linux-4.4.0-bcm-amd64.bin && reboot`, { timeoutMs: 10_000 });
    ssh.close();
    expect(install.exitCode).toBe(0);
    await waitUntilVersion(lab, 'leaf01', '4.4.0');
    await putFile(leaf01, '/var/backups/pre.tgz', backup);
    const restore = await run(leaf01, 'tar xzf /var/backups/pre.tgz -C / && hostname -F /etc/hostname && ifreload -a && systemctl restart frr');
    expect(restore.code, restore.stderr).toBe(0);
    await until(async () => {
      const summary = await run(leaf01, 'net show bgp summary json');
      return (JSON.parse(summary.stdout) as { ipv4Unicast?: { failedPeers: number } }).ipv4Unicast?.failedPeers === 0;
    });
    const after = await snapshotLab(lab, 'lab-after');
    const diff = compareSnapshots(before, after);
    expect(diff.totals).toMatchObject({ added: 0, removed: 0, notCollected: [] });
    const changes = Object.entries(diff.elements).flatMap(([type, d]) =>
      d.changed.flatMap((c) => c.fields.map((f) => `${type} ${c.key.host} ${f.field}: ${String(f.before)} -> ${String(f.after)}`)),
    );
    expect(changes).toContain('node leaf01 version: 4.3.0 -> 4.4.0');
    expect(changes.filter((c) => c.startsWith('lldp spine01 '))).toEqual([
      expect.stringMatching(/^lldp spine01 peerPlatform: Cumulus Linux version 4\.3\.0 .* -> Cumulus Linux version 4\.4\.0 /),
    ]);
    expect(changes.filter((c) => !c.startsWith('node leaf01 version') && !c.startsWith('lldp spine01 peerPlatform'))).toEqual([]);
  });
});

/** Polls the lab's state until the rebooted switch runs the new version and serves again. */
async function waitUntilVersion(lab: Lab, host: string, version: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    await lab.settled();
    const state = lab.state(host);
    if (state.version === version && state.up === true) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${host} did not come back with ${version}: ${JSON.stringify(lab.state(host))}`);
}
