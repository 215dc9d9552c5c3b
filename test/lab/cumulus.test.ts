import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Clock, type Lab } from '../../lab/index.js';
import { connect, connectError, exec, getFile, putFile, run, until, type SshTarget } from '../helpers/ssh-client.js';

const STORE = 'http://192.168.200.1/images';

const FAST = { rebootDelayMs: 150, syncDelayMs: 150, failoverDelayMs: 100, prepareMs: 100, commitMs: 100 };
const SWITCHES = ['spine01', 'spine02', 'leaf01', 'leaf02', 'leaf03', 'leaf04'];

interface BgpPeer {
  hostname: string;
  remoteAs: number;
  state: string;
  peerUptimeMsec: number;
  pfxRcd?: number;
  pfxSnt?: number;
}
interface BgpSummary {
  ipv4Unicast: { as: number; routerId: string; peers: Record<string, BgpPeer> };
}
interface LldpInterface {
  name: string;
  chassis: { name: string; descr: string };
  port: { id: { value: string } };
}

/** A clock the test moves by hand, so a reboot lasts exactly as long as the test wants. */
class ManualClock implements Clock {
  private time = Date.parse('2024-03-01T12:00:00Z');
  private tasks: Array<{ at: number; order: number; task: () => void }> = [];
  private order = 0;

  now(): number {
    return this.time;
  }

  schedule(delayMs: number, task: () => void): () => void {
    const entry = { at: this.time + delayMs, order: this.order++, task };
    this.tasks.push(entry);
    return () => {
      this.tasks = this.tasks.filter((candidate) => candidate !== entry);
    };
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.tasks.filter((entry) => entry.at <= end).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (due === undefined) break;
      this.tasks = this.tasks.filter((entry) => entry !== due);
      this.time = due.at;
      due.task();
    }
    this.time = end;
  }
}

