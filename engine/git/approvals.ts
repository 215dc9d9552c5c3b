import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { createInputError } from '../errors.js';
import type { Plan } from '../schema/plan.js';
import { Approval } from '../schema/report.js';
import { assertPlainIdentity, formatIdentity, isPlainIdentity, type GitIdentity } from './identity.js';
import { execGit, describeRepository, isCommitHash, isReachable, readFileAtCommit } from './repository.js';
import { checkSelfApproval, findChangeStart, type ChangeScope } from './self-approval.js';
import { checkApprovalSignature } from './signatures.js';

/** Where approvals are committed, relative to the repository root. */
export const APPROVALS_FOLDER = 'approvals';

/** An approval as git holds it: the file, and the commit that wrote it, whose author is the approver. */
export interface ApprovalRecord {
  file: Approval;
  commit: string;
  approver: GitIdentity;
  /** The author date of that commit (ISO 8601, UTC). */
  approvedAt: string;
}

type ApprovalRead = { found: 'none' } | { found: 'valid'; record: ApprovalRecord } | { found: 'invalid'; reason: string };

/** What the approval gate of a new run relied on. */
export interface AdmittedApproval {
  /** For the report: the approvals found, the approver as git records it. */
  approvals: Approval[];
  /** The approval commit the gate relied on; null when there was none. */
  approvalCommit: string | null;
}

const APPROVE_HINT = 'someone other than the author of the change runs `runbook approve PLAN`, which commits the approval as their git identity';

/** `approvals/<hex of the plan hash>.json`, relative to the repository root. */
export function approvalRelativePath(planHash: string): string {
  return `${APPROVALS_FOLDER}/${planHash.replace(/^sha256:/, '')}.json`;
}

/** The approval file `runbook approve` writes; `approver` is informative, the gate reads git. */
export function createApproval(plan: Plan, approver: string, commit: string | null, now: number): Approval {
  return {
    planHash: plan.hash,
    commit,
    approver,
    approvedAt: new Date(now).toISOString(),
    runbook: { name: plan.runbook.name, version: plan.runbook.version },
  };
}

export function renderApprovalJson(approval: Approval): string {
  return `${JSON.stringify(approval, null, 2)}\n`;
}

function parseApproval(text: string, planHash: string): { ok: true; approval: Approval } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `not JSON (${(error as Error).message})` };
  }
  if (!Value.Check(Approval, value)) {
    const first = Value.Errors(Approval, value).First();
    return { ok: false, reason: first ? `${first.path || '/'} ${first.message}` : 'not an approval' };
  }
  if (value.planHash !== planHash) return { ok: false, reason: `it approves ${value.planHash}, not ${planHash}` };
  return { ok: true, approval: value };
}

/**
 * The approval of a plan hash as committed at `ref` (an approval only written to disk does not
 * count), with the commit that last wrote the file: its author is the approver.
 */
export async function readApprovalAt(root: string, ref: string, planHash: string): Promise<ApprovalRead> {
  const path = approvalRelativePath(planHash);
  const read = await readFileAtCommit(root, ref, path);
  if (!read.ok) return { found: 'none' };
  const parsed = parseApproval(read.text, planHash);
  if (!parsed.ok) return { found: 'invalid', reason: parsed.reason };
  const writer = await execGit(root, ['log', '-1', '--format=%H%x00%an%x00%ae%x00%aI', ref, '--', path]);
  const [commit = '', name = '', email = '', date = ''] = writer.stdout.replace(/\n$/, '').split('\0');
  if (writer.code !== 0 || !isCommitHash(commit)) return { found: 'invalid', reason: `the commit that added it cannot be found (${writer.stderr.trim()})` };
  return { found: 'valid', record: { file: parsed.approval, commit, approver: { name, email }, approvedAt: new Date(date).toISOString() } };
}

/** The approval as a report shows it: who and when from git, and the commit relied on. */
export function toReportApproval(record: ApprovalRecord): Approval {
  return { ...record.file, approver: formatIdentity(record.approver), approvedAt: record.approvedAt, approvalCommit: record.commit };
}

