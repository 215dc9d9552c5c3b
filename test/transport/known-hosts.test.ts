import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findHostKeys,
  fingerprintOf,
  keyTypeOf,
  normalizeFingerprint,
  parseKnownHosts,
} from '../../engine/transport/known-hosts.js';
import { fingerprintOfKeyFile, generateKey } from '../helpers/sshd.js';

const run = promisify(execFile);

describe('known_hosts and fingerprints', () => {
  let dir: string;
  let keyType: string;
  let keyBase64: string;
  let blob: Buffer;
  let otherBase64: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runbook-known-hosts-'));
    await generateKey(join(dir, 'host'));
    await generateKey(join(dir, 'other'));
    [keyType = '', keyBase64 = ''] = (await readFile(join(dir, 'host.pub'), 'utf8')).split(/\s+/);
    otherBase64 = (await readFile(join(dir, 'other.pub'), 'utf8')).split(/\s+/)[1] ?? '';
    blob = Buffer.from(keyBase64, 'base64');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('computes the fingerprint ssh-keygen -lf prints', async () => {
    expect(fingerprintOf(blob)).toBe(await fingerprintOfKeyFile(join(dir, 'host.pub')));
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
  });

  it('accepts pins with or without base64 padding and rejects other forms', () => {
    const fingerprint = fingerprintOf(blob);
    expect(normalizeFingerprint(`${fingerprint}=`)).toBe(fingerprint);
    expect(normalizeFingerprint(` ${fingerprint} `)).toBe(fingerprint);
    expect(normalizeFingerprint('MD5:aa:bb')).toBeNull();
    expect(normalizeFingerprint('SHA256:short')).toBeNull();
  });

  it('finds plain entries by name, [name]:port, pattern and negation', () => {
    const entries = parseKnownHosts(
      [
        '# comment',
        '',
        `10.0.0.1,leaf01 ${keyType} ${keyBase64}`,
        `[10.0.0.2]:2222 ${keyType} ${keyBase64} a comment`,
        `*.lab,!spine9.lab ${keyType} ${otherBase64}`,
        'garbage line',
      ].join('\n'),
    );
    expect(entries).toHaveLength(3);
    expect(findHostKeys(entries, 'leaf01', 22).accepted).toHaveLength(1);
    expect(findHostKeys(entries, '10.0.0.1', 22).accepted).toHaveLength(1);
    expect(findHostKeys(entries, '10.0.0.1', 2222).accepted).toHaveLength(0);
    expect(findHostKeys(entries, '10.0.0.2', 2222).accepted).toHaveLength(1);
    expect(findHostKeys(entries, '10.0.0.2', 22).accepted).toHaveLength(0);
    expect(findHostKeys(entries, 'SPINE1.lab', 22).accepted.map((entry) => entry.keyBlob.toString('base64'))).toEqual([
      otherBase64,
    ]);
    expect(findHostKeys(entries, 'spine9.lab', 22).accepted).toHaveLength(0);
  });

  it('matches a pattern of many `*` in time linear in the name (a backtracking engine takes minutes here)', () => {
    const entries = parseKnownHosts(`${'*a'.repeat(8)}*b ${keyType} ${keyBase64}`);
    expect(findHostKeys(entries, 'a'.repeat(60), 22).accepted).toHaveLength(0);
    expect(findHostKeys(entries, `${'a'.repeat(60)}b`, 22).accepted).toHaveLength(1);
  });

  it('finds entries hashed by ssh-keygen -H, including [host]:port', async () => {
    const file = join(dir, 'hashed_known_hosts');
    await writeFile(file, `leaf01 ${keyType} ${keyBase64}\n[127.0.0.1]:2022 ${keyType} ${otherBase64}\n`);
    await run('ssh-keygen', ['-H', '-f', file]);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('leaf01');
    const entries = parseKnownHosts(text);
    expect(entries.every((entry) => entry.hosts.startsWith('|1|'))).toBe(true);
    expect(findHostKeys(entries, 'leaf01', 22).accepted.map((entry) => entry.keyBlob.equals(blob))).toEqual([true]);
    expect(findHostKeys(entries, '127.0.0.1', 2022).accepted.map((entry) => entry.keyType)).toEqual([keyType]);
    expect(findHostKeys(entries, 'leaf02', 22).accepted).toHaveLength(0);
  });

  it('collects @revoked keys and skips @cert-authority lines', () => {
    const entries = parseKnownHosts(
      `@revoked * ${keyType} ${keyBase64}\n@cert-authority *.lab ${keyType} ${otherBase64}\n`,
    );
    const found = findHostKeys(entries, 'x.lab', 22);
    expect(found.accepted).toHaveLength(0);
    expect(found.revoked.map((entry) => entry.keyBlob.equals(blob))).toEqual([true]);
  });
});
