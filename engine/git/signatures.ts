import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { createInputError } from '../errors.js';
import type { Plan } from '../schema/plan.js';
import { formatIdentity, type GitIdentity } from './identity.js';
import type { ChangeStart } from './self-approval.js';
import { execGit, readFileAtCommit } from './repository.js';

/**
 * With `policy.requireSignedApprovals`, refuses (exit 2) an approval commit that is not signed, whose
 * signature `git verify-commit` does not accept against each allowed-signers file the policies name,
 * or whose signer's principal is not the approver's email. The allowed signers are read as the file
 * was when the change under review began (the last applied run, or where the branch left `--base`):
 * a key the change itself adds is not trusted. The user's git configuration is left alone: the file
 * is given with `git -c`.
 */
export async function checkApprovalSignature(plan: Plan, root: string, commit: string, approver: GitIdentity, start: ChangeStart): Promise<void> {
  if (!plan.policy.requireSignedApprovals) return;
  const refuse = (reason: string) => createInputError('RB4011', `the policy requires signed approvals, and the approval commit ${commit.slice(0, 12)} ${reason}`);
  const files = plan.policy.allowedSignersFiles ?? [];
  if (files.length === 0) throw refuse('cannot be checked: no policy.allowedSignersFile names who may sign; add it to the runbook or inventory policy');
  const object = await execGit(root, ['cat-file', 'commit', commit]);
  if (!/^gpgsig(-sha256)? /m.test(object.stdout.split('\n\n')[0] ?? '')) {
    throw refuse(`by ${formatIdentity(approver)} is not signed; approve again with SSH signing set up (\`git config gpg.format ssh\`, \`git config user.signingkey KEY\`)`);
  }
  const anchor = start.exclude;
  if (anchor === null) {
    throw refuse(
      'cannot be checked: the allowed signers are read as they were before the change, and no start is known (no plan of this runbook and inventory was applied yet); name the branch the change goes into with --base REF (or RUNBOOK_BASE)',
    );
  }
  const where = `as committed at ${anchor.slice(0, 12)}, before the change (${start.description})`;
  for (const file of files) {
    if (isAbsolute(file) || file.startsWith('../')) throw refuse(`cannot be checked: the allowed-signers file ${file} must be a path in the repository`);
    const signers = await readFileAtCommit(root, anchor, file);
    if (!signers.ok) throw refuse(`cannot be checked: the allowed-signers file ${file} is not in the repository ${where} (${signers.reason})`);
    const principal = await verifyWithSigners(root, commit, signers.text);
    if (principal.ok === false) throw refuse(`has no signature valid for ${file} ${where} (git said: ${principal.reason}); the signing key must be listed there`);
    if (principal.name.toLowerCase() !== approver.email.toLowerCase()) {
      throw refuse(`is signed by the key of ${principal.name} in ${file}, but committed as ${formatIdentity(approver)}; the approver signs their own approval`);
    }
  }
}

type Principal = { ok: true; name: string } | { ok: false; reason: string };

async function verifyWithSigners(root: string, commit: string, signers: string): Promise<Principal> {
  const folder = mkdtempSync(join(tmpdir(), 'runbook-signers-'));
  try {
    const path = join(folder, 'allowed_signers');
    writeFileSync(path, signers);
    const config = ['-c', `gpg.ssh.allowedSignersFile=${path}`];
    const verified = await execGit(root, [...config, 'verify-commit', commit]);
    if (verified.code !== 0) return { ok: false, reason: verified.stderr.trim().split('\n').at(-1) || `verify-commit exited ${verified.code}` };
    const signer = await execGit(root, [...config, 'log', '-1', '--format=%GS', commit]);
    return { ok: true, name: signer.stdout.trim() };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
