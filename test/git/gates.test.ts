import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runApply, type ApplyOptions } from '../../engine/commands/apply.js';
import { runApprove } from '../../engine/commands/approve.js';
import { planFromFiles, renderPlanJson } from '../../engine/commands/plan.js';
import { main } from '../../engine/cli.js';
import { RunbookError } from '../../engine/errors.js';
import { computePlanHash } from '../../engine/plan/make-plan.js';
import type { Plan } from '../../engine/schema/plan.js';
import type { RunReport } from '../../engine/schema/report.js';
import { AUTHOR, COLLEAGUE, INVENTORY_PATH, REVIEWER, RUNBOOK_PATH, createInventoryYaml, createRunbookYaml, createTempRepository, type Identity, type TempRepository } from './temp-repository.js';

// The GitOps gates under attack, each in a real repository in a temporary folder: who approved is
// who committed the approval, the working tree never runs unreviewed, a run folder cannot be forged
// into a resume, and the ledger of applied plans is git history.

type Policy = Parameters<typeof createInventoryYaml>[0];

let repo: TempRepository;
beforeEach(async () => {
  repo = await createTempRepository();
});
afterEach(() => repo.remove());

/** Alice commits the runbook and the inventory: she is the author of the change. */
async function setUp(policy: Policy = {}, runbook = createRunbookYaml()) {
  repo.write(RUNBOOK_PATH, runbook);
  repo.write(INVENTORY_PATH, createInventoryYaml(policy));
  repo.write('README.md', 'lab\n');
  await repo.commitAll('add the demo runbook and the lab', AUTHOR);
}

async function makePlanFile(name = 'plan.json', version = '4.4.0'): Promise<{ plan: Plan; path: string }> {
  const { plan } = await planFromFiles({ runbookPath: join(repo.root, RUNBOOK_PATH), inventoryPath: join(repo.root, INVENTORY_PATH), params: [`targetVersion=${version}`] });
  const path = join(repo.root, 'plans', name);
  mkdirSync(join(repo.root, 'plans'), { recursive: true });
  writeFileSync(path, renderPlanJson(plan));
  return { plan, path };
}

async function apply(options: Partial<ApplyOptions>) {
  let stderr = '';
  const exitCode = await runApply({
    params: [],
    yes: true,
    noProgress: true,
    format: 'text',
    isTty: false,
    write: () => {},
    writeError: (t) => (stderr += t),
    env: {},
    ...options,
  });
  return { exitCode, stderr };
}

/** `runbook approve PLAN` run by `identity` in its own checkout of the repository. */
async function approveAs(identity: Identity, planPath: string, extra: { base?: string } = {}) {
  let out = '';
  const exitCode = await repo.actAs(identity, () => runApprove({ planPath, ...extra, write: (t) => (out += t), writeError: (t) => (out += t) }));
  return { exitCode, out };
}

/** An approval file as anyone could write it, committed by `identity`: the file says what it likes. */
async function commitApprovalFile(plan: Plan, identity: Identity, approverInFile: string): Promise<string> {
  repo.write(`approvals/${plan.hash.slice('sha256:'.length)}.json`, `${JSON.stringify({ planHash: plan.hash, commit: null, approver: approverInFile, approvedAt: '2026-11-24T10:00:00.000Z', runbook: { name: 'demo-upgrade', version: '1.2.0' } }, null, 2)}\n`);
  return repo.commitAll(`approve ${plan.hash}`, identity);
}

async function rejection(promise: Promise<unknown>): Promise<RunbookError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunbookError);
  return error as RunbookError;
}

