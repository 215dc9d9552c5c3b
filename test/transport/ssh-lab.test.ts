import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab, type LabDevice } from '../../lab/index.js';
import { createSshTransport } from '../../engine/transport/ssh.js';
import type { ConnectTarget, HostConnection } from '../../engine/transport/types.js';
import { compileUserRegex } from '../../engine/shared/user-regex.js';

const CONNECT = { timeoutMs: 10_000 } as const;

describe('ssh transport against the embedded lab', () => {
  let lab: Lab;
  let spine: LabDevice;
  let chassis: LabDevice;
  const transport = createSshTransport();
  const opened: HostConnection[] = [];

  const targetOf = (device: LabDevice, overrides: Partial<ConnectTarget> = {}): ConnectTarget => ({
    name: device.name,
    transport: 'ssh',
    address: device.address,
    port: device.port,
    user: lab.user,
    password: lab.password,
    hostKey: device.hostKey,
    ...overrides,
  });

  beforeAll(async () => {
    lab = await startLab({ topology: { spines: 1, leaves: 0, storageNodes: 0, nso: false, chassis: true } });
    spine = lab.devices.find((device) => device.platform === 'cumulus') ?? lab.device('spine01');
    chassis = lab.devices.find((device) => device.platform === 'exos') ?? lab.device('bd01');
  });

  afterAll(async () => {
    await Promise.all(opened.map((connection) => connection.close()));
    await lab?.stop();
  });

  it('logs in with the password and the pinned host key', async () => {
    const connection = await transport.connect(targetOf(spine), CONNECT);
    opened.push(connection);
    const result = await connection.exec('cat /etc/lsb-release', { timeoutMs: 10_000 });
    expect(result).toMatchObject({ exitCode: 0, timedOut: false });
    expect(result.stdout).toContain('DISTRIB_RELEASE=');
  });

  it('refuses the host key of another device and runs nothing there', async () => {
    const error = await transport
      .connect(targetOf(spine, { hostKey: chassis.hostKey }), CONNECT)
      .then((connection) => {
        opened.push(connection);
        return connection.exec('net add hostname pwned');
      })
      .catch((rejection: unknown) => rejection);
    expect(error).toMatchObject({ code: 'HOST_KEY_MISMATCH', nonRetryable: true });
    expect(lab.commandLog(spine.name).map((entry) => entry.command)).not.toContain('net add hostname pwned');
  });

  it('reports a wrong password as a non-retryable authentication failure', async () => {
    const error = await transport.connect(targetOf(spine, { password: 'not-the-password' }), CONNECT).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AUTH_FAILED', nonRetryable: true });
    expect((error as Error).message).not.toContain('not-the-password');
  });

  it("answers a device's confirmation prompt", async () => {
    const connection = await transport.connect(targetOf(chassis), CONNECT);
    opened.push(connection);
    // Declining keeps the chassis up; without an answer the command would wait until the timeout.
    const result = await connection.exec('reboot', {
      answers: [{ prompt: compileUserRegex('reboot\\? \\(y/n\\)'), send: 'n' }],
      timeoutMs: 10_000,
    });
    expect(result).toMatchObject({ exitCode: 1, timedOut: false });
    expect(result.stdout).toContain('Are you sure you want to reboot? (y/n)');
    expect((await connection.exec('show version', { timeoutMs: 10_000 })).exitCode).toBe(0);
  });

  it('types nothing at a prompt its answers cannot decide: the channel is closed and the chassis does not reboot', async () => {
    const connection = await transport.connect(targetOf(chassis), CONNECT);
    opened.push(connection);
    const result = await connection.exec('reboot msm B', {
      answers: [
        { prompt: compileUserRegex('reboot\\?'), send: 'y' },
        { prompt: compileUserRegex('\\(y/n\\)'), send: 'n' },
      ],
      timeoutMs: 10_000,
    });
    expect(result).toMatchObject({ exitCode: null, timedOut: false });
    expect(result.ambiguousPrompt).toContain('answer[0] /reboot\\?/ and answer[1] /\\(y\/n\\)/');
    expect(result.stdout).toBe('Are you sure you want to reboot? (y/n) ');
    expect(lab.state(chassis.name).backupState).toBe('BACKUP (In Sync)');
    expect((await connection.exec('show version', { timeoutMs: 10_000 })).exitCode).toBe(0);
  });
});