/**
 * Honours the plan's policy against the approval committed at HEAD: with `requireApproval`, refuses
 * (exit 2) a plan with no valid approval there, an approver identity with control characters, an
 * unsigned or wrongly signed approval commit (`requireSignedApprovals`) and a self-approval
 * (`forbidSelfApproval`). Returns what the gate relied on, for the journal and the report.
 */
export async function checkApproval(plan: Plan, root: string, options: { base?: string } = {}): Promise<AdmittedApproval> {
  const repository = await describeRepository(root);
  const read: ApprovalRead = repository?.head ? await readApprovalAt(repository.root, 'HEAD', plan.hash) : { found: 'none' };
  if (!plan.policy.requireApproval) return reportUnrequired(read);

  const file = approvalRelativePath(plan.hash);
  if (!repository) {
    throw createInputError('RB4003', `plan ${plan.hash} requires an approval, and approvals are committed to git: ${root} is not in a git repository`);
  }
  if (read.found === 'invalid') {
    throw createInputError('RB4006', `the approval ${file} at HEAD is not valid: ${read.reason}; approve the plan again with \`runbook approve PLAN\``);
  }
  if (read.found === 'none') {
    const onDisk = existsSync(join(repository.root, file));
    throw createInputError(
      'RB4003',
      onDisk
        ? `plan ${plan.hash} requires an approval: ${file} exists but is not committed; commit it (approvals count once they are in git)`
        : `plan ${plan.hash} is not approved and its policy requires an approval; ${APPROVE_HINT}`,
    );
  }
  await checkApprover(plan, repository.root, read.record, { end: 'HEAD', base: options.base });
  return { approvals: [toReportApproval(read.record)], approvalCommit: read.record.commit };
}

/**
 * The approval a resumed run's admission names: the commit must be reachable from HEAD, must be
 * the commit that wrote the approval of this very hash, and must pass the approver checks (the
 * change under review ending at that commit). Refuses (exit 2) otherwise.
 */
export async function checkAdmittedApproval(plan: Plan, root: string, commit: string, options: { base?: string } = {}): Promise<ApprovalRecord> {
  const refuse = (reason: string) => createInputError('RB4012', `the run's admission names approval commit ${String(commit).slice(0, 40)}, which ${reason}; the run cannot be resumed: apply the plan anew`);
  if (!isCommitHash(commit) || !(await isReachable(root, commit))) throw refuse('is not in the history of HEAD');
  const read = await readApprovalAt(root, commit, plan.hash);
  if (read.found === 'none') throw refuse(`does not approve plan ${plan.hash} (it has no ${approvalRelativePath(plan.hash)})`);
  if (read.found === 'invalid') throw refuse(`does not approve plan ${plan.hash}: ${read.reason}`);
  if (read.record.commit !== commit) throw refuse(`does not approve plan ${plan.hash}: the approval was committed by ${read.record.commit.slice(0, 12)}`);
  await checkApprover(plan, root, read.record, { end: commit, base: options.base });
  return read.record;
}

/** Checks the approver of a committed approval: a plain identity, the signature, not the author of the change. */
async function checkApprover(plan: Plan, root: string, record: ApprovalRecord, scope: ChangeScope): Promise<void> {
  assertPlainIdentity(record.approver, `approval commit ${record.commit.slice(0, 12)}'s author`, 'approve again as a plain git identity');
  if (!plan.policy.requireSignedApprovals && !plan.policy.forbidSelfApproval) return;
  const start = await findChangeStart(plan, root, scope);
  if (plan.policy.requireSignedApprovals) await checkApprovalSignature(plan, root, record.commit, record.approver, start);
  if (plan.policy.forbidSelfApproval) await checkSelfApproval(plan, root, record.approver, scope.end, start);
}

/** An approval a plan does not require is reported when it is readable, never a reason to refuse. */
function reportUnrequired(read: ApprovalRead): AdmittedApproval {
  if (read.found !== 'valid' || !isPlainIdentity(read.record.approver)) return { approvals: [], approvalCommit: null };
  return { approvals: [toReportApproval(read.record)], approvalCommit: read.record.commit };
}