function listReports(): string[] {
  const folder = join(repo.root, 'reports', 'runs');
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

async function head(): Promise<string> {
  return (await repo.git.revparse(['HEAD'])).trim();
}

describe('approvals: the approver is the git identity of the approval commit', () => {
  it('(a) refuses an approval the author committed, whatever name the approval file records', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    const { plan, path } = await makePlanFile();
    await commitApprovalFile(plan, AUTHOR, 'Somebody Else');

    const error = await rejection(apply({ target: path }));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('RB4004');
    expect(error.message).toContain(`${AUTHOR.name} <${AUTHOR.email}>`);
    expect(listReports()).toEqual([]);
  });

  it('(a) `runbook approve --by` is refused: the approver is not a flag', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    const { path } = await makePlanFile();
    const before = await head();
    let stderr = '';
    const exitCode = await main(['approve', path, '--by', 'Somebody Else'], { stdout: () => {}, stderr: (t) => (stderr += t) });
    expect(exitCode).toBe(2);
    expect(stderr).toContain('the approver is the git identity of the approval commit');
    expect(stderr).toContain('git config user.name');
    expect(await head()).toBe(before);
  });

  it("(b) does not trust the plan's commit: a plan claiming a colleague's older commit is still the author's change", async () => {
    repo.write('README.md', 'lab\n');
    const colleagues = await repo.commitAll('a README', COLLEAGUE);
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    const { plan, path } = await makePlanFile();
    // `commit` is not covered by the hash: the plan file still reads as valid with the colleague's commit in it.
    writeFileSync(path, renderPlanJson({ ...plan, commit: colleagues }));
    await commitApprovalFile(plan, AUTHOR, AUTHOR.name);

    const error = await rejection(apply({ target: path }));
    expect(error.code).toBe('RB4004');
    expect(listReports()).toEqual([]);
  });

  it('(c) counts every commit that changed an input, not only the one the plan was made at', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    repo.write('NOTES.md', 'unrelated\n');
    await repo.commitAll('an unrelated note', COLLEAGUE);
    const { plan, path } = await makePlanFile();
    await commitApprovalFile(plan, AUTHOR, AUTHOR.name);

    const error = await rejection(apply({ target: path }));
    expect(error.code).toBe('RB4004');
    expect(error.message).toMatch(/authored commit [0-9a-f]{12} that changed/);
    // `runbook approve` refuses it before committing anything, too.
    const refused = await rejection(approveAs(AUTHOR, path));
    expect(refused.code).toBe('RB4004');
  });

  it('accepts an approval committed by someone who changed no input, and reports who from git', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    const { plan, path } = await makePlanFile();
    const approved = await approveAs(REVIEWER, path);
    expect(approved.exitCode, approved.out).toBe(0);
    const approvalCommit = await head();
    expect(await repo.git.raw(['log', '-1', '--format=%an <%ae>|%s'])).toBe(`${REVIEWER.name} <${REVIEWER.email}>|runbook: approve demo-upgrade 1.2.0 plan ${plan.hash.slice(7, 19)} by ${REVIEWER.name}\n`);
    const again = await approveAs({ name: 'BOB REVIEWER', email: 'Bob@Example.com' }, path);
    expect(again.out).toContain('already approved by Bob Reviewer');
    expect(await head()).toBe(approvalCommit);

    const { exitCode, stderr } = await apply({ target: path });
    expect(exitCode, stderr).toBe(0);
    const [json, markdown] = listReports();
    const report = JSON.parse(readFileSync(join(repo.root, 'reports', 'runs', json!), 'utf8')) as RunReport;
    expect(report.approvals).toEqual([expect.objectContaining({ approver: `${REVIEWER.name} <${REVIEWER.email}>`, approvalCommit, planHash: plan.hash })]);
    expect(readFileSync(join(repo.root, 'reports', 'runs', markdown!), 'utf8')).toContain(`approval commit ${approvalCommit.slice(0, 12)}`);
  });

  it('compares identities by email or by name, ignoring case', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    const { path } = await makePlanFile();
    for (const identity of [{ name: 'alice author', email: 'elsewhere@example.com' }, { name: 'Someone Else', email: 'ALICE@example.COM' }]) {
      const error = await rejection(approveAs(identity, path));
      expect(error.code).toBe('RB4004');
    }
  });

  it('counts the commits since the last applied plan of that runbook and inventory', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    const first = await makePlanFile('first.json');
    expect((await approveAs(REVIEWER, first.path)).exitCode).toBe(0);
    expect((await apply({ target: first.path })).exitCode).toBe(0);

    // Carol changes the inventory after that run: Alice's change was applied and reviewed, Carol's is new.
    repo.write(INVENTORY_PATH, createInventoryYaml({ requireApproval: true, forbidSelfApproval: true }, '  leaf02: { role: leaf }\n'));
    await repo.commitAll('add leaf02', COLLEAGUE);
    const second = await makePlanFile('second.json');
    expect((await rejection(approveAs(COLLEAGUE, second.path))).code).toBe('RB4004');
    const byAlice = await approveAs(AUTHOR, second.path);
    expect(byAlice.exitCode, byAlice.out).toBe(0);
    expect((await apply({ target: second.path })).exitCode).toBe(0);
  });

  it('with --base, counts the commits since the branch left the base when no plan was applied yet', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    await repo.git.raw(['checkout', '-q', '-b', 'add-leaf02']);
    repo.write(INVENTORY_PATH, createInventoryYaml({ requireApproval: true, forbidSelfApproval: true }, '  leaf02: { role: leaf }\n'));
    await repo.commitAll('add leaf02', COLLEAGUE);
    const { path } = await makePlanFile();

    // Without a base the whole history counts, and Alice wrote the inventory in the first place.
    expect((await rejection(approveAs(AUTHOR, path))).code).toBe('RB4004');
    expect((await rejection(approveAs(COLLEAGUE, path, { base: 'main' }))).code).toBe('RB4004');
    expect((await approveAs(AUTHOR, path, { base: 'main' })).exitCode).toBe(0);
    expect((await rejection(apply({ target: path })).then((e) => e.code))).toBe('RB4004');
    const { exitCode, stderr } = await apply({ target: path, base: 'main' });
    expect(exitCode, stderr).toBe(0);
    expect((await rejection(apply({ target: path, base: 'no-such-branch', allowReapply: true }))).message).toContain('no-such-branch');
  });

  it('refuses an approver identity holding control characters, and commits nothing', async () => {
    await setUp({ requireApproval: true });
    const { plan, path } = await makePlanFile();
    const before = await head();
    const error = await rejection(approveAs({ name: 'Bob Reviewer\nSigned-off-by: Eve <eve@example.com>', email: REVIEWER.email }, path));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('RB4009');
    expect(error.message).toContain('control character');
    expect(await head()).toBe(before);

    // An approval commit made by other means with such an identity is refused at apply.
    await commitApprovalFile(plan, { name: 'Bob\u001b[2JReviewer', email: REVIEWER.email }, 'Bob Reviewer');
    const refused = await rejection(apply({ target: path }));
    expect(refused.code).toBe('RB4009');
  });
});

