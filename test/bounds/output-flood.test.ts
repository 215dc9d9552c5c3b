import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ssh2, { type AuthContext, type Connection, type ServerChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveHostKey } from '../../lab/host-key.js';
import type { RunReport } from '../../engine/schema/report.js';
import { createTempRepository, type TempRepository } from '../git/temp-repository.js';

// DESIGN section 5, bounds: a host that prints without end must not exhaust the controller's memory
// nor fill the disk with its journal. A hostile ssh2 server prints 200 MB, as lines or as one
// progress line redrawn with `\r` and never ended; `runbook apply` (the compiled CLI, as shipped, in
// a child process) must finish with a small peak RSS and a small journal, and its report must show
// the first and the last part of the output with the count of what was dropped between.

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const FLOOD_BYTES = 200 * 1024 * 1024;
const PASSWORD = 'flood-password';
const PEAK_RSS_LIMIT_KB = 150 * 1024;
const JOURNAL_LIMIT_BYTES = 2 * 1024 * 1024;
/** Generous: 200 MB through SSH on a shared two-core machine, twice, and a build of the CLI. */
const FLOOD_TIMEOUT_MS = 240_000;

type Flood = 'lines' | 'progress';

/** What each command prints: numbered, so the first and last parts can be told apart. */
function floodPiece(flood: Flood, index: number): string {
  const number = String(index).padStart(8, '0');
  return flood === 'lines' ? `line ${number} ${'x'.repeat(80)}\n` : `progress ${number} ${'#'.repeat(40)}\r`;
}

/** Writes pieces until FLOOD_BYTES, waiting whenever SSH flow control says so, then exits 0. */
async function flood(channel: ServerChannel, kind: Flood): Promise<void> {
  let sent = 0;
  let index = 1;
  while (sent < FLOOD_BYTES) {
    let chunk = '';
    while (chunk.length < 64 * 1024) chunk += floodPiece(kind, index++);
    sent += chunk.length;
    if (!channel.write(chunk)) await once(channel, 'drain');
  }
  channel.exit(0);
  channel.end();
}

interface FloodServer {
  port: number;
  fingerprint: string;
  stop(): Promise<void>;
}

