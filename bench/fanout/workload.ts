// The same four commands on N aliases of one sshd, written out for each side: runbook + inventory,
// the bare ssh2 script's host list, and an Ansible inventory + playbook + ansible.cfg.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FanoutHost {
  name: string;
  address: string;
}

/** Everything a side needs to reach the hosts; written as JSON for the worker processes. */
export interface FanoutWorkload {
  size: number;
  dir: string;
  /** Where the command step writes one marker file per host; emptied before every measured run. */
  outDir: string;
  hosts: FanoutHost[];
  port: number;
  user: string;
  keyFile: string;
  hostKeyFingerprint: string;
  knownHostsFile: string;
  runbookFile: string;
  inventoryFile: string;
  ansible: { inventoryFile: string; playbookFile: string; configFile: string; controlDir: string; homeDir: string };
}

export interface SshEndpoint {
  addresses: readonly string[];
  port: number;
  user: string;
  keyFile: string;
  hostKeyFingerprint: string;
  knownHostsFile: string;
}

export const STEP_IDS = ['kernel', 'os-release', 'write-marker', 'marker-present'] as const;

/** The four commands, as each side runs them. */
export function commandsFor(outDir: string, host: string): [string, string, string, string] {
  const marker = markerFile(outDir, host);
  return ['uname -r', 'cat /etc/os-release', `echo ok > ${marker}`, `test -f ${marker}`];
}

/** What the verify step demands of /etc/os-release, on every side. */
export const OS_RELEASE_PATTERN = '^ID=';

export function markerFile(outDir: string, host: string): string {
  return `${outDir}/runbook-bench-${host}`;
}

export function hostNames(size: number): string[] {
  const width = String(size).length;
  return Array.from({ length: size }, (_, i) => `host${String(i + 1).padStart(Math.max(3, width), '0')}`);
}

/** Writes every side's input files for `size` hosts under `dir`. */
export function writeWorkload(dir: string, size: number, endpoint: SshEndpoint): FanoutWorkload {
  mkdirSync(dir, { recursive: true });
  const outDir = join(dir, 'out');
  const controlDir = join(dir, 'cp');
  const homeDir = join(dir, 'ansible-home');
  for (const folder of [outDir, controlDir, homeDir]) mkdirSync(folder, { recursive: true });
  // Round robin over the listen addresses: each address has its own kernel listen queue, as real hosts do.
  const hosts = hostNames(size).map((name, i) => ({ name, address: endpoint.addresses[i % endpoint.addresses.length]! }));
  const workload: FanoutWorkload = {
    size,
    dir,
    outDir,
    hosts,
    port: endpoint.port,
    user: endpoint.user,
    keyFile: endpoint.keyFile,
    hostKeyFingerprint: endpoint.hostKeyFingerprint,
    knownHostsFile: endpoint.knownHostsFile,
    runbookFile: join(dir, 'fanout.runbook.yaml'),
    inventoryFile: join(dir, 'fanout.inventory.yaml'),
    ansible: {
      inventoryFile: join(dir, 'ansible-inventory.ini'),
      playbookFile: join(dir, 'playbook.yaml'),
      configFile: join(dir, 'ansible.cfg'),
      controlDir,
      homeDir,
    },
  };
  writeFileSync(workload.runbookFile, renderRunbook(workload));
  writeFileSync(workload.inventoryFile, renderInventory(workload));
  writeFileSync(workload.ansible.inventoryFile, renderAnsibleInventory(workload));
  writeFileSync(workload.ansible.playbookFile, renderPlaybook(workload));
  writeFileSync(workload.ansible.configFile, renderAnsibleConfig(workload));
  writeFileSync(join(dir, 'workload.json'), JSON.stringify(workload, null, 2));
  return workload;
}

export function workloadJsonFile(workload: FanoutWorkload): string {
  return join(workload.dir, 'workload.json');
}

