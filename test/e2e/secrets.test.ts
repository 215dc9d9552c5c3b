import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { makePlan } from '../../engine/plan/make-plan.js';
import { createManualClock } from '../../engine/run/clock.js';
import type { RunEvent } from '../../engine/run/events.js';
import { executePlan } from '../../engine/run/execute-plan.js';
import { createRedactor } from '../../engine/run/redact.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { RunReport } from '../../engine/schema/report.js';
import type { Runbook, Step } from '../../engine/schema/runbook.js';
import { createLocalTransport } from '../../engine/transport/local.js';
import { startLab, type Lab } from '../../lab/index.js';
import { spawnCli } from '../helpers/cli-process.js';
import { FAST_TIMINGS, REPO_ROOT } from '../helpers/lab-apply.js';

// DESIGN section 5: values from passwordEnv, and captures marked `secret: true`, never appear in a
// plan, journal, report, log line or error message. The whole fabric upgrade runs through the CLI
// in child processes with a recognisable SSH password and a recognisable BGP password read from
// the switches; then every file written and every line printed is searched for both.

const PASSWORD = 'S3cr3t-Pa55-XYZZY';
const BGP_PASSWORD = 'Bgp-Md5-PLUGH-42';
const SECRETS = [PASSWORD, BGP_PASSWORD];
const RUNBOOK = 'fabric-upgrade-secret.yaml';
const SWITCHES = ['spine01', 'spine02', 'leaf01', 'leaf02', 'leaf03', 'leaf04'];

/**
 * The shipped fabric upgrade plus a pre-check that captures the switch's BGP password as a secret,
 * and a step that passes it in a command: the grep only succeeds when the real value reached the
 * switch, so a run that succeeds proves the secret was used, not merely hidden.
 */
function secretRunbook(): string {
  const document = parseDocument(readFileSync(join(REPO_ROOT, 'runbooks', 'fabric-upgrade.yaml'), 'utf8'));
  document.addIn(['prechecks'], {
    id: 'bgp-password',
    run: 'cat /etc/frr/bgp-password',
    capture: { bgpPassword: { regex: '^(\\S+)$', secret: true } },
    hint: 'Set the BGP MD5 password in /etc/frr/bgp-password.',
  });
  const steps = document.getIn(['steps']) as { items: unknown[] };
  steps.items.splice(1, 0, document.createNode({ id: 'bgp-password-kept', kind: 'check', run: 'grep -qxF {{quote bgpPassword}} /etc/frr/bgp-password' }));
  return document.toString();
}

interface Workspace {
  lab: Lab;
  dir: string;
}

let top: string;
const labs: Lab[] = [];

/** A lab with the recognisable secrets and a folder (not this checkout) holding its inventory and the runbook. */
async function startWorkspace(name: string): Promise<Workspace> {
  const lab = await startLab({ timings: FAST_TIMINGS, password: PASSWORD, cumulus: { bgpPassword: BGP_PASSWORD } });
  labs.push(lab);
  const dir = join(top, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'lab.yaml'), lab.inventoryYaml());
  writeFileSync(join(dir, RUNBOOK), secretRunbook());
  return { lab, dir };
}

