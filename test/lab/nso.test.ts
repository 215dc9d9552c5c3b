import type { Client } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab, type LabOptions } from '../../lab/index.js';
import { connect, exec, openShell, run, type ExecResult } from '../helpers/ssh-client.js';

interface HaStatus {
  enabled: boolean;
  status: { mode: string; 'assigned-role': string; 'read-only-mode': boolean; 'primary-id'?: string; 'connected-secondary'?: Array<{ id: string; address: string }> };
}

describe('the NSO HA pair', () => {
  let lab: Lab | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.end();
    await lab?.stop();
    lab = undefined;
  });

  const start = async (options: LabOptions = {}): Promise<{ nso1: Client; nso2: Client }> => {
    lab = await startLab({ addressPrefix: '127.0.14', topology: { spines: 0, leaves: 0, storageNodes: 0, chassis: false }, ...options });
    const open = async (name: string): Promise<Client> => {
      const client = await connect({ host: lab?.device(name).address ?? '', port: lab?.device(name).port ?? 0 });
      clients.push(client);
      return client;
    };
    return { nso1: await open('nso1'), nso2: await open('nso2') };
  };
  const ok = async (client: Client, command: string): Promise<string> => {
    const result: ExecResult = await exec(client, command);
    expect(result.code, `${command}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const ha = async (client: Client): Promise<HaStatus> =>
    (JSON.parse(await ok(client, "ncs_cli -C -c 'show high-availability | display json'")) as { data: { 'tailf-ncs:high-availability': HaStatus } }).data[
      'tailf-ncs:high-availability'
    ];

  it('starts converged: nso1 primary with nso2 connected, both on 6.1.4', async () => {
    const { nso1, nso2 } = await start();
    expect(await ok(nso1, 'ncs --version')).toBe('6.1.4\n');
    expect(await ok(nso1, "ncs_cli -C -c 'show high-availability'")).toBe(
      [
        'high-availability enabled',
        'high-availability status mode primary',
        'high-availability status current-id nso1',
        'high-availability status assigned-role primary',
        'high-availability status read-only-mode false',
        `high-availability status connected-secondary nso2 address ${lab?.device('nso2').address}`,
        '',
      ].join('\n'),
    );
    expect((await ha(nso2)).status).toMatchObject({ mode: 'secondary', 'primary-id': 'nso1' });
    expect(await ok(nso2, "ncs_cli -C -u admin -c 'show ncs-state version'")).toBe('ncs-state version 6.1.4\n');
    expect(await ok(nso1, 'readlink /opt/ncs/current')).toBe('/opt/ncs/ncs-6.1.4\n');
    expect(await ok(nso1, 'head -n 1 /opt/ncs/current/CHANGES')).toBe('NSO 6.1.4\n');
    expect(await ok(nso1, 'ls /tmp')).toBe('nso-6.1.7.linux.x86_64.installer.bin\nnso-6.2.3.linux.x86_64.installer.bin\n');
    expect(await ok(nso1, '/etc/init.d/ncs status')).toMatch(/^ncs \(pid \d+\) is running\.\.\.\n$/);
    expect((await exec(nso1, "ncs_cli -C -c 'show bogus'")).code).toBe(1);
  });

  it('reports disk space and which releases packages are built for', async () => {
    const { nso1 } = await start({ nso: { diskAvailableKb: 1_000_000 } });
    const df = (await ok(nso1, 'df -Pk /opt')).split('\n');
    expect(df[0]).toBe('Filesystem     1024-blocks      Used Available Capacity Mounted on');
    expect(df[1]?.split(/\s+/)).toEqual(['/dev/sda1', '52403200', '51403200', '1000000', '99%', '/']);
    expect(await ok(nso1, 'grep -h ncs-min-version /opt/ncs/packages/nso-6.2/*/package-meta-data.xml')).toBe(
      '  <ncs-min-version>6.2</ncs-min-version>\n'.repeat(3),
    );
    expect(await ok(nso1, 'readlink -f /var/opt/ncs/packages')).toBe('/opt/ncs/packages/nso-6.1\n');
    expect((await exec(nso1, 'ls /opt/ncs/packages/nso-6.3')).code).toBe(2);
    const install = await exec(nso1, 'sh /tmp/nso-6.2.3.linux.x86_64.installer.bin --system-install');
    expect(install.code).toBe(1);
    expect(install.stderr).toBe('ERROR  Not enough disk space in /opt/ncs: 1500000 KB needed, 1000000 KB available\n');
  });

  it('major upgrade of one node: backup, disable HA, install, switch links, restart; HA will not rejoin across versions', async () => {
    const { nso1, nso2 } = await start();
    const backup = await ok(nso2, 'ncs-backup');
    const path = /^INFO {2}Backup (\S+) created successfully\n$/.exec(backup)?.[1] ?? '';
    expect(path).toMatch(/^\/var\/opt\/ncs\/backups\/ncs-6\.1\.4@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.backup\.gz$/);
    expect(await ok(nso2, 'ls /var/opt/ncs/backups')).toBe(`${path.split('/').pop()}\n`);

    await ok(nso1, "ncs_cli -C -c 'high-availability read-only mode true'");
    expect((await ha(nso1)).status['read-only-mode']).toBe(true);
    await ok(nso2, "ncs_cli -C -c 'high-availability disable'");
    expect((await ha(nso1)).status['connected-secondary']).toEqual([]);
    expect(await ok(nso2, '/etc/init.d/ncs stop')).toBe('Stopping ncs: .\n');
    expect((await exec(nso2, "ncs_cli -C -c 'show high-availability'")).code).toBe(1);
    const install = await ok(nso2, 'sudo sh /tmp/nso-6.2.3.linux.x86_64.installer.bin --system-install --non-interactive');
    expect(install).toContain('INFO  Unpacked ncs-6.2.3 in /opt/ncs/ncs-6.2.3');
    expect(await ok(nso2, 'head -n 1 /opt/ncs/ncs-6.2.3/CHANGES')).toBe('NSO 6.2.3\n');
    expect(await ok(nso2, 'ncs --version')).toBe('6.1.4\n');
    await ok(nso2, 'ln -sfn /opt/ncs/ncs-6.2.3 /opt/ncs/current');
    // Without -n, ln follows the old link and lands inside the folder it points to.
    await ok(nso2, 'ln -sf /opt/ncs/packages/nso-6.2 /var/opt/ncs/packages');
    expect(await ok(nso2, 'readlink /var/opt/ncs/packages/nso-6.2')).toBe('/opt/ncs/packages/nso-6.2\n');
    await ok(nso2, 'ln -sfn /opt/ncs/packages/nso-6.2 /var/opt/ncs/packages');
    expect(await ok(nso2, 'ls -l /opt/ncs/current')).toMatch(/^lrwxrwxrwx 1 root root +\d+ \w{3} [ \d]\d \d\d:\d\d \/opt\/ncs\/current -> \/opt\/ncs\/ncs-6\.2\.3\n$/);
    expect(await ok(nso2, 'ncs --version')).toBe('6.2.3\n');
    await ok(nso2, '/etc/init.d/ncs start-with-package-reload');
    expect(await ok(nso2, "ncs_cli -C -c 'show ncs-state version'")).toBe('ncs-state version 6.2.3\n');
    expect(await ok(nso2, "ncs_cli -C -c 'show packages package oper-status'")).toBe(
      ['cisco-ios-cli-6.100', 'cisco-iosxr-cli-7.52', 'resource-manager'].map((name) => `packages package ${name} oper-status up\n`).join(''),
    );
    await ok(nso2, "ncs_cli -C -c 'high-availability enable'");
    expect((await ha(nso2)).status).toMatchObject({ mode: 'none', 'assigned-role': 'secondary' });
    const follow = await exec(nso2, "ncs_cli -C -c 'high-availability be-secondary-to node nso1'");
    expect(follow.code).toBe(1);
    expect(follow.stderr).toBe('Error: failed to connect to primary nso1: version mismatch (6.1.4 there, 6.2.3 here)\n');
    // Promote the upgraded node, as a runbook does before upgrading the old primary.
    await ok(nso2, "ncs_cli -C -c 'high-availability be-primary'");
    expect((await ha(nso2)).status.mode).toBe('primary');
    expect(lab?.state('nso2')).toMatchObject({ runningVersion: '6.2.3', current: '/opt/ncs/ncs-6.2.3', ha: { mode: 'primary' } });
  });

  it('starting a new major release without the rebuilt packages leaves them failing', async () => {
    const { nso1 } = await start();
    await ok(nso1, '/etc/init.d/ncs stop && sh /tmp/nso-6.2.3.linux.x86_64.installer.bin --system-install && ln -sfn /opt/ncs/ncs-6.2.3 /opt/ncs/current');
    await ok(nso1, '/etc/init.d/ncs start');
    expect(await ok(nso1, "ncs_cli -C -c 'show packages package oper-status'")).toContain(
      'packages package cisco-ios-cli-6.100 oper-status file-load-error error-info "package built for NSO 6.1, running 6.2.3"',
    );
  });

  it('restores a backup after confirming, on exec through stdin or in a shell', async () => {
    const { nso1 } = await start();
    const path = /Backup (\S+) created/.exec(await ok(nso1, 'ncs-backup'))?.[1] ?? '';
    await ok(nso1, 'sh /tmp/nso-6.1.7.linux.x86_64.installer.bin --system-install && ln -sfn /opt/ncs/ncs-6.1.7 /opt/ncs/current && /etc/init.d/ncs restart');
    expect(await ok(nso1, "ncs_cli -C -c 'show ncs-state version'")).toBe('ncs-state version 6.1.7\n');
    const running = await exec(nso1, `ncs-backup --restore ${path} --non-interactive`);
    expect(running).toMatchObject({ code: 1, stderr: 'ERROR  NSO is running; stop it first: /etc/init.d/ncs stop\n' });
    await ok(nso1, '/etc/init.d/ncs stop');
    const declined = await exec(nso1, `ncs-backup --restore ${path}`, { stdin: 'n\n' });
    expect(declined.code).toBe(1);
    expect(declined.stdout).toContain('Restore /etc/ncs, /var/opt/ncs and /opt/ncs/current from backup? [y/n] ');
    expect(await ok(nso1, 'readlink /opt/ncs/current')).toBe('/opt/ncs/ncs-6.1.7\n');
    const shell = await openShell(nso1, /nso1# $/);
    const restored = await shell.run(`ncs-backup --restore ${path}`, [{ prompt: /\[y\/n\] $/, send: 'y' }]);
    expect(restored).toContain('INFO  Restore completed successfully (NSO 6.1.4)');
    await ok(nso1, '/etc/init.d/ncs start');
    expect(await ok(nso1, "ncs_cli -C -c 'show ncs-state version'")).toBe('ncs-state version 6.1.4\n');
    expect((await exec(nso1, '/etc/init.d/ncs status')).code).toBe(0);
  });

  it('installFails: the installer exits 1 and installs nothing', async () => {
    const { nso2 } = await start({ faults: { nso2: [{ kind: 'installFails' }] } });
    const result = await exec(nso2, 'sh /tmp/nso-6.1.7.linux.x86_64.installer.bin --system-install');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ERROR {2}failed to unpack nso-6\.1\.7\.linux\.x86_64\.installer\.bin/);
    expect((await exec(nso2, 'test -d /opt/ncs/ncs-6.1.7')).code).toBe(1);
  });
});

describe('the NSO command line', () => {
  it('answers a missing installer like sh does', async () => {
    const lab = await startLab({ addressPrefix: '127.0.14', addresses: { nso1: '127.0.14.181', nso2: '127.0.14.182' }, topology: { spines: 0, leaves: 0, storageNodes: 0, chassis: false } });
    try {
      const result = await run({ host: lab.device('nso1').address, port: lab.device('nso1').port }, 'sh /tmp/nso-9.9.linux.x86_64.installer.bin --system-install');
      expect(result).toEqual({ stdout: '', stderr: 'sh: 0: cannot open /tmp/nso-9.9.linux.x86_64.installer.bin: No such file\n', code: 2 });
    } finally {
      await lab.stop();
    }
  });
});