function renderRunbook(w: FanoutWorkload): string {
  // Templates, not literal host names: the engine renders every command per host, as real runbooks do.
  const marker = markerFile(w.outDir, '{{host.name}}');
  return [
    'apiVersion: runbook/v1',
    'kind: Runbook',
    'metadata:',
    '  name: fanout-bench',
    '  version: 1.0.0',
    '  description: Four commands on every host at once (bench/fanout)',
    'targets: { group: bench }',
    'strategy:',
    `  batchSize: ${w.size}`,
    `  maxParallel: ${w.size}`,
    '  maxFailures: 0',
    'steps:',
    '  - id: kernel',
    '    kind: check',
    '    run: uname -r',
    "    capture: { kernel: { regex: '^(\\S+)' } }",
    '  - id: os-release',
    '    kind: verify',
    '    run: cat /etc/os-release',
    `    expect: [{ match: '${OS_RELEASE_PATTERN}' }]`,
    '  - id: write-marker',
    '    kind: command',
    `    run: 'echo ok > ${marker}'`,
    '  - id: marker-present',
    '    kind: verify',
    `    run: 'test -f ${marker}'`,
    '',
  ].join('\n');
}

function renderInventory(w: FanoutWorkload): string {
  return [
    'apiVersion: runbook/v1',
    'kind: Inventory',
    'metadata:',
    '  name: fanout-bench',
    `  description: ${w.size} aliases of one loopback sshd`,
    'defaults:',
    `  port: ${w.port}`,
    `  user: ${w.user}`,
    `  hostKey: ${w.hostKeyFingerprint}`,
    `  auth: { keyFile: ${w.keyFile} }`,
    'groups:',
    '  bench: { description: Every host of the benchmark }',
    'hosts:',
    ...w.hosts.map((h) => `  ${h.name}: { address: ${h.address}, groups: [bench] }`),
    '',
  ].join('\n');
}

function renderAnsibleInventory(w: FanoutWorkload): string {
  // Its own control path per host, or aliases of one address would share one connection.
  return [
    '[bench]',
    ...w.hosts.map((h) => `${h.name} ansible_host=${h.address} ansible_control_path=${join(w.ansible.controlDir, h.name)}`),
    '',
    '[bench:vars]',
    `ansible_port=${w.port}`,
    `ansible_user=${w.user}`,
    `ansible_private_key_file=${w.keyFile}`,
    'ansible_python_interpreter=/usr/bin/python3',
    '',
  ].join('\n');
}

function renderPlaybook(w: FanoutWorkload): string {
  const marker = markerFile(w.outDir, '{{ inventory_hostname }}');
  return [
    '- name: fanout bench',
    '  hosts: bench',
    '  gather_facts: false',
    '  tasks:',
    '    - name: kernel',
    '      ansible.builtin.command: uname -r',
    '      register: kernel',
    '      changed_when: false',
    '    - name: os-release',
    '      ansible.builtin.command: cat /etc/os-release',
    '      register: os_release',
    '      changed_when: false',
    `      failed_when: os_release.rc != 0 or os_release.stdout is not search('${OS_RELEASE_PATTERN}', multiline=True)`,
    '    - name: write-marker',
    `      ansible.builtin.shell: echo ok > ${marker}`,
    '    - name: marker-present',
    `      ansible.builtin.command: test -f ${marker}`,
    '      changed_when: false',
    '',
  ].join('\n');
}

function renderAnsibleConfig(w: FanoutWorkload): string {
  const sshArgs = [
    '-o ControlMaster=auto',
    '-o ControlPersist=60s',
    // What ssh2 negotiates; OpenSSH's default (sntrup761x25519) costs far more client CPU.
    '-o KexAlgorithms=curve25519-sha256',
    `-o UserKnownHostsFile=${w.knownHostsFile}`,
    '-o StrictHostKeyChecking=yes',
    '-o IdentitiesOnly=yes',
  ].join(' ');
  return [
    '[defaults]',
    `forks = ${w.size}`,
    'host_key_checking = True',
    'gathering = explicit',
    'retry_files_enabled = False',
    'interpreter_python = /usr/bin/python3',
    `local_tmp = ${join(w.ansible.homeDir, 'tmp')}`,
    'nocows = True',
    '',
    '[ssh_connection]',
    'pipelining = True',
    `ssh_args = ${sshArgs}`,
    '',
  ].join('\n');
}
