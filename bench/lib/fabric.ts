// A generated leaf-spine fabric, for the planner benchmark and the planning-at-scale test.

/** Pods of two spines and 24 MLAG pairs of leaves: 50 hosts each. */
const SPINES_PER_POD = 2;
const LEAF_PAIRS_PER_POD = 24;
const SITES = ['ams', 'fra', 'lon'] as const;

export interface FabricHost {
  name: string;
  address: string;
  role: 'spine' | 'leaf';
  labels: Record<string, string>;
}

/** `count` hosts, pod by pod; leaves come in MLAG pairs that name each other in `labels.mlagPeer`. */
export function generateFabricHosts(count: number): FabricHost[] {
  const hosts: FabricHost[] = [];
  for (let pod = 1; hosts.length < count; pod++) {
    const podName = `p${String(pod).padStart(3, '0')}`;
    const site = SITES[pod % SITES.length]!;
    const address = (index: number) => `10.${(pod >> 8) & 255}.${pod & 255}.${index}`;
    for (let s = 1; s <= SPINES_PER_POD && hosts.length < count; s++) {
      hosts.push({ name: `${podName}-spine${s}`, address: address(s), role: 'spine', labels: { site, pod: podName } });
    }
    // Whole pairs only, so that every mlagPeer names a host of the inventory.
    for (let pair = 1; pair <= LEAF_PAIRS_PER_POD && hosts.length + 2 <= count; pair++) {
      const rack = `r${String(pair).padStart(2, '0')}`;
      const [a, b] = [`${podName}-leaf${String(2 * pair - 1).padStart(2, '0')}`, `${podName}-leaf${String(2 * pair).padStart(2, '0')}`];
      hosts.push({ name: a, address: address(10 + 2 * pair - 1), role: 'leaf', labels: { site, pod: podName, rack, mlagPeer: b } });
      hosts.push({ name: b, address: address(10 + 2 * pair), role: 'leaf', labels: { site, pod: podName, rack, mlagPeer: a } });
    }
  }
  return hosts;
}

const flowMap = (entries: Record<string, string>) =>
  `{ ${Object.entries(entries)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')} }`;