describe('Cumulus switches', () => {
  let lab: Lab;
  const target = (name: string): SshTarget => ({ host: lab.device(name).address, port: lab.device(name).port });
  const json = async <T>(name: string, command: string): Promise<T> => {
    const result = await run(target(name), command);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  };

  beforeAll(async () => {
    lab = await startLab({ addressPrefix: '127.0.12', timings: FAST, topology: { storageNodes: 0, nso: false, chassis: false } });
  });
  afterAll(() => lab?.stop());

  it('reports its release, its platform, and the images of the repository for it', async () => {
    const client = await connect(target('leaf01'));
    try {
      expect((await exec(client, 'cat /etc/lsb-release')).stdout).toBe(
        'DISTRIB_ID="Cumulus Linux"\nDISTRIB_RELEASE=4.3.0\nDISTRIB_DESCRIPTION="Cumulus Linux 4.3.0"\n',
      );
      // Leaves are Broadcom x86 switches, spines Mellanox x86 (the document's ASIC vendor and CPU arch).
      expect((await exec(client, 'dpkg --print-architecture')).stdout).toBe('amd64\n');
      expect((await exec(client, 'platform-detect')).stdout).toBe('accton,as7326_56x\n');
      const head = await exec(client, `curl -fsI ${STORE}/cumulus-linux-4.4.0-bcm-amd64.bin`);
      expect(head.code).toBe(0);
      expect(head.stdout).toMatch(/^HTTP\/1.1 200 OK\r\n/);
      expect(await exec(client, `curl -fsSI ${STORE}/cumulus-linux-9.9.9-bcm-amd64.bin`)).toEqual({
        stdout: '',
        stderr: 'curl: (22) The requested URL returned error: 404 Not Found\n',
        code: 22,
      });
      expect((await exec(client, 'curl -fsI http://example.com/x.bin')).code).toBe(6);
      expect(await exec(client, 'systemctl is-active frr lldpd clagd switchd ssh')).toEqual({
        stdout: 'active\nactive\nactive\nactive\nactive\n',
        stderr: '',
        code: 0,
      });
    } finally {
      client.end();
    }
    // Spines run no MLAG: clagd is inactive there and the CLAG answer is empty.
    expect(await run(target('spine01'), 'systemctl is-active frr clagd')).toEqual({ stdout: 'active\ninactive\n', stderr: '', code: 3 });
    expect(await json('spine01', 'net show clag json')).toEqual({ clagIntfs: {}, status: {} });
  });

  it('answers the same fabric from both ends of every link: LLDP, BGP and MLAG agree', async () => {
    const lldp = new Map<string, LldpInterface[]>();
    const bgp = new Map<string, BgpSummary>();
    for (const name of SWITCHES) {
      lldp.set(name, (await json<{ lldp: { interface: LldpInterface[] } }>(name, 'net show lldp json')).lldp.interface);
      bgp.set(name, await json<BgpSummary>(name, 'net show bgp summary json'));
    }
    let switchLinks = 0;
    for (const [name, interfaces] of lldp) {
      for (const entry of interfaces.filter((candidate) => SWITCHES.includes(candidate.chassis.name))) {
        switchLinks++;
        const back = lldp.get(entry.chassis.name)?.find((candidate) => candidate.name === entry.port.id.value);
        expect(back?.chassis.name, `${name} ${entry.name}`).toBe(name);
        expect(back?.port.id.value).toBe(entry.name);
        expect(entry.chassis.descr).toMatch(/^Cumulus Linux version 4\.3\.0 running on (Mellanox Technologies Ltd\. MSN2700|Edgecore AS7326-56X)$/);
      }
    }
    // 2 spines x 4 leaves, both ends, plus two peerlink members per MLAG pair, both ends.
    expect(switchLinks).toBe(2 * 4 * 2 + 2 * 2 * 2);
    for (const [name, summary] of bgp) {
      const peers = Object.entries(summary.ipv4Unicast.peers);
      expect(peers).toHaveLength(name.startsWith('spine') ? 4 : 2);
      for (const [ifname, peer] of peers) {
        expect(peer.state).toBe('Established');
        const lldpPeer = lldp.get(name)?.find((entry) => entry.name === ifname);
        expect(lldpPeer?.chassis.name).toBe(peer.hostname);
        const remote = bgp.get(peer.hostname)?.ipv4Unicast;
        expect(remote?.as).toBe(peer.remoteAs);
        const back = remote?.peers[lldpPeer?.port.id.value ?? ''];
        expect(back?.hostname).toBe(name);
        expect(back?.pfxRcd).toBe(peer.pfxSnt);
      }
    }
    const clag = async (name: string): Promise<Record<string, unknown>> =>
      (await json<{ status: Record<string, unknown> }>(name, 'net show clag json')).status;
    for (const [a, b] of [
      ['leaf01', 'leaf02'],
      ['leaf03', 'leaf04'],
    ] as const) {
      const [first, second] = [await clag(a), await clag(b)];
      expect(first).toMatchObject({ peer: b, peerAlive: true, peerPresent: true, ourRole: 'primary', peerRole: 'secondary' });
      expect(second).toMatchObject({ peer: a, peerAlive: true, peerPresent: true, ourRole: 'secondary', peerRole: 'primary' });
      expect(first.sysMac).toBe(second.sysMac);
      expect(first.peerId).toBe(second.ourId);
    }
    expect((await clag('leaf01')).sysMac).not.toBe((await clag('leaf03')).sysMac);
  });

  it('answers iproute2, bridge and NCLU JSON for every snapshot element', async () => {
    const addresses = await json<Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>>('leaf01', 'ip -j addr show');
    expect(addresses.find((entry) => entry.ifname === 'lo')?.addr_info.map((info) => `${info.local}/${info.prefixlen}`)).toEqual([
      '127.0.0.1/8',
      '10.10.10.1/32',
      '10.0.1.1/32',
      '::1/128',
    ]);
    const links = await json<Array<{ ifname: string; operstate: string; linkinfo?: { info_kind: string } }>>('leaf01', 'ip -d -j link show');
    expect(links.find((entry) => entry.ifname === 'bond1')?.linkinfo?.info_kind).toBe('bond');
    expect(links.find((entry) => entry.ifname === 'swp51')?.operstate).toBe('UP');
    expect((await json<unknown[]>('leaf01', 'ip -j link show dev swp51'))).toHaveLength(1);
    const routes = await json<Array<{ dst: string; protocol?: string; nexthops?: unknown[]; dev?: string }>>('leaf01', 'ip -j route show');
    // Other leaves are reachable through both spines; the spines only through their own link.
    expect(routes.find((route) => route.dst === '10.10.10.3')?.nexthops).toHaveLength(2);
    expect(routes.find((route) => route.dst === '10.10.10.101')?.dev).toBe('swp51');
    const spineRoutes = await json<Array<{ dst: string }>>('spine01', 'ip -j route show');
    expect(spineRoutes.map((route) => route.dst)).not.toContain('10.10.10.102');
    const neighbours = await json<Array<{ dst: string; dev: string }>>('leaf01', 'ip -j neigh show');
    expect(neighbours.filter((entry) => entry.dev === 'swp51').map((entry) => entry.dst)).toContain('169.254.0.1');
    const macs = await json<Array<{ mac: string; vlan: number; ifname: string }>>('leaf01', 'bridge -j fdb show');
    expect(macs.some((entry) => entry.ifname === 'bond1' && entry.vlan === 10)).toBe(true);
    expect(await json<unknown[]>('spine01', 'bridge -j fdb show')).toEqual([]);
    const ospf = await json<{ neighbors: Record<string, Array<{ ifaceName: string; area: string }>> }>('leaf01', 'net show ospf neighbor json');
    expect(ospf.neighbors['10.10.10.2']?.[0]).toMatchObject({ ifaceName: 'peerlink.4094', area: '0.0.0.0' });
    const sensors = await json<Array<{ name: string; type: string; state: string }>>('leaf01', 'net show system sensors json');
    expect(sensors.map((sensor) => `${sensor.type}:${sensor.name}`)).toEqual([
      'temp:Temp1', 'temp:Temp2', 'temp:Temp3', ...[1, 2, 3, 4, 5, 6].map((n) => `fan:Fan${n}`), 'power:PSU1', 'power:PSU2',
    ]);
    expect(await json<unknown[]>('spine01', 'net show system sensors json')).toHaveLength(3 + 8 + 2);
    const services = await json<Array<{ name: string; vrf: string; active: boolean }>>('leaf01', 'net show system services json');
    expect(services.find((service) => service.name === 'ssh')).toMatchObject({ vrf: 'mgmt', active: true });
    const units = await json<Array<{ unit: string; active: string }>>('leaf01', 'systemctl list-units --output=json');
    expect(units.find((unit) => unit.unit === 'frr.service')?.active).toBe('active');
    const node = await json<Record<string, unknown>>('leaf01', 'net show system json');
    expect(node).toMatchObject({ hostname: 'leaf01', version: '4.3.0', platform: 'x86_64-accton_as7326_56x-r0', asic: { vendor: 'Broadcom' }, cpuArch: 'x86' });
    // Every link kind of the document's table: swp, eth, loopback, bond (peerlink too), bridge, vlan, vrf, vxlan, macvlan.
    const kinds = new Map(links.map((entry) => [entry.ifname, entry.linkinfo?.info_kind ?? 'none']));
    expect(Object.fromEntries(['lo', 'eth0', 'mgmt', 'swp1', 'bond1', 'peerlink', 'peerlink.4094', 'bridge', 'vni10', 'vlan10', 'vlan10-v0'].map((n) => [n, kinds.get(n)]))).toEqual({
      lo: 'none', eth0: 'none', mgmt: 'vrf', swp1: 'none', bond1: 'bond', peerlink: 'bond', 'peerlink.4094': 'vlan', bridge: 'bridge', vni10: 'vxlan', vlan10: 'vlan', 'vlan10-v0': 'macvlan',
    });
    const mgmtRoutes = await json<Array<{ dst: string }>>('leaf01', 'ip -j route show vrf mgmt');
    expect(mgmtRoutes.map((route) => route.dst)).toContain('192.168.200.0/24');
    const interfaces = await json<Record<string, { linkstate: string; iface_obj: { lldp: Array<{ adj_hostname: string }> } }>>('leaf01', 'net show interface json');
    expect(interfaces.swp52?.iface_obj.lldp).toEqual([{ adj_hostname: 'spine02', adj_port: 'swp1' }]);
    const text = await run(target('leaf01'), 'net show bgp summary');
    expect(text.code).toBe(1);
    expect(text.stderr).toContain('json');
  });

  it('counts interface traffic up as time passes', async () => {
    const rx = async (): Promise<number> =>
      (await json<Record<string, { iface_obj: { counters: { RX_OK: number } } }>>('leaf03', 'net show interface json')).swp51?.iface_obj.counters.RX_OK ?? 0;
    const before = await rx();
    await until(async () => (await rx()) > before, 5_000, 200);
  });

  it('upgrades with onie-install and a reboot: new version, uptimes and sessions reset on both ends', async () => {
    const before = await json<{ uptimeSeconds: number }>('leaf02', 'net show system json');
    // The configuration, kept off the switch (over SFTP) before the install wipes it.
    const archived = await run(target('leaf02'), 'tar czf /var/backups/pre.tgz /etc/network /etc/frr /etc/hostname /etc/systemd');
    expect(archived.code, archived.stderr).toBe(0);
    const backup = await getFile(target('leaf02'), '/var/backups/pre.tgz');
    expect(backup.toString('utf8')).toContain('etc/network/interfaces');
    const spineBefore = (await json<BgpSummary>('spine01', 'net show bgp summary json')).ipv4Unicast.peers.swp2;
    expect(spineBefore?.peerUptimeMsec).toBeGreaterThan(86_400_000);
    const install = await run(target('leaf02'), `sudo onie-install -a -i ${STORE}/cumulus-linux-4.4.0-bcm-amd64.bin`);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain('Cumulus Linux 4.4.0 will be installed on the next reboot');
    expect(lab.state('leaf02')).toMatchObject({ version: '4.3.0', pendingVersion: '4.4.0' });
    expect((await run(target('leaf02'), 'cat /etc/lsb-release')).stdout).toContain('DISTRIB_RELEASE=4.3.0');

    const client = await connect(target('leaf02'));
    const dropped = new Promise((resolve) => client.on('close', () => resolve(undefined)));
    expect((await exec(client, 'sudo reboot')).code).toBe(0);
    await dropped;
    const release = await until(async () => (await run(target('leaf02'), 'cat /etc/lsb-release')).stdout);
    expect(release).toContain('DISTRIB_RELEASE=4.4.0');
    expect(lab.state('leaf02')).toMatchObject({ version: '4.4.0', pendingVersion: null, up: true });

    const after = await json<{ uptimeSeconds: number; version: string; hostname: string }>('leaf02', 'net show system json');
    expect(after.version).toBe('4.4.0');
    expect(after.uptimeSeconds).toBeLessThan(before.uptimeSeconds);
    // A fresh install: the image's defaults until the configuration is restored.
    expect(after.hostname).toBe('cumulus');
    expect((await run(target('leaf02'), 'systemctl is-active frr clagd lldpd')).stdout).toBe('inactive\ninactive\nactive\n');
    expect(await json('leaf02', 'net show bgp summary json')).toEqual({});
    expect((await json<{ lldp: { interface: LldpInterface[] } }>('leaf02', 'net show lldp json')).lldp.interface.map((entry) => entry.name)).toEqual(['eth0']);
    expect((await json<BgpSummary>('spine01', 'net show bgp summary json')).ipv4Unicast.peers.swp2?.state).toBe('Active');
    expect((await run(target('leaf02'), 'ls /var/backups /var/images')).stdout).toBe('/var/backups:\n\n/var/images:\n');
    expect(lab.state('leaf02')).toMatchObject({ configured: false, frr: false, clag: false });
    // leaf01 keeps its side of the pair, alone.
    expect((await json<{ status: { peerAlive: boolean } }>('leaf01', 'net show clag json')).status.peerAlive).toBe(false);
    // Restored from the backup taken before, and the services started, the switch is back in the fabric.
    expect((await run(target('leaf02'), 'test -f /home/lab/pre.tgz')).code).toBe(1);
    await putFile(target('leaf02'), '/var/backups/pre.tgz', backup);
    const restore = await run(target('leaf02'), 'tar xzf /var/backups/pre.tgz -C / && hostname -F /etc/hostname && ifreload -a && systemctl restart frr');
    expect(restore.code, restore.stderr).toBe(0);
    expect(lab.state('leaf02')).toMatchObject({ configured: true, frr: true, clag: true, hostname: 'leaf02' });
    await until(async () => (await json<BgpSummary>('spine01', 'net show bgp summary json')).ipv4Unicast.peers.swp2?.state === 'Established');
    expect((await json<{ status: { peerAlive: boolean } }>('leaf01', 'net show clag json')).status.peerAlive).toBe(true);
    expect(lab.eventLog('leaf02').map((entry) => entry.event)).toEqual(['down', 'up', 'fresh-install', 'not-serving', 'serving']);
    const spineAfter = (await json<BgpSummary>('spine01', 'net show bgp summary json')).ipv4Unicast.peers.swp2;
    expect(spineAfter?.peerUptimeMsec).toBeLessThan(spineBefore?.peerUptimeMsec ?? 0);
    const neighbour = (await json<{ lldp: { interface: LldpInterface[] } }>('spine01', 'net show lldp json')).lldp.interface.find(
      (entry) => entry.name === 'swp2',
    );
    expect(neighbour?.chassis.descr).toContain('Cumulus Linux version 4.4.0');
  });

  it('refuses a missing image and fails an install when told to, once', async () => {
    expect(await run(target('leaf04'), 'onie-install -a -i /var/images/cumulus-linux-9.9.9-bcm-amd64.bin')).toMatchObject({
      code: 1,
      stderr: 'onie-install: ERROR: image file not found: /var/images/cumulus-linux-9.9.9-bcm-amd64.bin\n',
    });
    expect(await run(target('leaf04'), `onie-install -a -i ${STORE}/cumulus-linux-9.9.9-bcm-amd64.bin`)).toMatchObject({
      code: 1,
      stderr: `onie-install: ERROR: unable to fetch ${STORE}/cumulus-linux-9.9.9-bcm-amd64.bin: 404 Not Found\n`,
    });
    // An image for another platform is in the repository, and refused.
    const wrong = await run(target('leaf04'), `onie-install -a -i ${STORE}/cumulus-linux-4.4.0-mlx-amd64.bin`);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('Machine mismatch');
    // Without -a the image is only staged: the next reboot keeps the running version.
    expect((await run(target('leaf04'), `onie-install -i ${STORE}/cumulus-linux-4.4.0-bcm-amd64.bin`)).stdout).toContain('onie-select -i');
    expect(lab.state('leaf04').pendingVersion).toBeNull();
    await lab.injectFault('leaf04', { kind: 'installFails', times: 1 });
    const failed = await run(target('leaf04'), `onie-install -a -i ${STORE}/cumulus-linux-4.4.0-bcm-amd64.bin`);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/checksum mismatch/);
    expect(lab.state('leaf04').pendingVersion).toBeNull();
    expect((await run(target('leaf04'), `onie-install -a -i ${STORE}/cumulus-linux-4.4.0-bcm-amd64.bin`)).code).toBe(0);
    expect(lab.state('leaf04').pendingVersion).toBe('4.4.0');
  });

  it('keeps configuration backups made with tar', async () => {
    const client = await connect(target('spine02'));
    try {
      const backup = await exec(client, 'sudo tar czf /var/backups/pre-upgrade.tgz /etc');
      expect(backup).toEqual({ stdout: '', stderr: "tar: Removing leading `/' from member names\n", code: 0 });
      expect((await exec(client, 'ls /var/backups')).stdout).toBe('pre-upgrade.tgz\n');
      expect((await exec(client, 'test -f /var/backups/pre-upgrade.tgz')).code).toBe(0);
      expect((await exec(client, 'tar czf /var/backups/x.tgz /nope')).code).toBe(2);
      expect((await exec(client, 'tar tzf /var/backups/pre-upgrade.tgz | grep -c frr.conf')).stdout).toBe('1\n');
      expect((await exec(client, 'tar xzf /etc/hostname -C /')).stderr).toContain('does not look like a tar archive');
    } finally {
      client.end();
    }
  });

  it('bgpSessionDrop: after the next reboot one session stays down on both ends, until cleared', async () => {
    await lab.injectFault('leaf03', { kind: 'bgpSessionDrop', peer: 'spine02' });
    await expect(lab.injectFault('leaf03', { kind: 'bgpSessionDrop', peer: 'leaf01' })).rejects.toThrow(/no BGP session/);
    expect(Object.keys((await json<BgpSummary>('leaf03', 'net show bgp summary json')).ipv4Unicast.peers)).toEqual(['swp51', 'swp52']);
    await run(target('leaf03'), 'reboot');
    await until(async () => (await run(target('leaf03'), 'hostname')).code === 0);
    const leaf = (await json<BgpSummary>('leaf03', 'net show bgp summary json')).ipv4Unicast.peers;
    expect(Object.keys(leaf)).toEqual(['swp51']);
    expect(leaf.swp51?.state).toBe('Established');
    const spine = (await json<BgpSummary>('spine02', 'net show bgp summary json')).ipv4Unicast.peers;
    expect(Object.values(spine).map((peer) => peer.hostname)).not.toContain('leaf03');
    expect(Object.keys(spine)).toHaveLength(3);
    await lab.clearFaults('leaf03');
    expect(Object.keys((await json<BgpSummary>('spine02', 'net show bgp summary json')).ipv4Unicast.peers)).toHaveLength(4);
  });

  it('neverReturns: a rebooted switch stays down, and its peers see the link down', async () => {
    await lab.injectFault('leaf01', { kind: 'neverReturns' });
    await run(target('leaf01'), 'reboot');
    await until(async () => (await connectError(target('leaf01')))?.code === 'ECONNREFUSED');
    // Many reboot delays later it is still down.
    await new Promise((resolve) => setTimeout(resolve, FAST.rebootDelayMs * 4));
    expect((await connectError(target('leaf01')))?.code).toBe('ECONNREFUSED');
    expect(lab.state('leaf01').up).toBe(false);
    const spine = (await json<BgpSummary>('spine01', 'net show bgp summary json')).ipv4Unicast.peers.swp1;
    expect(spine?.state).toBe('Active');
    const clag = (await json<{ status: { peerAlive: boolean } }>('leaf02', 'net show clag json')).status;
    expect(clag.peerAlive).toBe(false);
    await lab.clearFaults('leaf01');
    expect((await run(target('leaf01'), 'hostname')).stdout).toBe('leaf01\n');
  });
});