async function runCli(workspace: Workspace, args: string[]) {
  const cli = spawnCli(args, { cwd: workspace.dir, env: { RUNBOOK_LAB_PASSWORD: PASSWORD } });
  const exitCode = await cli.exit;
  return { exitCode, output: cli.output() };
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Where each secret shows up: `file` or `output of ...`, for a readable failure. */
function leaksIn(texts: ReadonlyArray<[string, string]>): string[] {
  return texts.flatMap(([where, text]) => SECRETS.filter((secret) => text.includes(secret)).map((secret) => `${secret} in ${where}`));
}

const apply = (format: 'json' | 'text') =>
  ['apply', RUNBOOK, '-i', 'lab.yaml', '--param', 'targetVersion=4.4.0', '--yes', '--no-progress', '--no-commit', '--allow-dirty', '--format', format];

beforeAll(() => {
  top = mkdtempSync(join(tmpdir(), 'runbook-secrets-'));
});
afterAll(async () => {
  await Promise.all(labs.map((lab) => lab.stop()));
  rmSync(top, { recursive: true, force: true });
});

describe('secrets never leave the run', () => {
  it('a whole fabric upgrade (JSON events and plain output) and its plan hold neither the SSH password nor the captured BGP password', async () => {
    const [json, plain] = await Promise.all([startWorkspace('json'), startWorkspace('plain')]);
    const plan = await runCli(json, ['plan', RUNBOOK, '-i', 'lab.yaml', '--param', 'targetVersion=4.4.0', '--out', 'plan.json']);
    expect(plan.exitCode).toBe(0);
    // Two upgrades at once, each against its own lab, from its own folder (own locks and journal).
    const [jsonRun, plainRun] = await Promise.all([runCli(json, apply('json')), runCli(plain, apply('text'))]);
    expect(jsonRun.exitCode, jsonRun.output).toBe(0);
    expect(plainRun.exitCode, plainRun.output).toBe(0);
    const runsList = await runCli(json, ['runs']);

    // The secrets were really there and really used.
    for (const { lab } of [json, plain]) {
      for (const host of SWITCHES) expect(lab.state(host).version).toBe('4.4.0');
      const used = lab.commandLog('leaf01').filter((e) => e.command.startsWith('grep -qxF'));
      expect(used).toEqual([expect.objectContaining({ command: `grep -qxF ${BGP_PASSWORD} /etc/frr/bgp-password`, code: 0 })]);
    }
    // The JSON events and the report show where the secret went, as ***.
    expect(jsonRun.output).toContain('"command":"grep -qxF *** /etc/frr/bgp-password"');
    const reportFile = readdirSync(join(json.dir, 'reports', 'runs')).find((f) => f.endsWith('.json'))!;
    const report = JSON.parse(readFileSync(join(json.dir, 'reports', 'runs', reportFile), 'utf8')) as RunReport;
    const read = report.hosts.leaf01!.prechecks.find((s) => s.id === 'bgp-password');
    expect(read).toMatchObject({ status: 'succeeded', captured: ['bgpPassword'], stdout: { text: '***' } });
    expect(report.hosts.leaf01!.steps.find((s) => s.id === 'bgp-password-kept')).toMatchObject({ status: 'succeeded', command: 'grep -qxF *** /etc/frr/bgp-password' });

    const files = filesUnder(top);
    // What the runs wrote: the plan, each run's own plan, meta and journal, the reports and snapshots.
    const written = files.map((f) => relative(top, f));
    for (const dir of ['json', 'plain']) {
      expect(written).toContainEqual(expect.stringMatching(new RegExp(`^${dir}/\\.runbook/runs/[^/]+/journal\\.jsonl$`)));
      expect(written).toContainEqual(expect.stringMatching(new RegExp(`^${dir}/reports/runs/[^/]+\\.json$`)));
      expect(written).toContainEqual(expect.stringMatching(new RegExp(`^${dir}/reports/runs/[^/]+\\.md$`)));
      expect(written).toContainEqual(expect.stringMatching(new RegExp(`^${dir}/reports/snapshots/[^/]+-after\\.json$`)));
    }
    expect(written).toContain('json/plan.json');
    const texts: Array<[string, string]> = [
      ...files.map((f): [string, string] => [relative(top, f), readFileSync(f, 'utf8')]),
      ['output of plan', plan.output],
      ['output of apply --format json', jsonRun.output],
      ['output of apply', plainRun.output],
      ['output of runs', runsList.output],
    ];
    expect(leaksIn(texts)).toEqual([]);
  });

  it('a host whose password is refused fails with AUTH_FAILED in words that do not hold the password', async () => {
    const workspace = await startWorkspace('refused');
    await workspace.lab.injectFault('leaf02', { kind: 'wrongPassword' });
    const run = await runCli(workspace, apply('json'));
    expect(run.exitCode).toBe(1);
    expect(run.output).toContain('AUTH_FAILED');
    expect(run.output).toMatch(/authentication as lab failed at [\d.]+:\d+ \(tried: password\)/);
    const texts = filesUnder(workspace.dir).map((f): [string, string] => [relative(top, f), readFileSync(f, 'utf8')]);
    const report = texts.find(([where]) => /reports\/runs\/[^/]+\.json$/.test(where));
    expect(report?.[1]).toContain('"errorCode": "AUTH_FAILED"');
    expect(leaksIn([...texts, ['output of apply', run.output]])).toEqual([]);
  });
});

describe('the executor, on a secret capture', () => {
  /** A file holding the secret, so that no command names it. */
  function secretFile(content: string): string {
    const path = join(top, `secret-${randomUUID()}`);
    writeFileSync(path, content);
    return path;
  }

  /** One local host; what every event and record of the run says, as one text to search. */
  async function execute(steps: Step[]) {
    const runbook: Runbook = { apiVersion: 'runbook/v1', kind: 'Runbook', metadata: { name: 'secret', version: '1.0.0' }, targets: { group: 'all' }, steps };
    const inventory: Inventory = { apiVersion: 'runbook/v1', kind: 'Inventory', hosts: { h1: { transport: 'local', groups: ['all'] } } };
    const plan = makePlan({
      runbook,
      inventory,
      files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
      params: {},
      commit: null,
      engineVersion: 'test',
    });
    const events: RunEvent[] = [];
    const local = createLocalTransport();
    const result = await executePlan(
      plan,
      {
        clock: createManualClock(0),
        emit: (e) => events.push(e),
        connect: (host) => local.connect({ name: host, transport: 'local', port: 0 }),
        approve: async () => true,
      },
      { runId: 'secret' },
    );
    return { record: result.hosts.h1!.steps[0]!, events, everything: JSON.stringify({ events, result }) };
  }

  it('hides it from the reason of a retry, announced before the step ends', async () => {
    const run = await execute([
      { id: 'read', kind: 'check', run: `cat ${secretFile(`${BGP_PASSWORD}\n`)}`, capture: { key: { regex: '^(\\S+)$', secret: true } }, expect: [{ match: '^never$' }], retries: 1 },
    ]);
    expect(run.record).toMatchObject({ status: 'failed', attempts: 2, stdout: '***\n' });
    expect(run.events.filter((e) => e.type === 'step.retried').map((e) => e.type === 'step.retried' && e.reason)).toEqual(['output does not match /^never$/: "***\\n"']);
    expect(run.everything).not.toContain(BGP_PASSWORD);
  });

  it('keeps no output of a step whose secret capture found nothing to redact', async () => {
    // A trailing space: the regex misses the value, which therefore cannot be redacted.
    const run = await execute([{ id: 'read', kind: 'check', run: `cat ${secretFile(`${BGP_PASSWORD} \n`)}`, capture: { key: { regex: '^(\\S+)$', secret: true } } }]);
    expect(run.record).toMatchObject({ status: 'failed', stdout: '', message: 'capture `key`: /^(\\S+)$/ found nothing in the output' });
    expect(run.everything).not.toContain(BGP_PASSWORD);
  });

  it('hides a secret that holds another one whole, whichever it learned first', () => {
    const redactor = createRedactor([PASSWORD]);
    redactor.add(`${PASSWORD}-and-more`);
    expect(redactor.redact(`a ${PASSWORD}-and-more b ${PASSWORD}`)).toBe('a *** b ***');
  });
});
