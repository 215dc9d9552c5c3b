import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { simpleGit } from 'simple-git';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkApplyPolicy, reportRun, type GitOpsApplyOptions } from '../../engine/commands/apply-gitops.js';
import { readPlanFile, runApply, type ApplyOptions } from '../../engine/commands/apply.js';
import { runApprove } from '../../engine/commands/approve.js';
import { planFromFiles, renderPlanJson } from '../../engine/commands/plan.js';
import { RunbookError } from '../../engine/errors.js';
import { checkPlanFreshness } from '../../engine/git/freshness.js';
import { DEFAULT_SNAPSHOT_FOLDER, saveSnapshot } from '../../engine/io/snapshot-store.js';
import { createManualClock } from '../../engine/run/clock.js';
import { executePlan } from '../../engine/run/execute-plan.js';
import { createLocalTransport } from '../../engine/transport/local.js';
import { bgp, buildSnapshot } from '../snapshot/build-snapshot.js';
import type { Plan } from '../../engine/schema/plan.js';
import type { RunReport } from '../../engine/schema/report.js';
import { AUTHOR, COLLEAGUE, INVENTORY_PATH, REVIEWER as REVIEWER_IDENTITY, RUNBOOK_PATH, createInventoryYaml, createRunbookYaml, createTempRepository, type Identity, type TempRepository } from './temp-repository.js';

// Every test works in a real repository in a temporary folder: real commits, real `git show`, and
// a real run of the runbook's shell commands on local hosts.

const REPORT_SCHEMA = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'schemas', 'report.schema.json'), 'utf8')) as object;
const REVIEWER = REVIEWER_IDENTITY.name;
const REVIEWER_AS_GIT = `${REVIEWER_IDENTITY.name} <${REVIEWER_IDENTITY.email}>`;

let repo: TempRepository;
beforeEach(async () => {
  repo = await createTempRepository();
});
afterEach(() => repo.remove());

async function setUp(policy: { requireApproval?: boolean; forbidSelfApproval?: boolean } = {}) {
  repo.write(RUNBOOK_PATH, createRunbookYaml());
  repo.write(INVENTORY_PATH, createInventoryYaml(policy));
  repo.write('README.md', 'lab\n');
  await repo.commitAll('add the demo runbook and the lab', AUTHOR);
}

async function makePlanFile(name = 'plan.json'): Promise<{ plan: Plan; path: string }> {
  const { plan } = await planFromFiles({ runbookPath: join(repo.root, RUNBOOK_PATH), inventoryPath: join(repo.root, INVENTORY_PATH), params: ['targetVersion=4.4.0'] });
  const path = repo.write(join('plans', name), renderPlanJson(plan));
  return { plan, path };
}

async function apply(target: string, gitops: GitOpsApplyOptions & Pick<ApplyOptions, 'onEvent' | 'signal'> = {}, extra: { inventory?: string; params?: string[] } = {}) {
  let stdout = '';
  let stderr = '';
  const exitCode = await runApply({
    target,
    inventory: extra.inventory,
    params: extra.params ?? [],
    yes: true,
    noProgress: true,
    format: 'text',
    isTty: false,
    write: (t) => (stdout += t),
    writeError: (t) => (stderr += t),
    env: {},
    ...gitops,
  });
  return { exitCode, stdout, stderr };
}

/** `runbook approve PLAN` as `identity`: the approver is the git identity of the approval commit. */
async function approve(planPath: string, identity: Identity = REVIEWER_IDENTITY) {
  let out = '';
  const exitCode = await repo.actAs(identity, () => runApprove({ planPath, write: (t) => (out += t), writeError: (t) => (out += t) }));
  return { exitCode, out };
}

function listReports(): string[] {
  const folder = join(repo.root, 'reports', 'runs');
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

async function headMessage(): Promise<string> {
  return repo.git.raw(['log', '-1', '--format=%B']);
}

async function headFiles(): Promise<string[]> {
  const text = await repo.git.raw(['show', '--name-only', '--format=', 'HEAD']);
  return text.split('\n').filter(Boolean).sort();
}

async function rejection(promise: Promise<unknown>): Promise<RunbookError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunbookError);
  return error as RunbookError;
}