describe('a Cumulus reboot on a clock the test drives', () => {
  it('refuses connections while the switch is down, then serves the new version', async () => {
    const clock = new ManualClock();
    const lab = await startLab({
      clock,
      addressPrefix: '127.0.12',
      addresses: { spine01: '127.0.12.201', leaf01: '127.0.12.211', leaf02: '127.0.12.212' },
      topology: { spines: 1, leaves: 2, storageNodes: 0, nso: false, chassis: false },
      timings: { rebootDelayMs: 60_000 },
    });
    try {
      const leaf = { host: lab.device('leaf01').address, port: lab.device('leaf01').port };
      expect((await run(leaf, `onie-install -a -i ${STORE}/cumulus-linux-4.4.0-bcm-amd64.bin && reboot`)).code).toBe(0);
      clock.advance(0);
      await lab.settled();
      expect((await connectError(leaf))?.code).toBe('ECONNREFUSED');
      clock.advance(59_999);
      await lab.settled();
      expect((await connectError(leaf))?.code).toBe('ECONNREFUSED');
      clock.advance(1);
      await lab.settled();
      expect((await run(leaf, 'cat /etc/lsb-release')).stdout).toContain('DISTRIB_RELEASE=4.4.0');
      const system = JSON.parse((await run(leaf, 'net show system json')).stdout) as { uptimeSeconds: number };
      expect(system.uptimeSeconds).toBe(0);
    } finally {
      await lab.stop();
    }
  });
});
