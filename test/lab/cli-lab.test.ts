import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { LAB_PORT, serveLab } from '../../lab/cli-lab.js';
import type { Inventory } from '../../lab/index.js';
import { run, until } from '../helpers/ssh-client.js';

const SMALL = { spines: 1, leaves: 1, storageNodes: 1, nso: false, chassis: true };
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

async function assertFree(address: string, port: number): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port, exclusive: true }, resolve);
  });
  await new Promise((resolve) => server.close(resolve));
}

describe('serveLab, behind `runbook lab`', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'lab-cli-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('serves every device on port 2222 by default and writes the inventory that reaches them', async () => {
    const printed: string[] = [];
    const controller = new AbortController();
    const file = join(work, 'inventories', 'lab.yaml');
    const served = await serveLab({
      inventoryOut: file,
      print: (text) => printed.push(text),
      signal: controller.signal,
      lab: { addressPrefix: '127.0.18', topology: SMALL },
    });
    expect(LAB_PORT).toBe(2222);
    const yaml = readFileSync(file, 'utf8');
    expect(yaml.startsWith('# yaml-language-server: $schema=../schemas/inventory.schema.json\n')).toBe(true);
    const inventory = YAML.parse(yaml) as Inventory;
    expect(Object.keys(inventory.hosts)).toEqual(['spine01', 'leaf01', 'qumulo1', 'bd01']);
    expect(Object.values(inventory.hosts).every((host) => host.port === 2222)).toBe(true);
    expect(printed.join('')).toContain(`inventory written to ${file}`);
    expect(printed.join('')).toContain('export RUNBOOK_LAB_PASSWORD=lab-password');
    const bd01 = inventory.hosts.bd01;
    expect((await run({ host: bd01?.address ?? '', port: bd01?.port ?? 0 }, 'show version')).code).toBe(0);
    controller.abort();
    await served.stopped;
    expect(printed.at(-1)).toBe('runbook lab: stopped\n');
    for (const host of Object.values(inventory.hosts)) await assertFree(host.address, host.port);
  });

  it('prints the inventory as YAML when no file is given', async () => {
    let printed = '';
    const served = await serveLab({ port: 0, print: (text) => (printed += text), lab: { addressPrefix: '127.0.18', addresses: { spine01: '127.0.18.101', leaf01: '127.0.18.111', qumulo1: '127.0.18.161', bd01: '127.0.18.191' }, topology: SMALL } });
    const inventory = YAML.parse(printed) as Inventory;
    expect(inventory.kind).toBe('Inventory');
    expect(inventory.hosts.leaf01?.address).toBe('127.0.18.111');
    expect(printed).toMatch(/^# Ctrl-C stops the lab\.$/m);
    await served.stop();
    await served.stopped;
  });

  it('stops cleanly on SIGTERM in its own process', async () => {
    const script = join(work, 'serve.mts');
    const module = pathToFileURL(join(repoRoot, 'lab', 'cli-lab.ts')).href;
    writeFileSync(
      script,
      `import { serveLab } from ${JSON.stringify(module)};\n` +
        `await serveLab({ port: 0, print: (text) => process.stdout.write(text), lab: { addressPrefix: '127.0.18', addresses: { spine01: '127.0.18.201', leaf01: '127.0.18.211', qumulo1: '127.0.18.221', bd01: '127.0.18.231' }, topology: ${JSON.stringify(SMALL)} } });\n`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString('utf8')));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await until(() => stdout.includes('# Ctrl-C stops the lab.'), 30_000);
    const inventory = YAML.parse(stdout) as Inventory;
    const leaf = inventory.hosts.leaf01;
    expect((await run({ host: leaf?.address ?? '', port: leaf?.port ?? 0 }, 'hostname')).stdout).toBe('leaf01\n');
    child.kill('SIGTERM');
    expect(await exited, stderr).toBe(0);
    expect(stdout).toContain('runbook lab: stopped\n');
    for (const host of Object.values(inventory.hosts)) await assertFree(host.address, host.port);
  });
});
