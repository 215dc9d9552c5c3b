import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument, stringify } from 'yaml';
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
import { createTempRepository } from '../git/temp-repository.js';
import { runCliProcess, spawnCli } from '../helpers/cli-process.js';
import { FAST_TIMINGS, REPO_ROOT } from '../helpers/lab-apply.js';
import { filesUnder } from '../helpers/files-under.js';

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
    // The configuration backups fetched off the switches hold the BGP password, as the switch does:
    // they are the run's artifacts, kept out of git (.runbook/), never in a plan, report or output.
    const artifacts = written.filter((f) => /^(json|plain)\/\.runbook\/runs\/[^/]+\/artifacts\//.test(f));
    expect(artifacts).toHaveLength(2 * SWITCHES.length);
    const texts: Array<[string, string]> = [
      ...files.filter((f) => !artifacts.includes(relative(top, f))).map((f): [string, string] => [relative(top, f), readFileSync(f, 'utf8')]),
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

  it('refuses a secret capture shorter than 4 characters: the step fails and keeps none of its output', async () => {
    const run = await execute([
      { id: 'read', kind: 'check', run: `cat ${secretFile('Zq7\n')}`, capture: { key: { regex: '^(\\S+)$', secret: true } }, expect: [{ match: '^never$' }] },
    ]);
    expect(run.record).toMatchObject({
      status: 'failed',
      stdout: '',
      message: 'capture `key` is marked secret and is shorter than 4 characters: too short to be hidden in the output; check the capture',
    });
    expect(run.everything).not.toContain('Zq7');
  });

  it('hides a secret that holds another one whole, whichever it learned first', () => {
    const redactor = createRedactor([PASSWORD]);
    redactor.add(`${PASSWORD}-and-more`);
    expect(redactor.redact(`a ${PASSWORD}-and-more b ${PASSWORD}`)).toBe('a *** b ***');
  });
});

// Issue 12, item 11: a secret leaks in other spellings too. A local host (the controller itself,
// which has the password in its environment) prints the password and a secret capture in base64
// (standard and URL-safe, padded or not, inside `user:password` at each alignment, with the newline
// `echo` adds) and percent-encoded; every file written (journal, plan, report JSON and Markdown), every
// line printed and the git history of the committed report are searched for each spelling.

/** Both hold characters that base64 and percent-encoding spell differently from the raw text. */
const LOCAL_PASSWORD = 'Pw+/9 s@fe:K?&é~x';
const LOCAL_SECRET = 'Bgp/Md5+PLUGH 42=!';
const PASSWORD_VARIABLE = 'RUNBOOK_TEST_PASSWORD';

/** The spellings a leak would take: none of them may appear anywhere. */
function spellingsOf(secret: string): Array<[string, string]> {
  const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const urlSafe = (text: string) => text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const spellings: Array<[string, string]> = [
    ['raw', secret],
    ['base64', base64(secret)],
    ['base64 unpadded', base64(secret).replace(/=+$/, '')],
    ['base64url', urlSafe(base64(secret))],
    ['encodeURIComponent', encodeURIComponent(secret)],
    ['encodeURIComponent, lower-case hex', encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())],
    ['form-encoded', new URLSearchParams({ s: secret }).toString().slice(2)],
  ];
  // Inside a longer base64 string, at each of the three alignments: the middle that the secret alone decides.
  for (const prefix of ['u:', 'us:', 'use:']) {
    const whole = base64(`${prefix}${secret}`);
    spellings.push([`base64 of ${prefix}secret`, whole.slice(Math.ceil((prefix.length * 8) / 6) + 1, -4)]);
    spellings.push([`base64url of ${prefix}secret`, urlSafe(whole).slice(Math.ceil((prefix.length * 8) / 6) + 1, -4)]);
  }
  spellings.push(['base64 of secret and a newline', base64(`${secret}\n`).slice(0, -4)]);
  return spellings;
}

function spellingLeaks(texts: ReadonlyArray<[string, string]>): string[] {
  const secrets: Array<[string, string]> = [
    ['password', LOCAL_PASSWORD],
    ['secret capture', LOCAL_SECRET],
  ];
  return texts.flatMap(([where, text]) =>
    secrets.flatMap(([which, secret]) => spellingsOf(secret).filter(([, spelled]) => text.includes(spelled)).map(([how]) => `${which} (${how}) in ${where}`)),
  );
}