describe('signed approvals', () => {
  let keys: string;
  beforeEach(() => {
    keys = mkdtempSync(join(tmpdir(), 'runbook-keys-'));
    for (const name of ['bob', 'eve']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(keys, name)]);
  });
  afterEach(() => rmSync(keys, { recursive: true, force: true }));

  const publicKey = (name: string) => readFileSync(join(keys, `${name}.pub`), 'utf8').trim();

  async function setUpSigned() {
    repo.write('.gitops/allowed_signers', `${REVIEWER.email} namespaces="git" ${publicKey('bob')}\n`);
    await setUp({ requireApproval: true, forbidSelfApproval: true, requireSignedApprovals: true, allowedSignersFile: '.gitops/allowed_signers' });
    await repo.git.addConfig('gpg.format', 'ssh');
    return makePlanFile();
  }

  async function approveSignedAs(identity: Identity, key: string, planPath: string) {
    await repo.git.addConfig('user.signingkey', join(keys, key));
    try {
      return await approveAs(identity, planPath, { base: 'main' });
    } finally {
      await repo.git.raw(['config', '--unset', 'user.signingkey']);
    }
  }

  it('refuses an unsigned approval commit', async () => {
    const { plan, path } = await setUpSigned();
    await commitApprovalFile(plan, REVIEWER, REVIEWER.name);
    const error = await rejection(apply({ target: path, base: 'main' }));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('RB4011');
    expect(error.message).toContain('not signed');
  });

  it('refuses an approval signed by a key missing from the committed allowed-signers file', async () => {
    const { path } = await setUpSigned();
    const approved = await approveSignedAs(REVIEWER, 'eve', path);
    expect(approved.exitCode).toBe(1);
    expect(approved.out).toContain('signature');
    // The key added to the working tree's copy of the file does not count: the committed one does.
    writeFileSync(join(repo.root, '.gitops', 'allowed_signers'), `${REVIEWER.email} namespaces="git" ${publicKey('bob')}\n${REVIEWER.email} namespaces="git" ${publicKey('eve')}\n`);
    const error = await rejection(apply({ target: path, base: 'main' }));
    expect(error.code).toBe('RB4011');
  });

  it("refuses an approval signed by an allowed key whose principal is not the approver's email", async () => {
    const { plan, path } = await setUpSigned();
    // Bob's key, but the commit claims to be Carol's.
    await repo.git.addConfig('user.signingkey', join(keys, 'bob'));
    repo.write(`approvals/${plan.hash.slice('sha256:'.length)}.json`, `${JSON.stringify({ planHash: plan.hash, commit: null, approver: COLLEAGUE.name, approvedAt: '2026-11-24T10:00:00.000Z', runbook: { name: 'demo-upgrade', version: '1.2.0' } })}\n`);
    await repo.git.add(['-A']);
    await repo.git.raw(['commit', '-q', '-S', '-m', 'approve', `--author=${COLLEAGUE.name} <${COLLEAGUE.email}>`]);
    const error = await rejection(apply({ target: path, base: 'main' }));
    expect(error.code).toBe('RB4011');
    expect(error.message).toContain(REVIEWER.email);
  });

  it('reads the allowed signers as they were before the change: a key the change adds is not trusted', async () => {
    const { plan, path } = await setUpSigned();
    await repo.git.raw(['checkout', '-q', '-b', 'change']);
    // On her branch Alice lists her own key under Bob's name, then signs an approval committed as Bob.
    repo.write('.gitops/allowed_signers', `${REVIEWER.email} namespaces="git" ${publicKey('bob')}\n${REVIEWER.email} namespaces="git" ${publicKey('eve')}\n`);
    await repo.commitAll('trust one more key', AUTHOR);
    await repo.git.addConfig('user.signingkey', join(keys, 'eve'));
    repo.write(`approvals/${plan.hash.slice('sha256:'.length)}.json`, `${JSON.stringify({ planHash: plan.hash, commit: null, approver: REVIEWER.name, approvedAt: '2026-11-24T10:00:00.000Z', runbook: { name: 'demo-upgrade', version: '1.2.0' } })}\n`);
    await repo.git.add(['-A']);
    await repo.git.raw(['commit', '-q', '-S', '-m', 'approve', `--author=${REVIEWER.name} <${REVIEWER.email}>`]);
    const error = await rejection(apply({ target: path, base: 'main' }));
    expect(error.code).toBe('RB4011');
    expect(error.message).toContain('before the change');
  });

  it('cannot check a signature with no start of the change to read the allowed signers at, and says to give --base', async () => {
    const { path } = await setUpSigned();
    await approveSignedAs(REVIEWER, 'bob', path);
    const error = await rejection(apply({ target: path }));
    expect(error.code).toBe('RB4011');
    expect(error.message).toContain('--base');
  });

  it('accepts an approval signed by the approver with a key in the allowed-signers file', async () => {
    const { path } = await setUpSigned();
    const approved = await approveSignedAs(REVIEWER, 'bob', path);
    expect(approved.exitCode, approved.out).toBe(0);
    const { exitCode, stderr } = await apply({ target: path, base: 'main' });
    expect(exitCode, stderr).toBe(0);
  });
});