/** The hosts as a runbook inventory: group `fabric`, password from the environment. */
export function renderFabricInventory(hosts: readonly FabricHost[]): string {
  const lines = [
    'apiVersion: runbook/v1',
    'kind: Inventory',
    'metadata:',
    '  name: fabric',
    `  description: Generated leaf-spine fabric of ${hosts.length} switches`,
    'policy: { requireApproval: true, forbidSelfApproval: true }',
    'defaults:',
    '  user: cumulus',
    '  platform: cumulus',
    '  groups: [fabric]',
    '  auth: { passwordEnv: FABRIC_PASSWORD }',
    'groups:',
    '  fabric: { description: All switches of the fabric }',
    'hosts:',
  ];
  for (const host of hosts) {
    lines.push(`  ${host.name}:`, `    address: ${host.address}`, `    role: ${host.role}`, `    labels: ${flowMap(host.labels)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The same hosts as an Ansible YAML inventory: groups spine and leaf under fabric, the labels as host vars. */
export function renderAnsibleInventory(hosts: readonly FabricHost[]): string {
  const lines = [
    'all:',
    '  vars:',
    '    ansible_user: cumulus',
    `    ansible_password: "{{ lookup('ansible.builtin.env', 'FABRIC_PASSWORD') }}"`,
    '    platform: cumulus',
    '  children:',
    '    fabric:',
    '      children:',
  ];
  for (const role of ['spine', 'leaf'] as const) {
    lines.push(`        ${role}:`, '          hosts:');
    for (const host of hosts.filter((h) => h.role === role)) {
      const { mlagPeer, ...labels } = host.labels;
      const vars: Record<string, string> = { ansible_host: host.address, role: host.role, ...labels };
      if (mlagPeer !== undefined) vars.mlag_peer = mlagPeer;
      lines.push(`            ${host.name}: ${flowMap(vars)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A fabric upgrade as an operator would write it (DESIGN.md section 3, filled out): pre-checks with captures,
 * backup, install, reboot, verify, rollback.
 */
export function generateFabricUpgradeRunbook(): string {
  return String.raw`apiVersion: runbook/v1
kind: Runbook
metadata:
  name: fabric-upgrade
  version: 1.3.0
  description: Rolling Cumulus Linux upgrade with snapshots and rollback
params:
  targetVersion: { type: string, pattern: '^\d+\.\d+\.\d+$', required: true, description: The release to install }
  image: { type: string, default: 'cumulus-linux-{{params.targetVersion}}.bin' }
  minFreeKb: { type: integer, default: 2000000 }
targets: { group: fabric }
strategy:
  order: [spine, leaf]
  batchSize: 2
  maxFailures: 0
  rollbackOnFailure: true
  snapshot: { before: true, after: true, profile: fabric }
prechecks:
  - id: same-major
    run: cat /etc/lsb-release
    capture: { current: { regex: 'DISTRIB_RELEASE=(\S+)' } }
    expect: [{ semver: { value: '{{current}}', sameMajorAs: '{{params.targetVersion}}' } }]
    severity: error
    hint: Lifecycle upgrades stay within one major release; do a fresh install instead.
  - id: image-present
    run: 'test -s /var/images/{{quote params.image}}'
    expect: [{ exitCode: 0 }]
    hint: Copy the image to /var/images on every switch first.
  - id: free-space
    run: df -k --output=avail /var | tail -1
    capture: { freeKb: { regex: '(\d+)' } }
    expect: [{ number: { value: '{{freeKb}}', gte: 2000000 } }]
    severity: warning
    hint: Clean /var/log and old images before upgrading.
  - id: mlag-peer
    on: { role: leaf }
    run: clagctl -j
    capture: { peerState: { json: status.peerAlive } }
    expect: [{ json: { path: status.peerAlive, equals: true } }]
    hint: Bring the MLAG peer up first; upgrading a leaf whose peer is down isolates its hosts.
steps:
  - id: backup-config
    kind: backup
    run: 'tar czf /var/backups/pre-{{run.id}}.tgz /etc/network /etc/frr /etc/cumulus'
    expect: [{ exitCode: 0 }]
  - id: install
    kind: install
    run: 'onie-install -a -f -i /var/images/{{quote params.image}}'
    timeout: 20m
    retries: 2
    backoff: 30s
    onFailure: rollback
  - id: reboot
    kind: reboot
    run: reboot
    reconnect: { timeout: 10m, delay: 30s, interval: 10s, check: uptime }
  - id: version
    kind: wait
    run: cat /etc/lsb-release
    until: [{ contains: 'DISTRIB_RELEASE={{params.targetVersion}}' }]
    interval: 10s
    timeout: 5m
  - id: services-up
    kind: verify
    run: systemctl is-active frr lldpd switchd
    expect: [{ exitCode: 0 }, { match: '^active$', everyLine: true }]
  - id: clag-converged
    kind: verify
    on: { role: leaf }
    run: clagctl -j
    until: [{ json: { path: status.ourRole, in: [primary, secondary] } }, { json: { path: status.peerAlive, equals: true } }]
    interval: 15s
    timeout: 10m
  - id: bgp-established
    kind: verify
    run: "vtysh -c 'show bgp summary json'"
    until: [{ json: { path: ipv4Unicast.failedPeers, equals: 0 } }]
    interval: 15s
    timeout: 10m
rollback:
  - id: restore-image
    kind: reboot
    run: 'onie-install -a -f -i /var/images/cumulus-linux-{{current}}.bin && reboot'
    reconnect: { timeout: 10m }
  - id: restore-config
    run: 'tar xzf /var/backups/pre-{{run.id}}.tgz -C / && systemctl restart networking frr'
`;
}