/** Commands that print `$VALUE` in every spelling above (a local host: /bin/sh on the controller, with node for the URL encodings). */
function printSpellings(value: string): string {
  const node = `${JSON.stringify(process.execPath)} -e`;
  return [
    `printf %s "${value}" | base64 -w0; echo`,
    `printf %s "${value}" | base64 -w0 | tr -d =; echo`,
    `printf %s "${value}" | base64 -w0 | tr '+/' '-_'; echo`,
    `echo "${value}" | base64 -w0; echo`,
    ...['u:', 'us:', 'use:'].map((prefix) => `printf '${prefix}%s' "${value}" | base64 -w0; echo`),
    ...['u:', 'us:', 'use:'].map((prefix) => `printf 'Authorization: Basic '; printf '${prefix}%s' "${value}" | base64 -w0 | tr '+/' '-_'; echo`),
    `VALUE="${value}" ${node} 'const v = process.env.VALUE; console.log("https://h/?p=" + encodeURIComponent(v)); console.log(new URLSearchParams({ p: v }).toString()); console.log(encodeURIComponent(v).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()))'`,
  ].join(' && ');
}

describe('secrets in other spellings', () => {
  const runbook = {
    apiVersion: 'runbook/v1',
    kind: 'Runbook',
    metadata: { name: 'spellings', version: '1.0.0' },
    params: { note: { type: 'string', default: 'none' } },
    targets: { group: 'all' },
    prechecks: [{ id: 'read-secret', run: 'cat secret.txt', capture: { token: { regex: '^(.+)$', secret: true } } }],
    steps: [
      { id: 'password-spellings', kind: 'check', run: printSpellings(`$${PASSWORD_VARIABLE}`) },
      { id: 'capture-spellings', kind: 'check', run: `TOKEN={{quote token}} && ${printSpellings('$TOKEN')}` },
      // Fails, quoting its output in the message, the journal's step.retried reason and the report.
      { id: 'fails-quoting', kind: 'check', run: printSpellings(`$${PASSWORD_VARIABLE}`), expect: [{ match: '^never$' }], retries: 1, backoff: '1ms' },
    ],
  };
  const inventory = {
    apiVersion: 'runbook/v1',
    kind: 'Inventory',
    hosts: { controller: { transport: 'local', groups: ['all'], auth: { passwordEnv: PASSWORD_VARIABLE } } },
  };

  it('none reaches the journal, the JSON events, the progress, the plan, the report (JSON and Markdown) or git history', async () => {
    const repo = await createTempRepository();
    try {
      repo.write('runbook.yaml', stringify(runbook));
      repo.write('inventory.yaml', stringify(inventory));
      repo.write('secret.txt', `${LOCAL_SECRET}\n`);
      repo.write('.gitignore', 'secret.txt\n.runbook/\n');
      await repo.commitAll('spellings');
      const env = { [PASSWORD_VARIABLE]: LOCAL_PASSWORD };
      const plan = await runCliProcess(['plan', 'runbook.yaml', '-i', 'inventory.yaml', '--out', 'plan.json'], { cwd: repo.root, env });
      expect(plan.code, plan.stderr).toBe(0);
      const json = await runCliProcess(['apply', 'runbook.yaml', '-i', 'inventory.yaml', '--format', 'json', '--no-commit'], { cwd: repo.root, env });
      const text = await runCliProcess(['apply', 'runbook.yaml', '-i', 'inventory.yaml', '--no-progress', '--allow-reapply'], { cwd: repo.root, env });
      // The failing step fails each run; everything else ran, so the spellings were really printed.
      for (const run of [json, text]) expect(run.code, run.stderr).toBe(1);
      const reports = readdirSync(join(repo.root, 'reports', 'runs')).filter((f) => f.endsWith('.json'));
      expect(reports).toHaveLength(2);
      const report = JSON.parse(readFileSync(join(repo.root, 'reports', 'runs', reports[0]!), 'utf8')) as RunReport;
      const steps = report.hosts.controller!.steps;
      expect(steps.map((s) => [s.id, s.status])).toEqual([
        ['password-spellings', 'succeeded'],
        ['capture-spellings', 'succeeded'],
        ['fails-quoting', 'failed'],
      ]);

      const history = execFileSync('git', ['log', '-p', '--all', '--format=%H %an %s%n%b'], { cwd: repo.root, encoding: 'utf8' });
      expect(history).toContain('reports/runs/');
      const texts: Array<[string, string]> = [
        ...filesUnder(repo.root)
          .filter((f) => !f.includes(`${join(repo.root, '.git')}/`) && !f.endsWith('secret.txt'))
          .map((f): [string, string] => [relative(repo.root, f), readFileSync(f, 'utf8')]),
        ['output of plan', plan.stdout + plan.stderr],
        ['output of apply --format json', json.stdout + json.stderr],
        ['output of apply', text.stdout + text.stderr],
        ['git log -p', history],
      ];
      expect(texts.map(([where]) => where)).toEqual(expect.arrayContaining(['plan.json', expect.stringMatching(/^\.runbook\/runs\/.+\/journal\.jsonl$/), expect.stringMatching(/^reports\/runs\/.+\.md$/)]));
      expect(spellingLeaks(texts)).toEqual([]);
      // Each printed line is hidden whole or in its middle: the lines are there, the secrets are not.
      expect(steps[0]!.stdout!.text.split('\n').filter((l) => l.includes('***'))).toHaveLength(13);
      expect(steps[1]!.stdout!.text.split('\n').filter((l) => l.includes('***'))).toHaveLength(13);
    } finally {
      repo.remove();
    }
  });

  it('a password shorter than 4 characters is refused before anything runs, naming the variable, not the value', async () => {
    const repo = await createTempRepository();
    try {
      repo.write('runbook.yaml', stringify(runbook));
      repo.write('inventory.yaml', stringify(inventory));
      await repo.commitAll('short');
      const env = { [PASSWORD_VARIABLE]: 'q7Z' };
      for (const args of [['plan', 'runbook.yaml', '-i', 'inventory.yaml'], ['apply', 'runbook.yaml', '-i', 'inventory.yaml', '--no-progress']]) {
        const out = await runCliProcess(args, { cwd: repo.root, env });
        expect(out.stderr).toContain(`error RB2010: the password in $${PASSWORD_VARIABLE} (passwordEnv of host \`controller\`) is shorter than 4 characters`);
        expect(out.stdout + out.stderr).not.toContain('q7Z');
        expect(out.code).toBe(2);
      }
      expect(existsSync(join(repo.root, '.runbook'))).toBe(false);
      expect(existsSync(join(repo.root, 'reports'))).toBe(false);
    } finally {
      repo.remove();
    }
  });

  it.each([
    ['equal to the password', LOCAL_PASSWORD],
    ['holding the password', `prefix-${LOCAL_PASSWORD}-suffix`],
    ['holding its base64', `Basic ${Buffer.from(`ops:${LOCAL_PASSWORD}`).toString('base64')}`],
    ['holding it URL-encoded', `https://h/?p=${encodeURIComponent(LOCAL_PASSWORD)}`],
  ])('a param %s is refused by plan and by apply RUNBOOK -i, naming the param and the variable', async (_, value) => {
    const repo = await createTempRepository();
    try {
      repo.write('runbook.yaml', stringify(runbook));
      repo.write('inventory.yaml', stringify(inventory));
      await repo.commitAll('param');
      const env = { [PASSWORD_VARIABLE]: LOCAL_PASSWORD };
      for (const args of [
        ['plan', 'runbook.yaml', '-i', 'inventory.yaml', '--param', `note=${value}`, '--out', 'plan.json'],
        ['plan', 'runbook.yaml', '-i', 'inventory.yaml', '--param', `note=${value}`, '--format', 'json'],
        ['apply', 'runbook.yaml', '-i', 'inventory.yaml', '--param', `note=${value}`, '--no-progress'],
      ]) {
        const out = await runCliProcess(args, { cwd: repo.root, env });
        expect(out.stderr).toContain(`error RB2008: param \`note\` holds the password in $${PASSWORD_VARIABLE} (passwordEnv of host \`controller\`)`);
        expect(out.code).toBe(2);
        expect(spellingLeaks([['output', out.stdout + out.stderr]])).toEqual([]);
      }
      expect(existsSync(join(repo.root, 'plan.json'))).toBe(false);
      expect(existsSync(join(repo.root, '.runbook'))).toBe(false);
    } finally {
      repo.remove();
    }
  });

  it('a plan file made where the password was unknown (CI) is refused by apply once it is', async () => {
    const repo = await createTempRepository();
    try {
      repo.write('runbook.yaml', stringify(runbook));
      repo.write('inventory.yaml', stringify(inventory));
      await repo.commitAll('param');
      const plan = await runCliProcess(['plan', 'runbook.yaml', '-i', 'inventory.yaml', '--param', `note=${LOCAL_PASSWORD}`, '--out', 'plan.json'], { cwd: repo.root });
      expect(plan.code, plan.stderr).toBe(0);
      const out = await runCliProcess(['apply', 'plan.json', '--no-progress'], { cwd: repo.root, env: { [PASSWORD_VARIABLE]: LOCAL_PASSWORD } });
      expect(out.stderr).toContain(`error RB2008: param \`note\` holds the password in $${PASSWORD_VARIABLE}`);
      expect(out.code).toBe(2);
      expect(existsSync(join(repo.root, '.runbook'))).toBe(false);
    } finally {
      repo.remove();
    }
  });
});
