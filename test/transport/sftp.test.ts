import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab, type LabDevice } from '../../lab/index.js';
import { createLocalTransport } from '../../engine/transport/local.js';
import { createSshTransport } from '../../engine/transport/ssh.js';
import { TransportError, type ConnectTarget, type HostConnection } from '../../engine/transport/types.js';
import { SSHD_SKIP_REASON, hasSshd, startSshd, type Sshd } from '../helpers/sshd.js';

// File transfers over SFTP (ssh2's client): whole files, checksummed, against the lab's SFTP
// subsystem, a real OpenSSH sshd, and the local transport.

const CONNECT = { timeoutMs: 10_000 } as const;
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function failure(promise: Promise<unknown>): Promise<TransportError> {
  const error = await promise.then(
    () => new Error('succeeded although it should not have'),
    (rejection: unknown) => rejection,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

describe('SFTP against the embedded lab', () => {
  let lab: Lab;
  let work: string;
  const transport = createSshTransport();
  const opened: HostConnection[] = [];
  const connect = async (device: LabDevice) => {
    const target: ConnectTarget = { name: device.name, transport: 'ssh', address: device.address, port: device.port, user: lab.user, password: lab.password, hostKey: device.hostKey };
    const connection = await transport.connect(target, CONNECT);
    opened.push(connection);
    return connection;
  };

  beforeAll(async () => {
    lab = await startLab({ addressPrefix: '127.0.13', topology: { spines: 1, leaves: 0, storageNodes: 0, nso: false, chassis: true } });
    work = mkdtempSync(join(tmpdir(), 'runbook-sftp-'));
  });
  afterAll(async () => {
    await Promise.all(opened.map((connection) => connection.close()));
    await lab?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('fetches a file whole, with its checksum, and puts it back, read back and compared', async () => {
    const connection = await connect(lab.device('spine01'));
    const archived = await connection.exec('tar czf /var/backups/etc.tgz /etc/network /etc/frr');
    expect(archived.exitCode).toBe(0);
    const local = join(work, 'artifacts', 'spine01', 'etc.tgz');
    const fetched = await connection.fetchFile!('/var/backups/etc.tgz', local);
    const content = readFileSync(local);
    expect(fetched).toEqual({ bytes: content.length, sha256: sha256(content) });
    expect(content.toString('utf8')).toContain('etc/frr/frr.conf');

    const put = await connection.putFile!(local, '/var/backups/copy.tgz');
    expect(put).toEqual(fetched);
    expect((await connection.exec('tar tzf /var/backups/copy.tgz')).stdout).toContain('etc/network/interfaces');
    expect(lab.commandLog('spine01').filter((e) => e.mode === 'sftp').map((e) => e.command)).toContain('sftp put /var/backups/copy.tgz');
  });

  it('keeps binary content byte for byte', async () => {
    const connection = await connect(lab.device('spine01'));
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    const source = join(work, 'binary.bin');
    writeFileSync(source, bytes);
    expect(await connection.putFile!(source, '/var/backups/binary.bin')).toEqual({ bytes: bytes.length, sha256: sha256(bytes) });
    const back = join(work, 'back.bin');
    expect((await connection.fetchFile!('/var/backups/binary.bin', back)).sha256).toBe(sha256(bytes));
    expect(readFileSync(back).equals(bytes)).toBe(true);
  });

  it('says what is wrong: a missing file, a missing folder, a changed source, a host without SFTP', async () => {
    const connection = await connect(lab.device('spine01'));
    const missing = await failure(connection.fetchFile!('/var/backups/none.tgz', join(work, 'none.tgz')));
    expect(missing).toMatchObject({ code: 'TRANSFER_FAILED' });
    expect(missing.message).toContain('cannot read /var/backups/none.tgz on the host: no such file or directory');
    expect(() => readFileSync(join(work, 'none.tgz'))).toThrow();

    const source = join(work, 'source.txt');
    writeFileSync(source, 'hello\n');
    expect((await failure(connection.putFile!(source, '/no/such/folder/x'))).message).toContain('cannot write /no/such/folder/x');
    const changed = await failure(connection.putFile!(source, '/var/backups/x', { expectedSha256: sha256('something else') }));
    expect(changed.message).toContain('has changed since it was recorded');
    expect((await connection.exec('test -e /var/backups/x')).exitCode).toBe(1);

    const chassis = await connect(lab.device('bd01'));
    const refused = await failure(chassis.fetchFile!('/config/primary.cfg', join(work, 'primary.cfg')));
    expect(refused).toMatchObject({ code: 'TRANSFER_FAILED' });
    expect(refused.message).toContain('serves no SFTP');
  });
});

describe.skipIf(!hasSshd)(`SFTP against OpenSSH sshd${hasSshd ? '' : ` (skipped: ${SSHD_SKIP_REASON})`}`, () => {
  let sshd: Sshd;
  let noSftp: Sshd;
  let work: string;
  const transport = createSshTransport();
  const opened: HostConnection[] = [];
  const connect = async (server: Sshd) => {
    const connection = await transport.connect(
      { name: 'loopback', transport: 'ssh', address: server.host, port: server.port, user: server.user, keyFile: server.keyFile, hostKey: server.hostKeyFingerprint },
      CONNECT,
    );
    opened.push(connection);
    return connection;
  };

  beforeAll(async () => {
    sshd = await startSshd({ extraConfig: ['Subsystem sftp internal-sftp'] });
    noSftp = await startSshd();
    work = mkdtempSync(join(tmpdir(), 'runbook-sftp-openssh-'));
  });
  afterAll(async () => {
    await Promise.all(opened.map((connection) => connection.close()));
    await sshd?.stop();
    await noSftp?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('fetches and puts real files, checksums agreeing with sha256sum on the host', async () => {
    const connection = await connect(sshd);
    const remote = join(work, 'remote.txt');
    writeFileSync(remote, 'interfaces\n'.repeat(5000));
    const fetched = await connection.fetchFile!(remote, join(work, 'artifacts', 'fetched.txt'));
    const onHost = (await connection.exec(`sha256sum ${remote}`)).stdout.split(' ')[0];
    expect(fetched.sha256).toBe(onHost);
    const put = await connection.putFile!(join(work, 'artifacts', 'fetched.txt'), join(work, 'put.txt'));
    expect(put.sha256).toBe((await connection.exec(`sha256sum ${join(work, 'put.txt')}`)).stdout.split(' ')[0]);
  });

  it('refuses cleanly when sshd offers no SFTP subsystem', async () => {
    const connection = await connect(noSftp);
    const refused = await failure(connection.fetchFile!('/etc/hostname', join(work, 'hostname')));
    expect(refused.message).toContain('serves no SFTP');
    expect((await connection.exec('true')).exitCode).toBe(0);
  });
});

describe('file transfers with the local transport', () => {
  it('copies, whole and checksummed', async () => {
    const work = mkdtempSync(join(tmpdir(), 'runbook-local-copy-'));
    try {
      const connection = await createLocalTransport().connect({ name: 'controller', transport: 'local', port: 0 });
      writeFileSync(join(work, 'a.txt'), 'abc');
      expect(await connection.fetchFile!(join(work, 'a.txt'), join(work, 'artifacts', 'a.txt'))).toEqual({ bytes: 3, sha256: sha256('abc') });
      expect(await connection.putFile!(join(work, 'artifacts', 'a.txt'), join(work, 'b.txt'))).toEqual({ bytes: 3, sha256: sha256('abc') });
      expect((await failure(connection.fetchFile!(join(work, 'none'), join(work, 'x')))).message).toContain('no such file');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