async function startFloodServer(): Promise<FloodServer> {
  const key = deriveHostKey('flood');
  const server = new ssh2.Server({ hostKeys: [key.privateKey] }, (client: Connection) => {
    client.on('error', () => {});
    client.on('authentication', (context: AuthContext) =>
      context.method === 'password' && context.username === 'ops' && context.password === PASSWORD ? context.accept() : context.reject(['password']),
    );
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        acceptSession().on('exec', (acceptExec, _reject, info) => {
          const channel = acceptExec();
          channel.on('error', () => {});
          const kind = info.command === 'flood-lines' ? 'lines' : info.command === 'flood-progress' ? 'progress' : undefined;
          if (kind) void flood(channel, kind).catch(() => {});
          else {
            channel.exit(127);
            channel.end();
          }
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, fingerprint: key.fingerprint, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}

let build: string;
let server: FloodServer;
const repos: TempRepository[] = [];

beforeAll(async () => {
  // The CLI as `npm run build` makes it, into a folder of its own under node_modules (so that its
  // imports resolve): tsx, which runs the source, alone takes more memory than the bound allows.
  build = mkdtempSync(join(REPO_ROOT, 'node_modules', '.bounds-cli-'));
  await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', join(build, 'dist')]);
  mkdirSync(join(build, 'bin'));
  copyFileSync(join(REPO_ROOT, 'bin', 'runbook.js'), join(build, 'bin', 'runbook.js'));
  chmodSync(join(build, 'bin', 'runbook.js'), 0o755);
  // The peak resident set of the whole process (getrusage), written as it exits.
  writeFileSync(join(build, 'peak-rss.cjs'), "process.on('exit', () => require('node:fs').writeFileSync(process.env.PEAK_RSS_FILE, String(process.resourceUsage().maxRSS)));\n");
  server = await startFloodServer();
}, FLOOD_TIMEOUT_MS);

afterAll(async () => {
  await server?.stop();
  for (const repo of repos) repo.remove();
  if (build) rmSync(build, { recursive: true, force: true });
});

async function applyFlood(command: string) {
  const repo = await createTempRepository();
  repos.push(repo);
  repo.write(
    'inventories/flood.yaml',
    `apiVersion: runbook/v1
kind: Inventory
hosts:
  flood:
    address: 127.0.0.1
    port: ${server.port}
    user: ops
    groups: [hostile]
    hostKey: ${server.fingerprint}
    auth: { passwordEnv: FLOOD_PASSWORD }
`,
  );
  repo.write(
    'runbooks/flood.yaml',
    `apiVersion: runbook/v1
kind: Runbook
metadata:
  name: flood
  version: 1.0.0
targets: { group: hostile }
steps:
  - { id: flood, kind: check, run: ${command}, timeout: 3m }
`,
  );
  // Committed: `apply RUNBOOK -i` runs what is committed (DESIGN section 5, gates).
  await repo.commitAll('a runbook against a host that floods');
  const peakFile = join(repo.root, 'peak-rss.txt');
  // Run as installed: through its `#!` line, with the Node options it names.
  const child = spawn(join(build, 'bin', 'runbook.js'), ['apply', 'runbooks/flood.yaml', '-i', 'inventories/flood.yaml', '--yes', '--no-progress', '--no-commit'], {
    cwd: repo.root,
    env: { ...process.env, NO_COLOR: '1', FLOOD_PASSWORD: PASSWORD, PEAK_RSS_FILE: peakFile, NODE_OPTIONS: `--require ${join(build, 'peak-rss.cjs')}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const [code] = (await once(child, 'close')) as [number | null];
  // Printed for the record: the bound is asserted below, the figure is what to watch.
  console.log(`output flood (${command}): peak RSS ${Math.round(Number(readFileSync(peakFile, 'utf8')) / 1024)} MB`);
  const runs = join(repo.root, '.runbook', 'runs');
  const [runId] = readdirSync(runs);
  const report = JSON.parse(readFileSync(join(repo.root, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
  return {
    code,
    output,
    peakRssKb: Number(readFileSync(peakFile, 'utf8')),
    journalBytes: statSync(join(runs, runId!, 'journal.jsonl')).size,
    stdout: report.hosts.flood!.steps[0]!.stdout!,
    markdown: readFileSync(join(repo.root, 'reports', 'runs', `${runId}.md`), 'utf8'),
  };
}

describe('a host that floods its output', () => {
  it(
    'printing 200 MB of lines: the controller stays small, the journal too, the report keeps the first and last lines',
    async () => {
      const run = await applyFlood('flood-lines');
      expect(run.code, run.output.slice(-3000)).toBe(0);
      expect(run.peakRssKb).toBeLessThan(PEAK_RSS_LIMIT_KB);
      expect(run.journalBytes).toBeLessThan(JOURNAL_LIMIT_BYTES);
      const lines = run.stdout.text.split('\n');
      expect(lines[0]).toBe(floodPiece('lines', 1).trimEnd());
      expect(lines.find((l) => l.includes('dropped'))).toMatch(/^\[… \d+ bytes dropped …\]$/);
      expect(run.stdout.droppedBytes).toBeGreaterThan(FLOOD_BYTES - 8 * 1024 * 1024);
      expect(lines.at(-1)).toMatch(/^line \d{8} x{80}$/);
      expect(Number(lines.at(-1)!.slice(5, 13))).toBeGreaterThan(FLOOD_BYTES / floodPiece('lines', 1).length);
      expect(run.markdown).toContain(`[… ${run.stdout.droppedBytes} bytes dropped …]`);
      expect(run.markdown).toContain(`first and last lines, ${run.stdout.droppedBytes} bytes dropped between`);
    },
    FLOOD_TIMEOUT_MS,
  );

  it(
    'redrawing one progress line with `\\r` for 200 MB: the same bounds, and `\\r` ends a line',
    async () => {
      const run = await applyFlood('flood-progress');
      expect(run.code, run.output.slice(-3000)).toBe(0);
      expect(run.peakRssKb).toBeLessThan(PEAK_RSS_LIMIT_KB);
      expect(run.journalBytes).toBeLessThan(JOURNAL_LIMIT_BYTES);
      const lines = run.stdout.text.split('\n');
      expect(lines[0]).toBe(floodPiece('progress', 1).trimEnd());
      expect(lines.find((l) => l.includes('dropped'))).toMatch(/^\[… \d+ bytes dropped …\]$/);
      expect(run.stdout.droppedBytes).toBeGreaterThan(FLOOD_BYTES - 8 * 1024 * 1024);
      expect(lines.at(-1)).toMatch(/^progress \d{8} #{40}$/);
      expect(Number(lines.at(-1)!.slice(9, 17))).toBeGreaterThan(FLOOD_BYTES / floodPiece('progress', 1).length);
      expect(run.markdown).toContain(`[… ${run.stdout.droppedBytes} bytes dropped …]`);
    },
    FLOOD_TIMEOUT_MS,
  );
});