describe('apply RUNBOOK -i runs only what is committed', () => {
  const runbook = () => join(repo.root, RUNBOOK_PATH);
  const inventory = () => join(repo.root, INVENTORY_PATH);
  const params = ['targetVersion=4.4.0'];

  it('refuses an uncommitted edit, naming the file, and runs it with --allow-dirty, saying so in the report', async () => {
    await setUp();
    repo.write(RUNBOOK_PATH, `${createRunbookYaml()}# an edit not yet committed\n`);
    const error = await rejection(apply({ target: runbook(), inventory: inventory(), params }));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe('RB4010');
    expect(error.message).toContain(`${RUNBOOK_PATH} differs from HEAD`);
    expect(error.message).not.toContain(INVENTORY_PATH);
    expect(error.message).toContain('--allow-dirty');
    expect(listReports()).toEqual([]);

    const { exitCode, stderr } = await apply({ target: runbook(), inventory: inventory(), params, allowDirty: true });
    expect(exitCode, stderr).toBe(0);
    const [json, markdown] = listReports();
    const report = JSON.parse(readFileSync(join(repo.root, 'reports', 'runs', json!), 'utf8')) as RunReport;
    expect(report.allowDirty).toBe(true);
    expect(readFileSync(join(repo.root, 'reports', 'runs', markdown!), 'utf8')).toMatch(/\| Inputs \| .*--allow-dirty/);
  });

  it('refuses a file never committed, and a runbook outside the repository', async () => {
    await setUp();
    repo.write('inventories/new.yaml', createInventoryYaml());
    const untracked = await rejection(apply({ target: runbook(), inventory: join(repo.root, 'inventories/new.yaml'), params }));
    expect(untracked.code).toBe('RB4010');
    expect(untracked.message).toContain('inventories/new.yaml is not committed');

    const outside = mkdtempSync(join(tmpdir(), 'runbook-outside-'));
    try {
      writeFileSync(join(outside, 'runbook.yaml'), createRunbookYaml());
      const error = await rejection(apply({ target: join(outside, 'runbook.yaml'), inventory: inventory(), params, root: repo.root }));
      expect(error.code).toBe('RB4010');
      expect(error.message).toContain('outside the repository');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('refuses files in no repository at all unless --allow-dirty', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'runbook-nogit-'));
    try {
      writeFileSync(join(folder, 'runbook.yaml'), createRunbookYaml());
      writeFileSync(join(folder, 'inventory.yaml'), createInventoryYaml());
      const target = { target: join(folder, 'runbook.yaml'), inventory: join(folder, 'inventory.yaml'), params, root: folder };
      const error = await rejection(apply(target));
      expect(error.code).toBe('RB4010');
      expect(error.message).toContain('not in a git repository');
      expect((await apply({ ...target, allowDirty: true })).exitCode).toBe(0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('still requires the approval of an approval-requiring plan with --allow-dirty', async () => {
    await setUp({ requireApproval: true });
    repo.write(RUNBOOK_PATH, `${createRunbookYaml()}# an edit not yet committed\n`);
    const error = await rejection(apply({ target: runbook(), inventory: inventory(), params, allowDirty: true }));
    expect(error.code).toBe('RB4003');
  });
});

describe('apply --resume checks the admission of the run', () => {
  const RUN_ID = '20261124-100000-demo-upgrade-f0f0';

  /** A runbook whose every command leaves a trace in `marker`: nothing may run on any host. */
  function createTracingRunbook(marker: string): string {
    return `apiVersion: runbook/v1
kind: Runbook
metadata: { name: demo-upgrade, version: 1.2.0 }
params:
  targetVersion: { type: string, required: true }
targets: { group: lab }
prechecks:
  - { id: version, run: 'echo precheck {{host.name}} >> ${marker}' }
steps:
  - { id: install, kind: install, run: 'echo install {{host.name}} >> ${marker}' }
`;
  }

  /** `.runbook/runs/<id>/` written by hand: the plan, a one-line run.json, and a journal. */
  function forgeRunFolder(plan: Plan, journal: object[]) {
    const folder = join(repo.root, '.runbook', 'runs', RUN_ID);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'plan.json'), renderPlanJson(plan));
    writeFileSync(join(folder, 'run.json'), JSON.stringify({ runId: RUN_ID, planHash: plan.hash, runbook: 'demo-upgrade', inventoryDir: join(repo.root, 'inventories'), machine: 'elsewhere', pid: 1, user: 'mallory', startedAt: '2026-11-24T10:00:00.000Z' }));
    const started = { type: 'run.started', at: Date.UTC(2026, 10, 24, 10), runId: RUN_ID, runbook: 'demo-upgrade', version: '1.2.0', planHash: plan.hash, hosts: ['spine01', 'leaf01'], stages: plan.stages.map((s) => ({ name: s.name, batches: s.batches })) };
    writeFileSync(join(folder, 'journal.jsonl'), [...journal, started].map((e) => `${JSON.stringify(e)}\n`).join(''));
  }

  const admission = (plan: Plan, approvalCommit: string | null, inputsCommit?: string) => ({
    type: 'run.admitted',
    at: Date.UTC(2026, 10, 24, 10),
    runId: RUN_ID,
    planHash: plan.hash,
    approvalRequired: true,
    approvalCommit,
    allowDirty: false,
    ...(inputsCommit ? { inputsCommit } : {}),
  });

  it('refuses a forged run folder: no admission, an admission naming no commit, one naming a commit that does not approve the plan, or a self-approval', async () => {
    const marker = join(repo.root, 'ran.txt');
    await setUp({ requireApproval: true, forbidSelfApproval: true }, createTracingRunbook(marker));
    const { plan } = await makePlanFile();
    const notAnApproval = await head();
    const selfApproval = await commitApprovalFile(plan, AUTHOR, 'Somebody Else');
    const inputs = notAnApproval;
    const cases: Array<[string, object[], string]> = [
      ['no admission', [], 'no admission'],
      ['no commit of the inputs', [admission(plan, selfApproval)], 'names no commit of the history of HEAD'],
      ['a commit that does not exist', [admission(plan, 'f'.repeat(40), inputs)], 'not in the history'],
      ['a commit with no approval of the plan', [admission(plan, notAnApproval, inputs)], 'does not approve'],
      ['no commit at all', [admission(plan, null, inputs)], 'names no approval commit'],
      ['a self-approval', [admission(plan, selfApproval, inputs)], 'forbids self-approval'],
    ];
    for (const [label, journal, message] of cases) {
      forgeRunFolder(plan, journal);
      const error = await rejection(apply({ resume: RUN_ID, root: repo.root }));
      expect(error.exitCode, label).toBe(2);
      expect(error.code, label).toMatch(/^RB40(04|12)$/);
      expect(error.message, label).toContain(message);
      expect(existsSync(marker), label).toBe(false);
      rmSync(join(repo.root, '.runbook'), { recursive: true, force: true });
    }
  });

  it('refuses a forged plan that turns its own approval off: the plan must be what the admitted inputs make', async () => {
    const marker = join(repo.root, 'ran.txt');
    await setUp({ requireApproval: true, forbidSelfApproval: true }, createTracingRunbook(marker));
    const { plan } = await makePlanFile();
    const forged = structuredClone(plan) as Plan;
    forged.policy.requireApproval = false;
    forged.hash = computePlanHash(forged);
    forgeRunFolder(forged, [{ ...admission(forged, null, await head()), approvalRequired: false }]);
    const error = await rejection(apply({ resume: RUN_ID, root: repo.root }));
    expect(error.code).toBe('RB4012');
    expect(error.message).toContain('is not what its runbook and inventory at');
    expect(existsSync(marker)).toBe(false);
  });

  it('resumes a run it admitted, with the approval it relied on', async () => {
    await setUp({ requireApproval: true, forbidSelfApproval: true });
    const { plan, path } = await makePlanFile();
    expect((await approveAs(REVIEWER, path)).exitCode).toBe(0);
    const approvalCommit = await head();
    const controller = new AbortController();
    const first = await apply({ target: path, signal: controller.signal, onEvent: (event) => event.type === 'step.finished' && event.record.id === 'backup-config' && controller.abort() });
    const runId = /continue with `runbook apply --resume (\S+)`/.exec(first.stderr)?.[1];
    expect(runId, first.stderr).toBeDefined();
    const journal = readFileSync(join(repo.root, '.runbook', 'runs', runId!, 'journal.jsonl'), 'utf8').split('\n');
    expect(JSON.parse(journal[0]!)).toMatchObject({ type: 'run.admitted', planHash: plan.hash, approvalRequired: true, approvalCommit, allowDirty: false });

    const resumed = await apply({ resume: runId, root: repo.root });
    expect(resumed.exitCode, resumed.stderr).toBe(0);
  });
});

describe('the ledger of applied plans is git history', () => {
  it('refuses a plan applied before even when reports/runs was removed from the working tree and from HEAD', async () => {
    await setUp();
    const { plan, path } = await makePlanFile();
    expect((await apply({ target: path })).exitCode).toBe(0);
    const [first] = listReports();

    renameSync(join(repo.root, 'reports', 'runs'), join(repo.root, 'old-runs'));
    const moved = await rejection(apply({ target: path }));
    expect(moved.code).toBe('RB4005');
    expect(moved.message).toContain(first!.replace(/\.json$/, ''));

    await repo.git.raw(['rm', '-r', '-q', '--cached', 'reports/runs']);
    await repo.commitAll('drop the run reports');
    const removed = await rejection(apply({ target: path }));
    expect(removed.code).toBe('RB4005');
    expect(removed.message).toContain(`plan ${plan.hash} was already applied`);
  });

  it('counts a report written but not committed, and not a run its pre-checks stopped', async () => {
    await setUp();
    const { path } = await makePlanFile();
    expect((await apply({ target: path, commit: false })).exitCode).toBe(0);
    expect((await rejection(apply({ target: path }))).code).toBe('RB4005');

    const failing = createRunbookYaml().replace("run: echo VERSION=4.3.0", 'run: echo VERSION=4.3.0 && false');
    repo.write(RUNBOOK_PATH, failing);
    await repo.commitAll('a pre-check that fails');
    const stopped = await makePlanFile('stopped.json');
    expect((await apply({ target: stopped.path })).exitCode).toBe(1);
    await repo.git.raw(['rm', '-r', '-q', 'reports/runs']);
    await repo.commitAll('drop the run reports');
    expect((await apply({ target: stopped.path })).exitCode).toBe(1);
  });

  it('refuses to apply a plan again while a run of it is unfinished, and names the run to resume', async () => {
    await setUp();
    const { plan, path } = await makePlanFile();
    const controller = new AbortController();
    const stopped = await apply({ target: path, signal: controller.signal, onEvent: (event) => event.type === 'step.finished' && event.record.id === 'backup-config' && controller.abort() });
    const runId = /continue with `runbook apply --resume (\S+)`/.exec(stopped.stderr)?.[1];
    expect(runId, stopped.stderr).toBeDefined();
    const again = await rejection(apply({ target: path }));
    expect(again.code).toBe('RB4005');
    // In this process its pid is alive: `runs` would say running; from a new shell, interrupted.
    expect(again.message).toMatch(new RegExp(`plan ${plan.hash} has a run that has not finished: ${runId} \\((interrupted|running)\\)`));
    expect(again.message).toContain(`runbook apply --resume ${runId}`);
    expect((await apply({ target: path, allowReapply: true })).exitCode).toBe(0);
  });

  it('refuses to resume a run whose journal was cut back after its report, and to decide steps of a run that ended', async () => {
    await setUp();
    const { path } = await makePlanFile();
    const done = await apply({ target: path });
    expect(done.exitCode, done.stderr).toBe(0);
    const runId = readdirSync(join(repo.root, '.runbook', 'runs'))[0]!;
    const decided = await rejection(apply({ resume: runId, root: repo.root, markDone: ['spine01:install'] }));
    expect(decided.code).toBe('RB3012');
    const journal = join(repo.root, '.runbook', 'runs', runId, 'journal.jsonl');
    writeFileSync(journal, `${readFileSync(journal, 'utf8').split('\n').slice(0, 2).join('\n')}\n`);
    const replayed = await rejection(apply({ resume: runId, root: repo.root }));
    expect(replayed.code).toBe('RB4005');
    expect(replayed.message).toContain('the journal was cut back');
  });
});