describe('runbook approve and apply in a git repository', () => {
  it('commits the report alone, with a message naming runbook, outcome, hosts and run id', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    const { plan, path } = await makePlanFile();
    const approved = await approve(path);
    expect(approved.exitCode).toBe(0);
    expect(await headFiles()).toEqual([`approvals/${plan.hash.slice('sha256:'.length)}.json`]);
    expect((await headMessage()).split('\n')[0]).toBe(`runbook: approve demo-upgrade 1.2.0 plan ${plan.hash.slice(7, 19)} by ${REVIEWER}`);
    const approvalCommit = (await repo.git.revparse(['HEAD'])).trim();

    const { exitCode, stderr } = await apply(path);
    expect(exitCode).toBe(0);
    const [json, markdown] = listReports();
    const runId = json!.replace(/\.json$/, '');
    expect(markdown).toBe(`${runId}.md`);
    expect(await headFiles()).toEqual([`reports/runs/${runId}.json`, `reports/runs/${runId}.md`]);
    const stat = await repo.git.raw(['show', '--stat', '--format=%s', 'HEAD']);
    expect(stat.split('\n')[0]).toBe(`runbook: demo-upgrade 1.2.0 succeeded on 2 hosts (run ${runId})`);
    expect(stat).toContain('2 files changed');
    const message = await headMessage();
    expect(message).toContain(`Plan: ${plan.hash}`);
    expect(message).toMatch(/Hosts:\n {2}spine01: succeeded\n {2}leaf01: succeeded/);
    expect(stderr).toContain(`report committed as`);

    const committed = JSON.parse(await repo.git.raw(['show', `HEAD:reports/runs/${runId}.json`])) as RunReport;
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(REPORT_SCHEMA);
    expect(validate(committed), JSON.stringify(validate.errors)).toBe(true);
    expect(committed.planHash).toBe(plan.hash);
    expect(committed.commit).toBe(approvalCommit);
    expect(committed.approvals).toEqual([expect.objectContaining({ approver: REVIEWER_AS_GIT, planHash: plan.hash, approvalCommit })]);
    expect(committed.runBy).toMatchObject({ gitName: AUTHOR.name, gitEmail: AUTHOR.email });
    expect(committed.hosts.spine01!.steps.map((s) => [s.id, s.status])).toEqual([
      ['backup-config', 'succeeded'],
      ['install', 'succeeded'],
      ['services-up', 'succeeded'],
    ]);
    const committedMarkdown = await repo.git.raw(['show', `HEAD:reports/runs/${runId}.md`]);
    expect(committedMarkdown).toContain(`Bob Reviewer`);
    expect(committedMarkdown).toContain('```mermaid');
    // The token captured with `secret: true` went into the install command and its output.
    const everything = `${JSON.stringify(committed)}\n${committedMarkdown}`;
    expect(everything).not.toContain('s3cr3t-t0ken-value');
    expect(committed.hosts.leaf01!.steps[1]!.command).toBe('echo installing 4.4.0 with token ***');
  });

  it('leaves changes the user staged for other files staged and out of the commit', async () => {
    await setUp();
    const { path } = await makePlanFile();
    repo.write('README.md', 'lab, edited\n');
    repo.write('notes.txt', 'work in progress\n');
    await repo.git.add(['README.md', 'notes.txt']);

    const { exitCode } = await apply(path);
    expect(exitCode).toBe(0);
    const files = await headFiles();
    expect(files).toHaveLength(2);
    expect(files.every((f) => f.startsWith('reports/runs/'))).toBe(true);
    const staged = (await repo.git.raw(['diff', '--cached', '--name-only'])).split('\n').filter(Boolean).sort();
    expect(staged).toEqual(['README.md', 'notes.txt']);
  });

  it('refuses a stale plan once a change to the inventory is committed, naming the inventory', async () => {
    await setUp();
    const { path } = await makePlanFile();
    repo.write(INVENTORY_PATH, createInventoryYaml({}, '  leaf02: { role: leaf }\n'));
    await repo.commitAll('add leaf02');

    const error = await rejection(apply(path));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('RB4001');
    expect(error.message).toContain(`inventory ${INVENTORY_PATH} changed`);
    expect(error.message).not.toContain(`runbook ${RUNBOOK_PATH} changed`);
    expect(listReports()).toEqual([]);
  });

  it('judges freshness at HEAD: uncommitted edits neither make a plan stale nor count', async () => {
    await setUp();
    const { path } = await makePlanFile();
    repo.write(INVENTORY_PATH, createInventoryYaml({}, '  leaf02: { role: leaf }\n'));
    repo.write(RUNBOOK_PATH, `${createRunbookYaml()}# an edit not yet committed\n`);

    const { exitCode } = await apply(path);
    expect(exitCode).toBe(0);
    expect(listReports()).toHaveLength(2);
  });

  it('names the params and the engine version when they are what differs', async () => {
    await setUp();
    const withChannel = (channel: string) =>
      createRunbookYaml().replace('  targetVersion: { type: string, required: true }\n', `  targetVersion: { type: string, required: true }\n  channel: { type: string, default: ${channel} }\n`);
    repo.write(RUNBOOK_PATH, withChannel('stable'));
    await repo.commitAll('a release channel');
    const { plan } = await makePlanFile();
    repo.write(RUNBOOK_PATH, withChannel('beta'));
    await repo.commitAll('the beta channel by default');

    const error = await rejection(checkPlanFreshness(plan, repo.root, { engineVersion: '99.0.0' }));
    expect(error.code).toBe('RB4001');
    expect(error.message).toContain(`runbook ${RUNBOOK_PATH} changed`);
    expect(error.message).toMatch(/param channel is "stable" in the plan; its default in HEAD \([0-9a-f]{12}\) is "beta"/);
    expect(error.message).toContain(`the engine is 99.0.0, the plan was made by ${plan.engineVersion}`);
    expect(error.message).not.toContain('inventory');
  });

  it('refuses an unapproved plan when the policy requires an approval, and an approval not yet committed', async () => {
    await setUp({ requireApproval: true });
    const { plan, path } = await makePlanFile();
    const error = await rejection(apply(path));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('RB4003');
    expect(error.message).toContain('is not approved');

    const hex = plan.hash.slice('sha256:'.length);
    repo.write(`approvals/${hex}.json`, JSON.stringify({ planHash: plan.hash, commit: null, approver: REVIEWER, approvedAt: '2026-11-24T10:00:00.000Z', runbook: { name: 'demo-upgrade', version: '1.2.0' } }));
    const uncommitted = await rejection(apply(path));
    expect(uncommitted.message).toContain('exists but is not committed');
  });

  it('refuses a self-approval, by name or email in any case, when forbidSelfApproval is set', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    const { plan, path } = await makePlanFile();
    for (const identity of [AUTHOR, { name: 'Someone', email: AUTHOR.email.toUpperCase() }]) {
      const error = await rejection(approve(path, identity));
      expect(error.code).toBe('RB4004');
      expect(error.message).toContain('forbids self-approval');
    }
    // An approval file written and committed by hand is checked at apply time too, whatever it says.
    const hex = plan.hash.slice('sha256:'.length);
    repo.write(`approvals/${hex}.json`, JSON.stringify({ planHash: plan.hash, commit: null, approver: 'alice author', approvedAt: '2026-11-24T10:00:00.000Z', runbook: { name: 'demo-upgrade', version: '1.2.0' } }));
    await repo.commitAll('approve it myself');
    const error = await rejection(apply(path));
    expect(error.code).toBe('RB4004');
    expect(listReports()).toEqual([]);
  });

  it('approves once per approver, refuses a stale plan, and says so when the approval cannot be committed', async () => {
    await setUp({ requireApproval: true });
    const { path } = await makePlanFile();
    expect((await approve(path)).exitCode).toBe(0);
    const head = (await repo.git.revparse(['HEAD'])).trim();
    const again = await approve(path, { name: REVIEWER.toUpperCase(), email: 'bob.elsewhere@example.com' });
    expect(again.exitCode).toBe(0);
    expect(again.out).toContain(`is already approved by ${REVIEWER_AS_GIT}`);
    expect((await repo.git.revparse(['HEAD'])).trim()).toBe(head);
    expect((await rejection(runApprove({ planPath: path, by: REVIEWER, write: () => {}, writeError: () => {} }))).code).toBe('RB4007');

    writeFileSync(join(repo.root, '.git', 'index.lock'), '');
    const locked = await approve(path, COLLEAGUE);
    rmSync(join(repo.root, '.git', 'index.lock'));
    expect(locked.exitCode).toBe(1);
    expect(locked.out).toMatch(/warning: the approval is in .*approvals\/[0-9a-f]{64}\.json but was not committed \(git add failed: .*index\.lock/);

    repo.write(INVENTORY_PATH, createInventoryYaml({ requireApproval: true }, '  leaf02: { role: leaf }\n'));
    await repo.commitAll('add leaf02');
    const stale = await rejection(approve(path, COLLEAGUE));
    expect(stale.code).toBe('RB4001');
  });

  it('names the approval of the plan in the report of a run that was interrupted and resumed', async () => {
    await setUp({ requireApproval: true });
    const { plan, path } = await makePlanFile();
    expect((await approve(path)).exitCode).toBe(0);
    // Interrupted as Ctrl-C would, once the first host has started its steps.
    const controller = new AbortController();
    const interrupted = await apply(path, { onEvent: (event) => event.type === 'step.finished' && event.record.id === 'backup-config' && controller.abort(), signal: controller.signal });
    expect(interrupted.exitCode).toBe(1);
    const runId = /continue with `runbook apply --resume (\S+)`/.exec(interrupted.stderr)?.[1];
    expect(runId, interrupted.stderr).toBeDefined();
    expect(listReports()).toEqual([]);

    let stderr = '';
    const exitCode = await runApply({ resume: runId, root: repo.root, params: [], yes: true, noProgress: true, format: 'text', isTty: false, write: () => {}, writeError: (t) => (stderr += t), env: {} });
    const report = JSON.parse(readFileSync(join(repo.root, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
    expect(exitCode, stderr).toBe(0);
    // The token, captured with `secret: true`, was never written down: its read-only pre-check ran again.
    expect(report.hosts.spine01!.steps.map((s) => [s.id, s.status])).toEqual([
      ['backup-config', 'succeeded'],
      ['install', 'succeeded'],
      ['services-up', 'succeeded'],
    ]);
    expect(report.hosts.spine01!.prechecks.map((s) => s.id)).toEqual(['version', 'token', 'disk-space']);
    // (The journal holds it in the pre-check's own command, which is this fixture's runbook text.)
    const written = ['json', 'md'].map((extension) => readFileSync(join(repo.root, 'reports', 'runs', `${runId}.${extension}`), 'utf8'));
    for (const text of written) expect(text).not.toContain('s3cr3t-t0ken-value');
    expect(report.approvals).toEqual([expect.objectContaining({ approver: REVIEWER_AS_GIT, planHash: plan.hash })]);
    expect(readFileSync(join(repo.root, 'reports', 'runs', `${runId}.md`), 'utf8')).toContain(REVIEWER);
  });

  it('refuses to apply a plan hash twice unless --allow-reapply', async () => {
    await setUp();
    const { plan, path } = await makePlanFile();
    expect((await apply(path)).exitCode).toBe(0);
    const [first] = listReports();

    const error = await rejection(apply(path));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('RB4005');
    expect(error.message).toContain(`plan ${plan.hash} was already applied`);
    expect(error.message).toContain(first!.replace(/\.json$/, ''));
    expect(error.message).toContain('--allow-reapply');

    expect((await apply(path, { allowReapply: true })).exitCode).toBe(0);
    expect(listReports()).toHaveLength(4);
  });

  it('keeps the report on disk and says where when the commit fails (index.lock)', async () => {
    await setUp();
    const { path } = await makePlanFile();
    const head = (await repo.git.revparse(['HEAD'])).trim();
    writeFileSync(join(repo.root, '.git', 'index.lock'), '');

    const { exitCode, stderr } = await apply(path);
    expect(exitCode).toBe(0);
    const reports = listReports();
    expect(reports).toHaveLength(2);
    for (const file of reports) expect(readFileSync(join(repo.root, 'reports', 'runs', file), 'utf8').length).toBeGreaterThan(100);
    expect(stderr).toMatch(/warning: the report was not committed \(git add failed: .*index\.lock/);
    for (const file of reports) expect(stderr).toContain(join(repo.root, 'reports', 'runs', file));
    rmSync(join(repo.root, '.git', 'index.lock'));
    expect((await repo.git.revparse(['HEAD'])).trim()).toBe(head);
  });

  it('keeps the report when git knows no identity to commit as', async () => {
    await setUp();
    const { path } = await makePlanFile();
    await repo.git.raw(['config', '--unset', 'user.name']);
    await repo.git.raw(['config', '--unset', 'user.email']);
    await repo.git.addConfig('user.useConfigOnly', 'true');
    const home = mkdtempSync(join(tmpdir(), 'runbook-home-'));
    const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, GIT_CONFIG_NOSYSTEM: process.env.GIT_CONFIG_NOSYSTEM };
    // git reads the identity from the global config under HOME: point it at an empty one for this test only.
    Object.assign(process.env, { HOME: home, XDG_CONFIG_HOME: home, GIT_CONFIG_NOSYSTEM: '1' });
    try {
      const { exitCode, stderr } = await apply(path);
      expect(exitCode).toBe(0);
      expect(stderr).toMatch(/warning: the report was not committed \(git commit failed: .*(identity|tell me who you are)/i);
      expect(listReports()).toHaveLength(2);
      // Nothing of ours is left staged for the user to trip over.
      expect((await repo.git.raw(['diff', '--cached', '--name-only'])).trim()).toBe('');
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('writes the report but commits nothing outside a repository (with --allow-dirty: nothing there is committed)', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'runbook-nogit-'));
    try {
      writeFileSync(join(folder, 'runbook.yaml'), createRunbookYaml());
      writeFileSync(join(folder, 'inventory.yaml'), createInventoryYaml());
      const { exitCode, stderr } = await apply(join(folder, 'runbook.yaml'), { root: folder, allowDirty: true }, { inventory: join(folder, 'inventory.yaml'), params: ['targetVersion=4.4.0'] });
      expect(exitCode).toBe(0);
      expect(readdirSync(join(folder, 'reports', 'runs'))).toHaveLength(2);
      expect(stderr).toContain(`warning: the report was not committed: ${folder} is not in a git repository`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('writes the report without committing it with --no-commit', async () => {
    await setUp();
    const { path } = await makePlanFile();
    const head = (await repo.git.revparse(['HEAD'])).trim();
    const { exitCode, stderr } = await apply(path, { commit: false });
    expect(exitCode).toBe(0);
    expect(listReports()).toHaveLength(2);
    expect((await repo.git.revparse(['HEAD'])).trim()).toBe(head);
    expect(stderr).toContain('not committed: --no-commit');
  });

  it('reports a failed run with its rollback and keeps the exit code of the run', async () => {
    repo.write(RUNBOOK_PATH, createRunbookYaml({ failOn: 'leaf01' }));
    repo.write(INVENTORY_PATH, createInventoryYaml());
    await repo.commitAll('a runbook that fails on leaf01');
    const { path } = await makePlanFile();
    const { exitCode } = await apply(path);
    expect(exitCode).toBe(1);
    const subject = (await headMessage()).split('\n')[0]!;
    expect(subject).toMatch(/^runbook: demo-upgrade 1\.2\.0 failed on 2 hosts \(run .+\)$/);
    const message = await headMessage();
    expect(message).toContain('spine01: succeeded');
    expect(message).toMatch(/leaf01: rolled-back \(step install failed/);
  });

  it('applies a runbook with -i: no freshness check, but the approval of the hash it computes is required', async () => {
    await setUp({ requireApproval: true });
    const runbook = join(repo.root, RUNBOOK_PATH);
    const inventory = join(repo.root, INVENTORY_PATH);
    const refused = await rejection(apply(runbook, {}, { inventory, params: ['targetVersion=4.4.0'] }));
    expect(refused.code).toBe('RB4003');

    const { path } = await makePlanFile();
    expect((await approve(path)).exitCode).toBe(0);
    const { exitCode } = await apply(runbook, {}, { inventory, params: ['targetVersion=4.4.0'] });
    expect(exitCode).toBe(0);
    expect(listReports()).toHaveLength(2);
  });

  it('pushes the report commit with --push, and only warns when the push fails', async () => {
    await setUp();
    const { path } = await makePlanFile();
    const noRemote = await apply(path, { push: true });
    expect(noRemote.exitCode).toBe(0);
    expect(noRemote.stderr).toMatch(/warning: the report commit [0-9a-f]{12} was not pushed: /);

    const remote = `${repo.root}-remote.git`;
    await simpleGit().raw(['init', '--bare', '--initial-branch=main', remote]);
    try {
      await repo.git.raw(['remote', 'add', 'origin', remote]);
      await repo.git.raw(['push', '-q', '-u', 'origin', 'main']);
      const { plan: second, path: secondPath } = await makePlanFileWithParams('4.5.0');
      const pushed = await apply(secondPath, { push: true });
      expect(pushed.exitCode).toBe(0);
      const remoteHead = await simpleGit({ baseDir: remote }).raw(['log', '-1', '--format=%s', 'main']);
      expect(remoteHead).toMatch(/^runbook: demo-upgrade 1\.2\.0 succeeded on 2 hosts/);
      expect((await repo.git.raw(['log', '-1', '--format=%B'])).includes(second.hash)).toBe(true);
    } finally {
      rmSync(remote, { recursive: true, force: true });
    }
  });
});

describe('reportRun', () => {
  it('commits the snapshots of the run with its report, and shows their comparison', async () => {
    await setUp();
    const { path } = await makePlanFile();
    const { plan } = await readPlanFile(path);
    const context = await checkApplyPolicy(plan, { target: path });
    const transport = createLocalTransport();
    const runId = '20261124-100000-demo-upgrade-0001';
    const result = await executePlan(
      plan,
      { clock: createManualClock(Date.UTC(2026, 10, 24, 10)), emit: () => {}, connect: (host) => transport.connect({ name: host, transport: 'local', port: 0 }), approve: async () => true },
      { runId },
    );
    // The executor names the snapshots; the apply command's snapshot hook saves them where reportRun looks.
    const folder = join(repo.root, DEFAULT_SNAPSHOT_FOLDER);
    saveSnapshot(folder, buildSnapshot(`${runId}-before`, { bgp: [bgp('spine01', 'swp1', 65001, { state: 'Established' })] }, { hosts: ['spine01', 'leaf01'] }));
    saveSnapshot(folder, buildSnapshot(`${runId}-after`, { bgp: [bgp('spine01', 'swp1', 65001, { state: 'Idle' })] }, { hosts: ['spine01', 'leaf01'] }));
    result.snapshots = { before: `${runId}-before`, after: `${runId}-after` };

    let stderr = '';
    const { report, commit } = await reportRun(plan, result, context, { env: {}, writeError: (t) => (stderr += t) });
    expect(commit, stderr).toBeDefined();
    expect(await headFiles()).toEqual([
      `reports/runs/${runId}.json`,
      `reports/runs/${runId}.md`,
      `reports/snapshots/${runId}-after.json`,
      `reports/snapshots/${runId}-before.json`,
    ]);
    expect(report.snapshots.before).toEqual({ name: `${runId}-before`, file: `reports/snapshots/${runId}-before.json` });
    expect(report.snapshots.comparison?.totals).toEqual({ added: 0, removed: 0, changed: 1 });
    const markdown = readFileSync(join(repo.root, 'reports', 'runs', `${runId}.md`), 'utf8');
    expect(markdown).toContain(`## Snapshot comparison: \`${runId}-before\` → \`${runId}-after\``);
    expect(markdown).toContain('Established');
    expect(await headMessage()).toContain(`Files:\n  reports/runs/${runId}.md`);
  });
});

async function makePlanFileWithParams(version: string): Promise<{ plan: Plan; path: string }> {
  const { plan } = await planFromFiles({ runbookPath: join(repo.root, RUNBOOK_PATH), inventoryPath: join(repo.root, INVENTORY_PATH), params: [`targetVersion=${version}`] });
  return { plan, path: repo.write(join('plans', `${version}.json`), renderPlanJson(plan)) };
}
