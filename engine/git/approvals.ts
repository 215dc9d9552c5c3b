import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { createInputError } from '../errors.js';
import type { Plan } from '../schema/plan.js';
import { Approval } from '../schema/report.js';
import { describeRepository, readCommitAuthor, readFileAtCommit } from './repository.js';

/** Where approvals are committed, relative to the repository root. */
export const APPROVALS_FOLDER = 'approvals';

type ApprovalRead = { found: 'none' } | { found: 'valid'; approval: Approval } | { found: 'invalid'; reason: string };

/** `approvals/<hex of the plan hash>.json`, relative to the repository root. */
export function approvalRelativePath(planHash: string): string {
  return `${APPROVALS_FOLDER}/${planHash.replace(/^sha256:/, '')}.json`;
}

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

export function parseApproval(text: string, planHash: string): ApprovalRead {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { found: 'invalid', reason: `not JSON (${(error as Error).message})` };
  }
  if (!Value.Check(Approval, value)) {
    const first = Value.Errors(Approval, value).First();
    return { found: 'invalid', reason: first ? `${first.path || '/'} ${first.message}` : 'not an approval' };
  }
  if (value.planHash !== planHash) return { found: 'invalid', reason: `it approves ${value.planHash}, not ${planHash}` };
  return { found: 'valid', approval: value };
}

/** The approval of a plan hash as committed at HEAD: an approval only written to disk does not count. */
export async function readCommittedApproval(root: string, planHash: string): Promise<ApprovalRead> {
  const read = await readFileAtCommit(root, 'HEAD', approvalRelativePath(planHash));
  return read.ok ? parseApproval(read.text, planHash) : { found: 'none' };
}

/**
 * Honours the plan's policy: with `requireApproval`, refuses (exit 2) a plan with no committed
 * approval, and with `forbidSelfApproval` one approved by the author of the commit the plan was made
 * at. Returns the approvals found, for the report.
 */
export async function checkApproval(plan: Plan, root: string): Promise<Approval[]> {
  const repository = await describeRepository(root);
  const read: ApprovalRead = repository?.head ? await readCommittedApproval(repository.root, plan.hash) : { found: 'none' };
  if (!plan.policy.requireApproval) return read.found === 'valid' ? [read.approval] : [];

  const file = approvalRelativePath(plan.hash);
  if (!repository) {
    throw createInputError('RB4003', `plan ${plan.hash} requires an approval, and approvals are committed to git: ${root} is not in a git repository`);
  }
  if (read.found === 'invalid') {
    throw createInputError('RB4006', `the approval ${file} at HEAD is not valid: ${read.reason}; approve the plan again with \`runbook approve PLAN --by NAME\``);
  }
  if (read.found === 'none') {
    const onDisk = existsSync(join(repository.root, file));
    throw createInputError(
      'RB4003',
      onDisk
        ? `plan ${plan.hash} requires an approval: ${file} exists but is not committed; commit it (approvals count once they are in git)`
        : `plan ${plan.hash} is not approved and its policy requires an approval; have someone${plan.policy.forbidSelfApproval ? ' other than the author of the change' : ''} run \`runbook approve PLAN --by NAME\``,
    );
  }
  if (plan.policy.forbidSelfApproval) await checkSelfApproval(plan, repository.root, read.approval.approver);
  return [read.approval];
}

/** Refuses (exit 2) an approver who is the author of the commit the plan was made at, by name or email, ignoring case. */
export async function checkSelfApproval(plan: Plan, root: string, approver: string): Promise<void> {
  if (plan.commit === null) {
    throw createInputError('RB4004', `the policy forbids self-approval, but plan ${plan.hash} was not made at a commit, so its author is unknown; commit the change and make the plan again`);
  }
  const author = await readCommitAuthor(root, plan.commit);
  if (!author) {
    throw createInputError('RB4004', `the policy forbids self-approval, but the plan's commit ${plan.commit} is not in this repository; fetch it, or make the plan again here`);
  }
  const who = approver.trim().toLowerCase();
  if (who === author.name.trim().toLowerCase() || who === author.email.trim().toLowerCase()) {
    throw createInputError(
      'RB4004',
      `${approver} authored commit ${plan.commit.slice(0, 12)} the plan was made at, and the policy forbids self-approval; someone else must run \`runbook approve PLAN --by NAME\``,
    );
  }
}
