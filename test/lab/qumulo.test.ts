import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/index.js';
import { connect, exec, run, until, type SshTarget } from '../helpers/ssh-client.js';

const NODES = ['qumulo1', 'qumulo2', 'qumulo3', 'qumulo4'];

interface UpgradeStatus {
  state: string;
  error_state: string;
  is_blocked: boolean;
  blocked_reason: string;
  install_path: string;
  target_version: string;
  upgrade_type: string;
}

describe('the Qumulo storage cluster', () => {
  let lab: Lab | undefined;
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });

  const start = async (timings: { prepareMs: number; commitMs: number; rebootDelayMs: number }): Promise<Lab> => {
    lab = await startLab({ addressPrefix: '127.0.13', timings, topology: { spines: 0, leaves: 0, nso: false, chassis: false } });
    return lab;
  };
  const target = (name: string): SshTarget => ({ host: lab?.device(name).address ?? '', port: lab?.device(name).port ?? 0 });
  const qq = async <T>(name: string, command: string): Promise<T> => {
    const result = await run(target(name), `qq ${command}`);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  };
  /** Polls the status from whichever node answers, and remembers every state it saw. */
  const watchStatus = async (until_: (status: UpgradeStatus) => boolean, seen: string[]): Promise<UpgradeStatus> =>
    until(async () => {
      for (const name of NODES) {
        const result = await run(target(name), 'qq upgrade_status').catch(() => undefined);
        if (result?.code !== 0) continue;
        const status = JSON.parse(result.stdout) as UpgradeStatus;
        if (seen[seen.length - 1] !== status.state) seen.push(status.state);
        return until_(status) ? status : undefined;
      }
      return undefined;
    }, 15_000, 10);

  it('reports its version, nodes and the kind of each staged image', async () => {
    await start({ prepareMs: 100, commitMs: 100, rebootDelayMs: 100 });
    expect(await qq('qumulo2', 'version')).toMatchObject({ revision_id: 'Qumulo Core 7.1.0', version: '7.1.0' });
    const nodes = await qq<Array<{ id: number; name: string; state: string }>>('qumulo1', 'nodes_list');
    expect(nodes.map(({ id, name, state }) => ({ id, name, state }))).toEqual(NODES.map((name, index) => ({ id: index + 1, name, state: 'ONLINE' })));
    expect((await run(target('qumulo3'), 'ls /upgrade')).stdout).toBe('qumulo_core_7.2.0.qimg\nqumulo_core_7.2.0_platform.qimg\n');
    expect(await qq('qumulo1', 'upgrade_verify_image --path /upgrade/qumulo_core_7.2.0.qimg')).toEqual({
      upgrade_type: 'INSTANT',
      current_version: '7.1.0',
      target_version: '7.2.0',
    });
    expect(await qq('qumulo1', 'upgrade_verify_image --path /upgrade/qumulo_core_7.2.0_platform.qimg')).toMatchObject({ upgrade_type: 'PLATFORM' });
    expect((await run(target('qumulo1'), 'qq upgrade_verify_image --path /upgrade/nope.qimg')).code).toBe(1);
    expect((await run(target('qumulo1'), 'qq upgrade_verify_image')).code).toBe(2);
    expect((await run(target('qumulo1'), 'qq frobnicate')).code).toBe(2);
  });

  it('refuses to commit before the upgrade is PREPARED', async () => {
    await start({ prepareMs: 60_000, commitMs: 100, rebootDelayMs: 100 });
    const early = await run(target('qumulo1'), 'qq upgrade_cluster commit');
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/upgrade_wrong_state_error: cannot commit: the upgrade is IDLE, not PREPARED/);
    expect((await run(target('qumulo1'), 'qq upgrade_cluster prepare --path /upgrade/qumulo_core_7.2.0.qimg')).code).toBe(0);
    const preparing = await run(target('qumulo2'), 'qq upgrade_cluster commit');
    expect(preparing.code).toBe(1);
    expect(preparing.stderr).toMatch(/is PREPARING, not PREPARED/);
  });

  it('instant upgrade: IDLE, PREPARING, PREPARED, COMMITTING, IDLE on the new version, no reboot', async () => {
    await start({ prepareMs: 300, commitMs: 300, rebootDelayMs: 100 });
    const watcher = await connect(target('qumulo4'));
    const dropped: string[] = [];
    watcher.on('close', () => dropped.push('qumulo4'));
    const seen: string[] = [];
    expect((await qq<UpgradeStatus>('qumulo1', 'upgrade_status')).state).toBe('IDLE');
    const prepared = await qq<UpgradeStatus>('qumulo1', 'upgrade_cluster prepare --path /upgrade/qumulo_core_7.2.0.qimg');
    expect(prepared).toMatchObject({ state: 'PREPARING', install_path: '/upgrade/qumulo_core_7.2.0.qimg', target_version: '7.2.0', upgrade_type: 'INSTANT' });
    seen.push('IDLE', 'PREPARING');
    await watchStatus((status) => status.state === 'PREPARED', seen);
    expect((await qq<UpgradeStatus>('qumulo2', 'upgrade_cluster commit')).state).toBe('COMMITTING');
    seen.push('COMMITTING');
    const done = await watchStatus((status) => status.state === 'IDLE', seen);
    expect(seen).toEqual(['IDLE', 'PREPARING', 'PREPARED', 'COMMITTING', 'IDLE']);
    expect(done).toMatchObject({ error_state: 'NO_ERROR', is_blocked: false, install_path: '', target_version: '' });
    expect(await qq('qumulo3', 'version')).toMatchObject({ version: '7.2.0', revision_id: 'Qumulo Core 7.2.0' });
    // The connection opened before the upgrade still works: nothing rebooted.
    expect((await exec(watcher, 'qq version')).stdout).toContain('7.2.0');
    expect(dropped).toEqual([]);
    watcher.end();
  });

  it('platform upgrade with a complete reboot: every node goes down at once, then serves the new version', async () => {
    await start({ prepareMs: 50, commitMs: 50, rebootDelayMs: 600 });
    await qq('qumulo1', 'upgrade_cluster prepare --path /upgrade/qumulo_core_7.2.0_platform.qimg');
    await watchStatus((status) => status.state === 'PREPARED', []);
    const connections = await Promise.all(NODES.map((name) => connect(target(name))));
    const closed = connections.map((client) => new Promise((resolve) => client.on('close', () => resolve(undefined))));
    expect(await qq('qumulo1', 'upgrade_cluster commit')).toMatchObject({ state: 'COMMITTING', upgrade_type: 'PLATFORM', rolling: false });
    await Promise.all(closed);
    // Cross-check: all four were down together.
    await until(() => NODES.every((name) => lab?.state(name).up === false));
    const seen: string[] = [];
    await watchStatus((status) => status.state === 'IDLE', seen);
    expect(await qq('qumulo2', 'version')).toMatchObject({ version: '7.2.0' });
    const nodes = await qq<Array<{ state: string }>>('qumulo2', 'nodes_list');
    expect(nodes.map((node) => node.state)).toEqual(['ONLINE', 'ONLINE', 'ONLINE', 'ONLINE']);
  });

  it('platform upgrade --rolling: nodes reboot one at a time and the cluster keeps answering', async () => {
    await start({ prepareMs: 50, commitMs: 50, rebootDelayMs: 250 });
    await qq('qumulo1', 'upgrade_cluster prepare --path /upgrade/qumulo_core_7.2.0_platform.qimg');
    await watchStatus((status) => status.state === 'PREPARED', []);
    expect(await qq('qumulo1', 'upgrade_cluster commit --rolling')).toMatchObject({ state: 'COMMITTING', rolling: true });
    let mostDownAtOnce = 0;
    const wentDown = new Set<string>();
    const observedOffline = new Set<string>();
    await until(async () => {
      const down = NODES.filter((name) => lab?.state(name).up === false);
      for (const name of down) wentDown.add(name);
      mostDownAtOnce = Math.max(mostDownAtOnce, down.length);
      const answering = NODES.find((name) => lab?.state(name).up === true) as string;
      const listed = await run(target(answering), 'qq nodes_list').catch(() => undefined);
      for (const node of JSON.parse(listed?.stdout || '[]') as Array<{ name: string; state: string }>) {
        if (node.state === 'OFFLINE') observedOffline.add(node.name);
      }
      return (lab?.state('qumulo1').upgrade as UpgradeStatus).state === 'IDLE' ? true : undefined;
    }, 15_000, 5);
    expect(mostDownAtOnce).toBe(1);
    expect([...wentDown].sort()).toEqual(NODES);
    expect(observedOffline.size).toBeGreaterThan(0);
    expect(await qq('qumulo4', 'version')).toMatchObject({ version: '7.2.0' });
  });

  it('installFails: prepare exits 1 and the status shows the failure', async () => {
    await start({ prepareMs: 50, commitMs: 50, rebootDelayMs: 100 });
    await lab?.injectFault('qumulo2', { kind: 'installFails', message: 'not enough free space on node 2' });
    const failed = await run(target('qumulo2'), 'qq upgrade_cluster prepare --path /upgrade/qumulo_core_7.2.0.qimg');
    expect(failed).toMatchObject({ code: 1, stderr: 'Error 500: upgrade_prepare_error: not enough free space on node 2\n' });
    expect(await qq('qumulo1', 'upgrade_status')).toMatchObject({ state: 'IDLE', error_state: 'PREPARE_FAILED' });
  });

  it('blocks an upgrade while a node is offline', async () => {
    await start({ prepareMs: 50, commitMs: 50, rebootDelayMs: 100 });
    await lab?.injectFault('qumulo3', { kind: 'neverReturns' });
    await run(target('qumulo3'), 'reboot');
    const status = await until(async () => {
      const current = await qq<UpgradeStatus>('qumulo1', 'upgrade_status');
      return current.is_blocked ? current : undefined;
    });
    expect(status.blocked_reason).toBe('node 3 (qumulo3) is OFFLINE');
    const refused = await run(target('qumulo1'), 'qq upgrade_cluster prepare --path /upgrade/qumulo_core_7.2.0.qimg');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/upgrade_blocked_error/);
    await lab?.clearFaults('qumulo3');
    await until(async () => !(await qq<UpgradeStatus>('qumulo1', 'upgrade_status')).is_blocked);
    expect((await qq<Array<{ state: string }>>('qumulo3', 'nodes_list')).every((node) => node.state === 'ONLINE')).toBe(true);
  });
});
