import type { Client } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab, type LabOptions } from '../../lab/index.js';
import { connect, exec, openShell, until, type ExecResult } from '../helpers/ssh-client.js';

// The NSO nodes as seed 002 (../shared/seeds/002_05ac0b52f447c85e.txt) describes them: each test drives
// the commands the document gives, over SSH, and checks what a real system install would print and do.

interface HaStatus {
  enabled: boolean;
  status: { mode: string; 'assigned-role': string; 'read-only-mode': boolean; 'primary-id'?: string; 'connected-secondary'?: Array<{ id: string; address: string }> };
}

interface NodeState {
  running: boolean;
  runningVersion: string | null;
  current: string;
  packages: { inUse: string[]; loadPath: string[] };
  ha: { enabled: boolean; mode: string; readOnly: boolean };
  cdb: { version: string; entries: Record<string, string>; commits: string[]; writeLog: number; discarded: string[] };
  commitQueue: number;
}

const WRITE = (value: string) => `config\ndevices device ce0 description ${JSON.stringify(value)}\ncommit\nend\n`;

describe('the NSO nodes', () => {
  let lab: Lab | undefined;
  const clients = new Map<string, Client>();
  afterEach(async () => {
    for (const client of clients.values()) client.end();
    clients.clear();
    await lab?.stop();
    lab = undefined;
  });

  const start = async (options: LabOptions = {}): Promise<Lab> => {
    lab = await startLab({
      addressPrefix: '127.0.14',
      ...options,
      topology: { spines: 0, leaves: 0, storageNodes: 0, chassis: false, ...options.topology },
    });
    return lab;
  };
  const client = async (name: string): Promise<Client> => {
    const known = clients.get(name);
    if (known) return known;
    const opened = await connect({ host: lab!.device(name).address, port: lab!.device(name).port });
    clients.set(name, opened);
    return opened;
  };
  const sh = async (name: string, command: string, stdin?: string): Promise<ExecResult> => exec(await client(name), command, stdin === undefined ? {} : { stdin });
  const ok = async (name: string, command: string, stdin?: string): Promise<string> => {
    const result = await sh(name, command, stdin);
    expect(result.code, `${name}: ${command}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const ha = async (name: string): Promise<HaStatus> =>
    (JSON.parse(await ok(name, "ncs_cli -C -c 'show high-availability | display json'")) as { data: { 'tailf-ncs:high-availability': HaStatus } }).data['tailf-ncs:high-availability'];
  const state = (name: string) => lab!.state(name) as unknown as NodeState;
  const description = (name: string) => state(name).cdb.entries['devices device ce0 description'];

  describe('a system install (Single Instance Upgrade)', () => {
    it('lays out releases under /opt/ncs/current, packages per release, links in the load path', async () => {
      await start();
      expect(await ok('nso0', 'ncs --version')).toBe('6.1.4\n');
      expect(await ok('nso0', 'readlink /opt/ncs/current')).toBe('/opt/ncs/ncs-6.1.4\n');
      expect(await ok('nso0', 'head -n 1 /opt/ncs/current/CHANGES')).toBe('NSO 6.1.4\n');
      expect(await ok('nso0', 'ls /opt/ncs/packages')).toBe(
        ['6.1', '6.2'].flatMap((b) => [`ncs-${b}-cisco-ios-cli-6.100-6.100.2.tar.gz`, `ncs-${b}-cisco-iosxr-cli-7.52-7.52.1.tar.gz`, `ncs-${b}-resource-manager-4.2.9.tar.gz`]).join('\n') + '\n',
      );
      expect(await ok('nso0', 'readlink /var/opt/ncs/packages/ncs-6.1-resource-manager-4.2.9.tar.gz')).toBe('/opt/ncs/packages/ncs-6.1-resource-manager-4.2.9.tar.gz\n');
      expect(await ok('nso0', 'zgrep -h ncs-min-version /opt/ncs/packages/ncs-6.2-*')).toBe('  <ncs-min-version>6.2</ncs-min-version>\n'.repeat(3));
      expect(await ok('nso0', 'ls /tmp')).toBe('nso-6.1.7.linux.x86_64.installer.bin\nnso-6.2.3.linux.x86_64.installer.bin\npackages\n');
      expect(await ok('nso0', 'grep -c AES256CFB128 /etc/ncs/ncs.conf')).toBe('2\n');
      expect(await ok('nso0', '/etc/init.d/ncs status')).toMatch(/^ncs \(pid \d+\) is running\.\.\.\n$/);
      expect(await ok('nso0', "ncs_cli -C -c 'show packages package oper-status'")).toBe(
        ['cisco-ios-cli-6.100', 'cisco-iosxr-cli-7.52', 'resource-manager'].map((n) => `packages package ${n} oper-status up\n`).join(''),
      );
    });

    it('runs the seed\'s steps for a major upgrade: backup, install, stop, compact, switch links, start with package reload', async () => {
      await start();
      await ok('nso0', 'ncs_cli -C -u admin', WRITE('before the upgrade'));
      expect(await ok('nso0', 'ncs-backup')).toMatch(/^INFO {2}Backup \/var\/opt\/ncs\/backups\/ncs-6\.1\.4@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.backup\.gz created successfully\n$/);
      expect(await ok('nso0', 'sh /tmp/nso-6.2.3.linux.x86_64.installer.bin --system-install')).toContain('INFO  NCS installation complete');
      expect(await ok('nso0', 'ncs --version')).toBe('6.1.4\n');
      const compactRunning = await sh('nso0', 'ncs --cdb-compact /var/opt/ncs/cdb');
      expect(compactRunning).toMatchObject({ code: 1, stderr: 'ncs: the CDB in /var/opt/ncs/cdb is in use by a running NSO; stop NSO first\n' });
      expect(await ok('nso0', '/etc/init.d/ncs stop')).toBe('Stopping ncs: .\n');
      expect(state('nso0').cdb.writeLog).toBe(1);
      const before = await ok('nso0', 'ls -l /var/opt/ncs/cdb/A.cdb');
      await ok('nso0', 'ncs --cdb-compact /var/opt/ncs/cdb');
      expect(state('nso0').cdb.writeLog).toBe(0);
      expect(await ok('nso0', 'ls -l /var/opt/ncs/cdb/A.cdb')).not.toBe(before);
      await ok('nso0', 'rm -f /opt/ncs/current && ln -s /opt/ncs/ncs-6.2.3 /opt/ncs/current');
      expect(await ok('nso0', 'ncs --version')).toBe('6.2.3\n');
      await ok('nso0', 'rm -f /var/opt/ncs/packages/* && ln -s /opt/ncs/packages/ncs-6.2-* /var/opt/ncs/packages/');
      expect(await ok('nso0', 'ls /var/opt/ncs/packages')).toBe('ncs-6.2-cisco-ios-cli-6.100-6.100.2.tar.gz\nncs-6.2-cisco-iosxr-cli-7.52-7.52.1.tar.gz\nncs-6.2-resource-manager-4.2.9.tar.gz\n');
      expect(await ok('nso0', '/etc/init.d/ncs start-with-package-reload')).toBe('Starting ncs: ...\n');
      expect(await ok('nso0', "ncs_cli -C -c 'show ncs-state version'")).toBe('ncs-state version 6.2.3\n');
      expect(await ok('nso0', "ncs_cli -C -c 'show packages package oper-status'")).not.toContain('error');
      expect(state('nso0').cdb).toMatchObject({ version: '6.2.3', entries: { 'devices device ce0 description': 'before the upgrade' } });
    });

    it('starting a new major release without the packages built for it leaves them failing, naming the release', async () => {
      await start();
      await ok('nso0', '/etc/init.d/ncs stop && sh /tmp/nso-6.2.3.linux.x86_64.installer.bin --system-install && rm -f /opt/ncs/current && ln -s /opt/ncs/ncs-6.2.3 /opt/ncs/current');
      await ok('nso0', '/etc/init.d/ncs start-with-package-reload');
      expect(await ok('nso0', "ncs_cli -C -c 'show packages package oper-status'")).toContain(
        'packages package cisco-ios-cli-6.100 oper-status file-load-error error-info "package built for NSO 6.1, running 6.2.3"',
      );
    });

    it('a package named for the new release but built for the old one fails the same way', async () => {
      await start({ nso: { misbuiltPackages: { 'ncs-6.2-resource-manager-4.2.9.tar.gz': '6.1' } } });
      expect(await ok('nso0', 'zgrep -H ncs-min-version /opt/ncs/packages/ncs-6.2-resource-manager-4.2.9.tar.gz')).toBe(
        '/opt/ncs/packages/ncs-6.2-resource-manager-4.2.9.tar.gz:  <ncs-min-version>6.1</ncs-min-version>\n',
      );
    });

    it('a start that reloads packages fails when a package was removed, and succeeds once it is back', async () => {
      await start();
      await ok('nso0', '/etc/init.d/ncs stop && rm /var/opt/ncs/packages/ncs-6.1-resource-manager-4.2.9.tar.gz');
      const failed = await sh('nso0', '/etc/init.d/ncs start-with-package-reload');
      expect(failed.code).toBe(1);
      expect(failed.stderr).toBe('Starting ncs: package reload would remove resource-manager and delete their data; put the packages back in /var/opt/ncs/packages and start again\n');
      await ok('nso0', 'ln -s /opt/ncs/packages/ncs-6.1-resource-manager-4.2.9.tar.gz /var/opt/ncs/packages/');
      await ok('nso0', '/etc/init.d/ncs start-with-package-reload');
    });

    it('a start that outlasts the init system reports a timeout, yet NSO comes up', async () => {
      await start({ nso: { slowStartMs: 300 } });
      await ok('nso0', '/etc/init.d/ncs stop');
      const slow = await sh('nso0', '/etc/init.d/ncs start-with-package-reload');
      expect(slow.code).toBe(1);
      expect(slow.stdout).toContain('because a timeout was exceeded');
      expect(slow.stdout).toContain('[FAILED]');
      expect(await ok('nso0', '/etc/init.d/ncs status')).toMatch(/is running/);
      expect((await sh('nso0', "ncs_cli -C -c 'show ncs-state version'")).stderr).toBe('Failed to connect to server\n');
      await until(async () => (await sh('nso0', "ncs_cli -C -c 'show ncs-state version'")).code === 0);
    });

    it('`ncs --stop` stops it, restart-with-package-reload restarts it', async () => {
      await start();
      await ok('nso0', 'ncs --stop');
      expect((await sh('nso0', '/etc/init.d/ncs status')).code).toBe(3);
      expect((await sh('nso0', 'ncs --stop')).stderr).toBe('connection refused (stop)\n');
      await ok('nso0', '/etc/init.d/ncs start');
      expect(await ok('nso0', '/etc/init.d/ncs restart-with-package-reload')).toBe('Stopping ncs: .\nStarting ncs: ...\n');
    });

    it('reports disk space, and an installer without room installs nothing', async () => {
      await start({ nso: { diskAvailableKb: 1_000_000 } });
      const df = (await ok('nso0', 'df -Pk /opt')).split('\n');
      expect(df[0]).toBe('Filesystem     1024-blocks      Used Available Capacity Mounted on');
      expect(df[1]?.split(/\s+/)).toEqual(['/dev/sda1', '52403200', '51403200', '1000000', '99%', '/']);
      const install = await sh('nso0', 'sh /tmp/nso-6.2.3.linux.x86_64.installer.bin --system-install');
      expect(install).toMatchObject({ code: 1, stderr: 'ERROR  Not enough disk space in /opt/ncs: 1500000 KB needed, 1000000 KB available\n' });
    });

    it('installFails: the installer exits 1 and installs nothing', async () => {
      await start({ faults: { nso0: [{ kind: 'installFails' }] } });
      const result = await sh('nso0', 'sh /tmp/nso-6.1.7.linux.x86_64.installer.bin --system-install');
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^ERROR {2}failed to unpack nso-6\.1\.7\.linux\.x86_64\.installer\.bin/);
      expect((await sh('nso0', 'test -d /opt/ncs/ncs-6.1.7')).code).toBe(1);
      expect((await sh('nso0', 'sh /tmp/nso-9.9.linux.x86_64.installer.bin --system-install')).stderr).toBe('sh: 0: cannot open /tmp/nso-9.9.linux.x86_64.installer.bin: No such file\n');
    });
  });

  describe('preparation rules (Preparing for Upgrade)', () => {
    it('NSO 5.3 and later will not start without an AES256CFB128 key in ncs.conf', async () => {
      const conf = '<ncs-config>\n  <load-path><dir>/var/opt/ncs/packages</dir></load-path>\n  <encrypted-strings>\n    <AES256CFB128><key>00</key></AES256CFB128>\n  </encrypted-strings>\n</ncs-config>\n';
      await start({ nso: { version: '5.2.5', installers: ['5.4.7'], packageReleases: ['5.2', '5.4'], files: { '/tmp/ncs.conf.5.4': conf } } });
      expect((await sh('nso0', 'grep -c AES256CFB128 /etc/ncs/ncs.conf')).stdout).toBe('0\n');
      expect(await ok('nso0', 'grep -c AES256CFB128 /opt/ncs/ncs-5.2.5/CHANGES || true')).toBe('0\n');
      await ok('nso0', 'sh /tmp/nso-5.4.7.linux.x86_64.installer.bin --system-install && /etc/init.d/ncs stop && rm -f /opt/ncs/current && ln -s /opt/ncs/ncs-5.4.7 /opt/ncs/current');
      expect(await ok('nso0', 'cat /opt/ncs/current/CHANGES')).toContain('AES256CFB128');
      await ok('nso0', 'rm -f /var/opt/ncs/packages/* && ln -s /opt/ncs/packages/ncs-5.4-* /var/opt/ncs/packages/');
      const refused = await sh('nso0', '/etc/init.d/ncs start-with-package-reload');
      expect(refused).toMatchObject({ code: 1, stderr: 'Starting ncs: Bad configuration: /etc/ncs/ncs.conf: /ncs-config/encrypted-strings/AES256CFB128/key is required by NSO 5.3 and later\n' });
      await ok('nso0', 'cp /tmp/ncs.conf.5.4 /etc/ncs/ncs.conf');
      await ok('nso0', '/etc/init.d/ncs start-with-package-reload');
      expect(state('nso0').runningVersion).toBe('5.4.7');
    });

    it('a release too old for the target needs an intermediate release; its CHANGES says from which', async () => {
      const conf = '<ncs-config><load-path><dir>/var/opt/ncs/packages</dir></load-path><encrypted-strings><AES256CFB128><key>00</key></AES256CFB128></encrypted-strings></ncs-config>\n';
      await start({ nso: { version: '4.7.9', installers: ['5.8.6', '6.2.3'], packageReleases: ['4.7', '5.8', '6.2'], files: { '/tmp/ncs.conf.new': conf } } });
      await ok('nso0', 'sh /tmp/nso-6.2.3.linux.x86_64.installer.bin --system-install && cp /tmp/ncs.conf.new /etc/ncs/ncs.conf');
      expect(await ok('nso0', 'grep intermediate /opt/ncs/ncs-6.2.3/CHANGES')).toBe('- Data is upgraded directly from NSO 5.0 and later; upgrade older releases to an intermediate release first.\n');
      await ok('nso0', '/etc/init.d/ncs stop && rm -f /opt/ncs/current && ln -s /opt/ncs/ncs-6.2.3 /opt/ncs/current');
      await ok('nso0', 'rm -f /var/opt/ncs/packages/* && ln -s /opt/ncs/packages/ncs-6.2-* /var/opt/ncs/packages/');
      const refused = await sh('nso0', '/etc/init.d/ncs start-with-package-reload');
      expect(refused.stderr).toBe('Starting ncs: CDB upgrade failed: NSO 6.2.3 cannot upgrade data from NSO 4.7.9 directly; upgrade to an intermediate release (NSO 5.0 or later) first\n');
      expect(state('nso0').cdb.version).toBe('4.7.9');
    });
  });

  describe('recovery from a failed upgrade (Recover from a Failed Upgrade)', () => {
    it('a failed data upgrade leaves a CDB the old release cannot read; stop, revert the link, check the version, restore, start', async () => {
      await start({ nso: { brokenReleases: ['6.2.3'] } });
      await ok('nso0', 'ncs_cli -C', WRITE('kept by the backup'));
      const backup = /Backup (\S+) created/.exec(await ok('nso0', 'ncs-backup'))?.[1] ?? '';
      await ok('nso0', 'sh /tmp/nso-6.2.3.linux.x86_64.installer.bin --system-install && /etc/init.d/ncs stop && rm -f /opt/ncs/current && ln -s /opt/ncs/ncs-6.2.3 /opt/ncs/current');
      await ok('nso0', 'rm -f /var/opt/ncs/packages/* && ln -s /opt/ncs/packages/ncs-6.2-* /var/opt/ncs/packages/');
      const failed = await sh('nso0', '/etc/init.d/ncs start-with-package-reload');
      expect(failed).toMatchObject({ code: 1, stderr: 'Starting ncs: CDB upgrade failed: internal error in the upgrade of /ncs:devices (see /var/log/ncs/ncs.log)\n' });
      // The restore is refused while `current` still points at the new release.
      const early = await sh('nso0', `ncs-backup --restore ${backup} --non-interactive`);
      expect(early.stderr).toBe(`ERROR  ${backup} was made with NSO 6.1.4 but /opt/ncs/current is NSO 6.2.3; point /opt/ncs/current at ncs-6.1.4 first\n`);
      await ok('nso0', 'rm -f /opt/ncs/current && ln -s /opt/ncs/ncs-6.1.4 /opt/ncs/current');
      expect(await ok('nso0', 'ncs --version')).toBe('6.1.4\n');
      // Without the restore, the old release cannot read what the failed upgrade left.
      expect((await sh('nso0', '/etc/init.d/ncs start')).stderr).toBe(
        'Starting ncs: CDB in /var/opt/ncs/cdb was upgraded by NSO 6.2.3 and cannot be read by NSO 6.1.4; restore a backup taken with NSO 6.1.4\n',
      );
      const shell = await openShell(await client('nso0'), /nso0# $/);
      expect(await shell.run('ncs-backup --restore', [{ prompt: /\[y\/n\] $/, send: 'y' }])).toContain('INFO  Restore completed successfully (NSO 6.1.4)');
      expect(await ok('nso0', '/etc/init.d/ncs start')).toBe('Starting ncs: .\n');
      expect(await ok('nso0', "ncs_cli -C -c 'show running-config devices device ce0 description'")).toBe('devices device ce0 description "kept by the backup"\n');
      expect(await ok('nso0', "ncs_cli -C -c 'show packages package oper-status'")).not.toContain('error');
      expect(await ok('nso0', 'ls /var/opt/ncs/packages')).toContain('ncs-6.1-resource-manager-4.2.9.tar.gz');
    });

    it('asks before restoring, reading the answer from stdin on exec; refuses while NSO runs', async () => {
      await start();
      const path = /Backup (\S+) created/.exec(await ok('nso0', 'ncs-backup'))?.[1] ?? '';
      expect(await sh('nso0', `ncs-backup --restore ${path} --non-interactive`)).toMatchObject({ code: 1, stderr: 'ERROR  NSO is running; stop it first: /etc/init.d/ncs stop\n' });
      await ok('nso0', '/etc/init.d/ncs stop');
      const declined = await sh('nso0', `ncs-backup --restore ${path}`, 'n\n');
      expect(declined.code).toBe(1);
      expect(declined.stdout).toBe('Restore /etc/ncs and /var/opt/ncs from backup? [y/n] INFO  Restore aborted\n');
    });
  });

  describe('the HA cluster (NSO HA Version Upgrade)', () => {
    it('starts converged; writes go to the primary and reach the secondary; a secondary refuses them', async () => {
      await start();
      expect(await ok('nso1', "ncs_cli -C -c 'show high-availability'")).toBe(
        [
          'high-availability enabled',
          'high-availability status mode primary',
          'high-availability status current-id nso1',
          'high-availability status assigned-role primary',
          'high-availability status read-only-mode false',
          `high-availability status connected-secondary nso2 address ${lab!.device('nso2').address}`,
          '',
        ].join('\n'),
      );
      expect((await ha('nso2')).status).toMatchObject({ mode: 'secondary', 'primary-id': 'nso1' });
      expect(await ok('nso1', 'ncs_cli -C -u admin', WRITE('one'))).toBe('Entering configuration mode terminal\nCommit complete.\n');
      expect(await ok('nso2', "ncs_cli -C -c 'show running-config devices device ce0 description'")).toBe('devices device ce0 description one\n');
      const refused = await sh('nso2', 'ncs_cli -C', WRITE('two'));
      expect(refused).toMatchObject({ code: 1, stderr: 'Aborted: this node is an HA secondary of nso1; write to the primary\n' });
    });

    it('read-only mode refuses writes; disabling HA ends it; be-primary keeps it', async () => {
      await start();
      await ok('nso1', "ncs_cli -C -c 'high-availability read-only mode true'");
      await ok('nso2', "ncs_cli -C -c 'high-availability read-only mode true'");
      expect((await sh('nso1', 'ncs_cli -C', WRITE('refused'))).stderr).toBe('Aborted: the node is in high-availability read-only mode\n');
      await ok('nso1', "ncs_cli -C -c 'high-availability disable'");
      expect((await ha('nso1')).status).toMatchObject({ mode: 'none', 'read-only-mode': false });
      expect((await ha('nso2')).status.mode).toBe('none');
      await ok('nso2', "ncs_cli -C -c 'high-availability be-primary'");
      expect((await ha('nso2')).status).toMatchObject({ mode: 'primary', 'read-only-mode': true });
      expect((await sh('nso2', 'ncs_cli -C', WRITE('refused'))).code).toBe(1);
    });

    it('a write taken by a node that later follows another primary is lost, and the lab says so', async () => {
      await start();
      await ok('nso1', "ncs_cli -C -c 'high-availability disable'");
      await ok('nso2', "ncs_cli -C -c 'high-availability be-primary'");
      await ok('nso2', 'ncs_cli -C', WRITE('taken by nso2 alone'));
      expect(description('nso2')).toBe('taken by nso2 alone');
      await ok('nso1', "ncs_cli -C -c 'high-availability enable'");
      await ok('nso2', "ncs_cli -C -c 'high-availability be-secondary-to node nso1'");
      expect((await ha('nso2')).status).toMatchObject({ mode: 'secondary', 'primary-id': 'nso1' });
      expect(description('nso2')).toBeUndefined();
      expect(state('nso2').cdb.discarded).toEqual(['nso2-1']);
    });

    it('a secondary joins only a primary running the same release with the same packages', async () => {
      await start();
      await ok('nso2', "ncs_cli -C -c 'high-availability disable'");
      await ok('nso2', 'sh /tmp/nso-6.1.7.linux.x86_64.installer.bin --system-install && rm -f /opt/ncs/current && ln -s /opt/ncs/ncs-6.1.7 /opt/ncs/current');
      expect(await ok('nso2', '/etc/init.d/ncs restart-with-package-reload')).toBe('Stopping ncs: .\nStarting ncs: ...\n');
      await ok('nso2', "ncs_cli -C -c 'high-availability enable'");
      expect((await ha('nso2')).status).toMatchObject({ mode: 'none', 'assigned-role': 'secondary' });
      const follow = await sh('nso2', "ncs_cli -C -c 'high-availability be-secondary-to node nso1'");
      expect(follow).toMatchObject({ code: 1, stderr: 'Error: failed to connect to primary nso1: version mismatch (6.1.4 there, 6.1.7 here)\n' });
    });

    it('with a third node left in HA, promoting the failover-primary ends its read-only mode (why the seed disables it first)', async () => {
      await start({ topology: { nsoThirdNode: true } });
      expect((await ha('nso1')).status['connected-secondary']?.map((s) => s.id)).toEqual(['nso2', 'nso3']);
      for (const node of ['nso1', 'nso2']) await ok(node, "ncs_cli -C -c 'high-availability read-only mode true'");
      await ok('nso1', "ncs_cli -C -c 'high-availability disable'");
      await ok('nso2', "ncs_cli -C -c 'high-availability be-primary'");
      expect((await ha('nso3')).status).toMatchObject({ mode: 'secondary', 'primary-id': 'nso2' });
      expect((await ha('nso2')).status).toMatchObject({ mode: 'primary', 'read-only-mode': false });
      await ok('nso2', 'ncs_cli -C', WRITE('written while the primary was out'));
    });

    it('with the third node disabled first, the failover-primary stays read-only', async () => {
      await start({ topology: { nsoThirdNode: true } });
      for (const node of ['nso1', 'nso2']) await ok(node, "ncs_cli -C -c 'high-availability read-only mode true'");
      await ok('nso3', "ncs_cli -C -c 'high-availability disable'");
      await ok('nso1', "ncs_cli -C -c 'high-availability disable'");
      await ok('nso2', "ncs_cli -C -c 'high-availability be-primary'");
      expect((await ha('nso2')).status).toMatchObject({ mode: 'primary', 'read-only-mode': true });
    });

    it('backups hold the database; a restore brings a node back to it', async () => {
      await start();
      const backup = /Backup (\S+) created/.exec(await ok('nso1', 'ncs-backup'))?.[1] ?? '';
      await ok('nso1', 'ncs_cli -C', WRITE('after the backup'));
      await ok('nso1', `/etc/init.d/ncs stop && ncs-backup --restore ${backup} --non-interactive && /etc/init.d/ncs start`);
      expect(description('nso1')).toBeUndefined();
    });

    it('a backup does not hold /opt/ncs/packages (the caution under Preparing for Upgrade): a package removed from there stays removed', async () => {
      await start();
      const backup = /Backup (\S+) created/.exec(await ok('nso0', 'ncs-backup'))?.[1] ?? '';
      await ok('nso0', 'rm /opt/ncs/packages/ncs-6.2-resource-manager-4.2.9.tar.gz');
      await ok('nso0', `/etc/init.d/ncs stop && ncs-backup --restore ${backup} --non-interactive && /etc/init.d/ncs start`);
      expect((await sh('nso0', 'test -f /opt/ncs/packages/ncs-6.2-resource-manager-4.2.9.tar.gz')).code).toBe(1);
      // The load path's links are under /var/opt/ncs, which the backup does hold.
      expect(await ok('nso0', 'ls /var/opt/ncs/packages')).toContain('ncs-6.1-resource-manager-4.2.9.tar.gz');
    });

    it('calls the test hook before each command, and waits for it', async () => {
      const seen: string[] = [];
      await start({
        nso: {
          beforeCommand: async (node, line) => {
            seen.push(`${node}: ${line}`);
            await new Promise((resolve) => setTimeout(resolve, 20));
          },
        },
      });
      await ok('nso1', 'ncs --version');
      expect(seen).toEqual(['nso1: ncs --version']);
    });
  });

  describe('package upgrades (Package Upgrade)', () => {
    it('a single node: backup, install with replace-existing, packages reload as the seed prints it', async () => {
      await start();
      await ok('nso0', 'ncs-backup');
      const exists = await sh('nso0', "ncs_cli -C -c 'software packages install package cisco-ios-cli-6.100-6.100.3'");
      expect(exists.stderr).toBe('Error: package cisco-ios-cli-6.100-6.100.3 not found in /opt/ncs/packages\n');
      await ok('nso0', "ncs_cli -C -c 'software packages fetch package-from-file /tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz'");
      const without = await sh('nso0', "ncs_cli -C -c 'software packages install package cisco-ios-cli-6.100-6.100.3'");
      expect(without.stderr).toBe('Error: package cisco-ios-cli-6.100 is already installed (ncs-6.1-cisco-ios-cli-6.100-6.100.2.tar.gz); add replace-existing to replace it\n');
      expect(await ok('nso0', "ncs_cli -C -c 'software packages install package cisco-ios-cli-6.100-6.100.3 replace-existing'")).toBe(
        'installed ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz\n',
      );
      const reload = await ok('nso0', "ncs_cli -C -c 'packages reload'");
      expect(reload).toMatch(/^>>> System upgrade is starting\.\n.*\n.*\n>>> System upgrade has completed successfully\.\nreload-result \{\n {4}package cisco-ios-cli-6\.100\n {4}result true\n\}\n/);
      expect(await ok('nso0', "ncs_cli -C -c 'show packages package package-version'")).toContain('packages package cisco-ios-cli-6.100 package-version 6.100.3\n');
    });

    it('a reload that would remove a package asks for force', async () => {
      await start();
      await ok('nso0', 'rm /var/opt/ncs/packages/ncs-6.1-resource-manager-4.2.9.tar.gz');
      expect((await sh('nso0', "ncs_cli -C -c 'packages reload'")).stderr).toBe(
        "Error: the reload would remove resource-manager and delete their data; put them back in /var/opt/ncs/packages, or use 'packages reload force'\n",
      );
      await ok('nso0', "ncs_cli -C -c 'packages reload force'");
      expect(state('nso0').packages.inUse).toHaveLength(2);
    });

    it('a reload on the primary alone breaks the HA connection: the secondary runs other packages', async () => {
      await start();
      await ok('nso1', "ncs_cli -C -c 'software packages fetch package-from-file /tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz'");
      await ok('nso1', "ncs_cli -C -c 'software packages install package cisco-ios-cli-6.100-6.100.3 replace-existing'");
      await ok('nso1', "ncs_cli -C -c 'packages reload'");
      expect((await ha('nso2')).status.mode).toBe('none');
    });

    it('packages ha sync and-reload: read-only while it runs, waits for an empty commit queue, reloads every node, gives the mode back', async () => {
      await start({ nso: { commitQueueItemMs: 200 } });
      await ok('nso1', "ncs_cli -C -c 'software packages fetch package-from-file /tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz'");
      await ok('nso1', "ncs_cli -C -c 'software packages install package cisco-ios-cli-6.100-6.100.3 replace-existing'");
      expect(await ok('nso1', 'ncs_cli -C', 'config\ndevices device pe0 description queued\ncommit commit-queue async\n')).toMatch(/^Entering configuration mode terminal\ncommit-queue-id \d+\nCommit complete\.\n$/);
      expect(await ok('nso1', "ncs_cli -C -c 'show devices commit-queue'")).toMatch(/^devices commit-queue queue-item \d+ status executing\n$/);
      const sync = sh('nso1', "ncs_cli -C -c 'packages ha sync and-reload { wait-commit-queue-empty }'");
      await until(() => (state('nso1').ha.readOnly ? true : undefined));
      expect((await sh('nso1', 'ncs_cli -C', WRITE('during the package upgrade'))).stderr).toBe('Aborted: the node is in high-availability read-only mode\n');
      const result = await sync;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('sync-result {\n    node nso2\n    result true\n}\n');
      expect(state('nso1').commitQueue).toBe(0);
      expect(state('nso1').ha.readOnly).toBe(false);
      for (const node of ['nso1', 'nso2']) {
        expect(await ok(node, "ncs_cli -C -c 'show packages package package-version'")).toContain('cisco-ios-cli-6.100 package-version 6.100.3');
      }
      expect(state('nso2').packages.loadPath).toContain('ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz');
      expect(await ok('nso2', 'readlink /var/opt/ncs/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz || echo a file')).toBe('a file\n');
      expect((await ha('nso2')).status.mode).toBe('secondary');
    });

    it('packages ha sync reaches every connected secondary, not a node whose role is none', async () => {
      await start({ topology: { nsoThirdNode: true } });
      await ok('nso3', "ncs_cli -C -c 'high-availability disable'");
      await ok('nso1', "ncs_cli -C -c 'software packages fetch package-from-file /tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz'");
      await ok('nso1', "ncs_cli -C -c 'software packages install package cisco-ios-cli-6.100-6.100.3 replace-existing'");
      const result = await ok('nso1', "ncs_cli -C -c 'packages ha sync and-reload { wait-commit-queue-empty }'");
      expect(result).toContain('node nso2');
      expect(result).not.toContain('node nso3');
      expect(state('nso2').packages.inUse).toContain('cisco-ios-cli-6.100@6.100.3 (built for 6.1)');
      expect(state('nso3').packages.inUse).toContain('cisco-ios-cli-6.100@6.100.2 (built for 6.1)');
    });

    it('without the wait, items still in the commit queue fail the upgrade and leave the primary read-write', async () => {
      await start({ nso: { commitQueueItemMs: 600_000 } });
      await ok('nso1', "ncs_cli -C -c 'high-availability read-only mode false'");
      await ok('nso1', 'ncs_cli -C', 'config\ndevices device pe0 description queued\ncommit commit-queue async\n');
      const result = await sh('nso1', "ncs_cli -C -c 'packages ha sync and-reload'");
      expect(result).toMatchObject({ code: 1, stderr: 'Error: the commit queue holds 1 item(s) that rely on the old schema; wait for it to empty (wait-commit-queue-empty)\n' });
      expect(state('nso1').ha.readOnly).toBe(false);
    });

    it('a package built for another release fails the reload; the primary is left read-write even if it was read-only', async () => {
      await start();
      await ok('nso1', "ncs_cli -C -c 'high-availability read-only mode true'");
      await ok('nso1', "ncs_cli -C -c 'software packages fetch package-from-file /tmp/packages/ncs-6.2-cisco-ios-cli-6.100-6.100.3.tar.gz'");
      await ok('nso1', "ncs_cli -C -c 'software packages install package ncs-6.2-cisco-ios-cli-6.100-6.100.3 replace-existing'");
      const result = await sh('nso1', "ncs_cli -C -c 'packages ha sync and-reload { wait-commit-queue-empty }'");
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('package cisco-ios-cli-6.100\n    result false\n    info package built for NSO 6.2, running 6.1.4');
      expect(state('nso1').ha.readOnly).toBe(false);
    });

    it('runs on the primary only, and does not start when the load paths differ', async () => {
      const otherLoadPath = '<ncs-config><load-path><dir>/srv/packages</dir></load-path><encrypted-strings><AES256CFB128><key>00</key></AES256CFB128></encrypted-strings></ncs-config>\n';
      await start({ nso: { files: { '/tmp/other-load-path.conf': otherLoadPath } } });
      expect((await sh('nso2', "ncs_cli -C -c 'packages ha sync and-reload'")).stderr).toBe('Error: packages ha sync runs on the primary node; nso2 is secondary\n');
      await ok('nso2', 'cp /tmp/other-load-path.conf /etc/ncs/ncs.conf');
      const result = await sh('nso1', "ncs_cli -C -c 'packages ha sync and-reload'");
      expect(result).toMatchObject({ code: 1, stderr: 'Error: the load path differs: /var/opt/ncs/packages on nso1, /srv/packages on nso2; the distribution did not start\n' });
      expect(state('nso1').ha.readOnly).toBe(false);
    });
  });
});
