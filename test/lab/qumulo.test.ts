import type { SFTPWrapper } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { createQumuloImage, type ClusterEvent, type QumuloOptions } from '../../lab/devices/qumulo.js';
import { startLab, type Lab } from '../../lab/index.js';
import { connect, exec, run, until, type SshTarget } from '../helpers/ssh-client.js';

// The Qumulo cluster of the lab against ../shared/seeds/001_8a6dde0c99dc744f.txt: the status fields and
// states of `qq upgrade_status`, the two-phase and one-step syntax, instant against platform upgrades
// (decided by the mode reference), complete against rolling reboots as the clients see them.

const NODES = ['qumulo1', 'qumulo2', 'qumulo3', 'qumulo4'];
const INSTANT = '/upgrade/qumulo_core_7.0.2.qimg';
const PLATFORM = '/upgrade/qumulo_core_7.1.0.1.qimg';

interface UpgradeStatus {
  install_path: string;
  state: string;
  details: string;
  error_message: string;
  error_state: string;
  is_blocked: boolean;
  blocked_reason: string;
}

describe('the Qumulo storage cluster', () => {
  let lab: Lab | undefined;
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });

  const start = async (
    timings: { prepareMs: number; commitMs: number; rebootDelayMs: number } = { prepareMs: 100, commitMs: 50, rebootDelayMs: 150 },
    qumulo: Partial<QumuloOptions> = {},
  ): Promise<Lab> => {
    lab = await startLab({
      addressPrefix: '127.0.13',
      timings,
      qumulo: { containerRestartMs: 150, restripeMs: 20, ...qumulo },
      topology: { spines: 0, leaves: 0, nso: false, chassis: false },
    });
    return lab;
  };
  const target = (name: string): SshTarget => ({ host: lab?.device(name).address ?? '', port: lab?.device(name).port ?? 0 });
  const qq = async <T>(name: string, command: string): Promise<T> => {
    const result = await run(target(name), `qq ${command}`);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  };
  const status = () => lab!.state('qumulo1').upgrade as UpgradeStatus;
  const events = () => lab!.state('qumulo1').events as ClusterEvent[];
  const eventsOf = (...kinds: Array<ClusterEvent['event']>) => events().filter((e) => kinds.includes(e.event)).map((e) => (e.node ? `${e.event} ${e.node}` : e.event));
  const waitForState = (state: string, timeoutMs = 15_000) => until(() => (status().state === state ? status() : undefined), timeoutMs, 5);
  const waitUpgraded = (version: string) => until(() => (lab!.state('qumulo1').version === version && status().state === 'UPGRADE_IDLE' ? true : undefined), 15_000, 5);

  it('reports its version and nodes, and tells instant from platform images as the mode reference does', async () => {
    await start();
    expect(await qq('qumulo2', 'version')).toMatchObject({ revision_id: 'Qumulo Core 7.0.0.1', version: '7.0.0.1' });
    const nodes = await qq<Array<{ id: number; name: string; state: string }>>('qumulo1', 'nodes_list');
    expect(nodes.map(({ id, name, state }) => ({ id, name, state }))).toEqual(NODES.map((name, index) => ({ id: index + 1, name, state: 'ONLINE' })));
    expect((await run(target('qumulo3'), 'ls /upgrade')).stdout).toBe('qumulo_core_7.0.2.qimg\nqumulo_core_7.1.0.1.qimg\nqumulo_core_7.2.3.1.qimg\n');
    expect(await qq('qumulo1', `upgrade_verify_image --path ${INSTANT}`)).toEqual({ upgrade_type: 'INSTANT', current_version: '7.0.0.1', target_version: '7.0.2' });
    // 7.1.0.1 is a platform release, and upgrading past one reboots too.
    expect(await qq('qumulo1', `upgrade_verify_image --path ${PLATFORM}`)).toMatchObject({ upgrade_type: 'PLATFORM' });
    expect(await qq('qumulo1', 'upgrade_verify_image --path /upgrade/qumulo_core_7.2.3.1.qimg')).toMatchObject({ upgrade_type: 'PLATFORM' });
    expect((await run(target('qumulo1'), 'qq upgrade_verify_image')).code).toBe(2);
    expect((await run(target('qumulo1'), 'qq frobnicate')).code).toBe(2);
  });

  it('refuses a missing, damaged, older or wrong-deployment image when verifying it', async () => {
    await start(undefined, {
      files: {
        '/upgrade/garbage.qimg': createQumuloImage('7.2.3.1', { damage: 'header' }),
        '/upgrade/cloud.qimg': createQumuloImage('7.2.3.1', { deployment: 'cloud' }),
        '/upgrade/old.qimg': createQumuloImage('6.3.2'),
      },
    });
    const refusal = async (path: string) => {
      const result = await run(target('qumulo1'), `qq upgrade_verify_image --path ${path}`);
      expect(result.code).toBe(1);
      return result.stderr;
    };
    expect(await refusal('/upgrade/nope.qimg')).toBe('Error 404: fs_no_such_entry_error: No such file or directory: /upgrade/nope.qimg\n');
    expect(await refusal('/upgrade/garbage.qimg')).toMatch(/upgrade_invalid_image_error: .* is not a Qumulo Core upgrade image/);
    expect(await refusal('/upgrade/cloud.qimg')).toMatch(/is a cloud image; this cluster needs an on-prem image/);
    expect(await refusal('/upgrade/old.qimg')).toMatch(/upgrade_version_error: 6\.3\.2 is not newer than the running version 7\.0\.0\.1/);
  });

  it('prints the status with the document\'s fields and UPGRADE_ states, advancing over time: an instant upgrade restarts containers and reboots nothing', async () => {
    await start({ prepareMs: 300, commitMs: 100, rebootDelayMs: 150 }, { containerRestartMs: 300 });
    const watcher = await connect(target('qumulo4'));
    const dropped: string[] = [];
    watcher.on('close', () => dropped.push('qumulo4'));
    const idle = await qq<UpgradeStatus>('qumulo1', 'upgrade_status');
    expect(Object.keys(idle)).toEqual(['install_path', 'state', 'details', 'error_message', 'error_state', 'is_blocked', 'blocked_reason']);
    expect(idle).toEqual({ install_path: '', state: 'UPGRADE_IDLE', details: '', error_message: '', error_state: 'UPGRADE_ERROR_NO_ERROR', is_blocked: false, blocked_reason: '' });

    const prepare = await run(target('qumulo1'), `qq upgrade_cluster prepare --path ${INSTANT} --no-monitor`);
    expect(prepare).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await qq('qumulo2', 'upgrade_status')).toMatchObject({ state: 'UPGRADE_PREPARING', install_path: INSTANT, error_state: 'UPGRADE_ERROR_NO_ERROR' });
    const prepared = await waitForState('UPGRADE_PREPARED');
    expect(prepared.details).toMatch(/7\.0\.2 is prepared \(instant software upgrade/);

    expect((await run(target('qumulo2'), 'qq upgrade_cluster commit --no-monitor')).code).toBe(0);
    expect(status().state).toBe('UPGRADE_COMMITTING');
    // While the containers restart the API is away: `qq` fails, the nodes and their SSH stay up.
    const away = await until(async () => {
      const result = await run(target('qumulo3'), 'qq version');
      return result.code === 1 ? result : undefined;
    }, 10_000, 5);
    expect(away.stderr).toMatch(/could not connect to the Qumulo REST API/);
    await waitUpgraded('7.0.2');
    expect(await qq('qumulo3', 'version')).toMatchObject({ version: '7.0.2', revision_id: 'Qumulo Core 7.0.2' });
    expect((await exec(watcher, 'hostname')).stdout).toBe('qumulo4\n');
    expect(dropped).toEqual([]);
    expect(eventsOf('node-down', 'nfs-down', 'smb-down', 'smb-sessions-dropped')).toEqual([]);
    expect(eventsOf('container-restarted')).toEqual(NODES.map((n) => `container-restarted ${n}`));
    expect(eventsOf('prepare-started', 'prepared', 'commit-started', 'upgraded')).toEqual(['prepare-started', 'prepared', 'commit-started', 'upgraded']);
    watcher.end();
  });

  it('refuses to commit before the upgrade is prepared, and takes the reboot mode at prepare, not at commit', async () => {
    await start({ prepareMs: 200, commitMs: 50, rebootDelayMs: 150 });
    const early = await run(target('qumulo1'), 'qq upgrade_cluster commit --no-monitor');
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/upgrade_wrong_state_error: cannot commit: the upgrade is UPGRADE_IDLE, not UPGRADE_PREPARED/);
    expect((await run(target('qumulo1'), `qq upgrade_cluster prepare --path ${PLATFORM} --no-monitor`)).code).toBe(0);
    expect((await run(target('qumulo2'), 'qq upgrade_cluster commit --no-monitor')).stderr).toMatch(/is UPGRADE_PREPARING, not UPGRADE_PREPARED/);
    await waitForState('UPGRADE_PREPARED');
    // `--rolling` belongs to prepare: on commit it is refused, rather than silently rebooting all nodes.
    const rollingCommit = await run(target('qumulo1'), 'qq upgrade_cluster commit --rolling --no-monitor');
    expect(rollingCommit.code).toBe(2);
    expect(rollingCommit.stderr).toMatch(/commit: error: unrecognized arguments: --rolling \(the image and the reboot mode are chosen by prepare\)/);
    expect(status().state).toBe('UPGRADE_PREPARED');
  });

  it('platform upgrade with a complete reboot: every node goes down at once, SMB and NFS clients are cut off until they are back', async () => {
    await start({ prepareMs: 50, commitMs: 50, rebootDelayMs: 500 });
    expect((await run(target('qumulo1'), `qq upgrade_cluster prepare --path ${PLATFORM} --no-monitor`)).code).toBe(0);
    await waitForState('UPGRADE_PREPARED');
    const connections = await Promise.all(NODES.map((name) => connect(target(name))));
    const closed = connections.map((client) => new Promise((resolve) => client.on('close', () => resolve(undefined))));
    expect((await exec(connections[0]!, 'qq upgrade_cluster commit --no-monitor')).code).toBe(0);
    await Promise.all(closed);
    await until(() => NODES.every((name) => lab?.state(name).up === false));
    expect(lab!.state('qumulo1').clients).toEqual({ nfs: 'unavailable', smb: 'unavailable' });
    await waitUpgraded('7.1.0.1');
    expect(lab!.state('qumulo1').clients).toEqual({ nfs: 'available', smb: 'available' });
    const log = eventsOf('node-down', 'node-up', 'nfs-down', 'nfs-up', 'smb-down', 'smb-up');
    expect(log.slice(0, 6)).toEqual([...NODES.map((n) => `node-down ${n}`), 'nfs-down', 'smb-down']);
    expect(log.filter((e) => e.startsWith('nfs'))).toEqual(['nfs-down', 'nfs-up']);
    expect(log.indexOf('nfs-up')).toBeGreaterThan(log.indexOf('node-up qumulo1'));
  });

  it('platform upgrade prepared with --rolling: one node at a time, NFS never down, SMB sessions dropped on each rebooting node', async () => {
    await start({ prepareMs: 50, commitMs: 50, rebootDelayMs: 150 });
    expect((await run(target('qumulo1'), `qq upgrade_cluster prepare --rolling --path ${PLATFORM} --no-monitor`)).code).toBe(0);
    await waitForState('UPGRADE_PREPARED');
    expect(status().details).toMatch(/platform upgrade: rolling reboot/);
    expect((await run(target('qumulo2'), 'qq upgrade_cluster commit --no-monitor')).code).toBe(0);
    await waitUpgraded('7.1.0.1');
    expect(eventsOf('node-down', 'node-up')).toEqual(NODES.flatMap((n) => [`node-down ${n}`, `node-up ${n}`]));
    expect(eventsOf('nfs-down', 'smb-down')).toEqual([]);
    expect(eventsOf('smb-sessions-dropped')).toEqual(NODES.map((n) => `smb-sessions-dropped ${n}`));
  });

  it('reboots as many nodes at once as --num-nodes-to-reboot asks, within what the protection tolerates', async () => {
    await start(undefined, { nodeFailures: 2 });
    const tooMany = await run(target('qumulo1'), `qq upgrade_cluster prepare --rolling --num-nodes-to-reboot 3 --path ${PLATFORM} --no-monitor`);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(/between 1 and 2/);
    expect((await run(target('qumulo1'), `qq upgrade_cluster --rolling --num-nodes-to-reboot 2 --path ${PLATFORM} --no-monitor`)).code).toBe(0);
    await waitUpgraded('7.1.0.1');
    expect(eventsOf('node-down', 'node-up').slice(0, 4)).toEqual(['node-down qumulo1', 'node-down qumulo2', 'node-up qumulo1', 'node-up qumulo2']);
    expect(eventsOf('nfs-down')).toEqual([]);
  });

  it('the one-step upgrade prepares and commits with no gate between them', async () => {
    await start();
    expect((await run(target('qumulo1'), `qq upgrade_cluster --rolling --path ${PLATFORM} --no-monitor`)).code).toBe(0);
    await waitUpgraded('7.1.0.1');
    expect(eventsOf('prepare-started', 'prepared', 'commit-started', 'upgraded')).toEqual(['prepare-started', 'prepared', 'commit-started', 'upgraded']);
    expect(eventsOf('nfs-down')).toEqual([]);
  });

  it('speaks the syntax of the release it runs: before 5.0.3 `--rolling` is unknown', async () => {
    await start(undefined, { version: '5.0.2', images: ['qumulo_core_5.1.1.qimg'] });
    const image = '/upgrade/qumulo_core_5.1.1.qimg';
    const rolling = await run(target('qumulo1'), `qq upgrade_cluster prepare --rolling --path ${image} --no-monitor`);
    expect(rolling.code).toBe(2);
    expect(rolling.stderr).toBe(
      'usage: qq upgrade_cluster [-h] [--path PATH] [--no-monitor] {prepare,commit} ...\nqq upgrade_cluster: error: unrecognized arguments: --rolling\n',
    );
    expect(status().state).toBe('UPGRADE_IDLE');
    expect((await run(target('qumulo1'), `qq upgrade_cluster prepare --path ${image} --no-monitor`)).code).toBe(0);
    await waitForState('UPGRADE_PREPARED');
    expect(status().details).toMatch(/platform upgrade: complete reboot/);
  });

  it('shows a progress display unless --no-monitor; leaving a monitored preparation cancels it', async () => {
    await start({ prepareMs: 400, commitMs: 50, rebootDelayMs: 150 });
    const monitored = await run(target('qumulo1'), `qq upgrade_cluster prepare --path ${INSTANT}`);
    expect(monitored.code).toBe(0);
    expect(monitored.stdout).toMatch(/^\rPreparing: \[#* *\] \d+% /);
    expect(monitored.stdout).toContain('\rPrepared: [####################] 100%\n');
    expect(monitored.stdout).toMatch(/7\.0\.2 is prepared .*Run `qq upgrade_cluster commit` to finish the upgrade\.\n$/);
    expect(status().state).toBe('UPGRADE_PREPARED');
  });

  it('a monitored preparation left by its client is canceled; one started with --no-monitor goes on', async () => {
    await start({ prepareMs: 2_000, commitMs: 50, rebootDelayMs: 150 });
    const client = await connect(target('qumulo1'));
    const started = new Promise<void>((resolve, reject) => {
      client.exec(`qq upgrade_cluster prepare --path ${INSTANT}`, (error, channel) => {
        if (error) return reject(error);
        channel.once('data', () => resolve());
      });
    });
    await started;
    client.end();
    await until(() => (eventsOf('prepare-canceled').length === 1 ? true : undefined), 5_000, 5);
    expect(status()).toMatchObject({ state: 'UPGRADE_IDLE', error_state: 'UPGRADE_ERROR_NO_ERROR' });

    const quiet = await connect(target('qumulo1'));
    expect((await exec(quiet, `qq upgrade_cluster prepare --path ${INSTANT} --no-monitor`)).code).toBe(0);
    quiet.end();
    await waitForState('UPGRADE_PREPARED', 10_000);
    expect(eventsOf('prepare-canceled')).toHaveLength(1);
  });

  it('ends a preparation in an error state for a missing or corrupt image, or when staging fails', async () => {
    await start(undefined, { files: { '/upgrade/cut.qimg': createQumuloImage('7.2.3.1', { damage: 'payload' }) } });
    const failsWith = async (command: string) => {
      expect((await run(target('qumulo1'), command)).code).toBe(0);
      const failed = await until(() => (status().error_state !== 'UPGRADE_ERROR_NO_ERROR' ? status() : undefined), 10_000, 5);
      expect(failed).toMatchObject({ state: 'UPGRADE_IDLE', error_state: 'UPGRADE_ERROR_PREPARE_FAILED' });
      return failed.error_message;
    };
    expect(await failsWith('qq upgrade_cluster prepare --path /upgrade/missing.qimg --no-monitor')).toMatch(/No such file or directory: \/upgrade\/missing\.qimg/);
    // The header of a cut-off upload is fine: verifying passes, unpacking finds the damage.
    expect((await run(target('qumulo1'), 'qq upgrade_verify_image --path /upgrade/cut.qimg')).code).toBe(0);
    expect(await failsWith('qq upgrade_cluster prepare --path /upgrade/cut.qimg --no-monitor')).toBe('Upgrade image /upgrade/cut.qimg is corrupt: its checksum does not match; upload it again');
    await lab!.injectFault('qumulo1', { kind: 'installFails', message: 'Not enough space on the boot drive of node 2' });
    expect(await failsWith(`qq upgrade_cluster prepare --path ${INSTANT} --no-monitor`)).toBe('Not enough space on the boot drive of node 2');
    // A monitored preparation prints the failure and exits 1.
    const monitored = await run(target('qumulo1'), 'qq upgrade_cluster prepare --path /upgrade/cut.qimg');
    expect(monitored.code).toBe(1);
    expect(monitored.stderr).toBe('Upgrade failed: Upgrade image /upgrade/cut.qimg is corrupt: its checksum does not match; upload it again\n');
    expect(eventsOf('prepare-failed')).toHaveLength(4);
  });

  it('takes an image uploaded over SFTP to any node into the cluster file system; a cut-off upload fails when unpacked', async () => {
    await start(undefined, { images: [] });
    const upload = async (node: string, path: string, content: string) => {
      const client = await connect(target(node));
      try {
        const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((error, session) => (error ? reject(error) : resolve(session))));
        await new Promise<void>((resolve, reject) => sftp.writeFile(path, content, (error) => (error ? reject(error) : resolve())));
      } finally {
        client.end();
      }
    };
    const image = createQumuloImage('7.1.0.1');
    await upload('qumulo2', '/upgrade/qumulo_core_7.1.0.1.qimg', image);
    expect(lab!.commandLog('qumulo2').map((entry) => [entry.mode, entry.command])).toContainEqual(['sftp', 'sftp put /upgrade/qumulo_core_7.1.0.1.qimg']);
    expect((await run(target('qumulo4'), 'ls -l /upgrade')).stdout).toContain(`${Buffer.byteLength(image)} `);
    expect(await qq('qumulo1', 'upgrade_verify_image --path /upgrade/qumulo_core_7.1.0.1.qimg')).toEqual({ upgrade_type: 'PLATFORM', current_version: '7.0.0.1', target_version: '7.1.0.1' });
    await upload('qumulo3', '/upgrade/qumulo_core_7.0.2.qimg', createQumuloImage('7.0.2').slice(0, -5));
    expect((await run(target('qumulo1'), 'qq upgrade_cluster prepare --path /upgrade/qumulo_core_7.0.2.qimg --no-monitor')).code).toBe(0);
    const failed = await until(() => (status().error_state !== 'UPGRADE_ERROR_NO_ERROR' ? status() : undefined), 10_000, 5);
    expect(failed.error_message).toBe('Upgrade image /upgrade/qumulo_core_7.0.2.qimg is corrupt: its checksum does not match; upload it again');
  });

  it('blocks an upgrade while a node is offline', async () => {
    await start();
    await lab?.injectFault('qumulo3', { kind: 'neverReturns' });
    await run(target('qumulo3'), 'reboot');
    const blocked = await until(async () => {
      const current = await qq<UpgradeStatus>('qumulo1', 'upgrade_status');
      return current.is_blocked ? current : undefined;
    });
    expect(blocked.blocked_reason).toBe('node 3 (qumulo3) is OFFLINE');
    const refused = await run(target('qumulo1'), `qq upgrade_cluster prepare --path ${INSTANT} --no-monitor`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/upgrade_blocked_error/);
    // One node down is within what the protection tolerates: the clients are still served.
    expect(lab!.state('qumulo1').clients).toEqual({ nfs: 'available', smb: 'available' });
    await lab?.clearFaults('qumulo3');
    await until(async () => !(await qq<UpgradeStatus>('qumulo1', 'upgrade_status')).is_blocked);
    expect((await qq<Array<{ state: string }>>('qumulo3', 'nodes_list')).every((node) => node.state === 'ONLINE')).toBe(true);
  });
});
