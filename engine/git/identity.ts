import { createInputError } from '../errors.js';
import { execGit } from './repository.js';

/** Who made a commit, as git records it. */
export interface GitIdentity {
  name: string;
  email: string;
}

// C0 controls (newline, tab, escape...), DEL and C1 controls: none belongs in a name, and a newline
// in a commit message's subject would start trailers of its own.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/u;

function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTERS.test(text);
}

/** `Name <email>`, as git shows an identity. */
export function formatIdentity(identity: GitIdentity): string {
  return `${identity.name} <${identity.email}>`;
}

/** The same person when the emails or the names agree, ignoring case and surrounding spaces. */
export function isSameIdentity(a: GitIdentity, b: GitIdentity): boolean {
  const same = (x: string, y: string) => x.trim() !== '' && x.trim().toLowerCase() === y.trim().toLowerCase();
  return same(a.email, b.email) || same(a.name, b.name);
}

export function isPlainIdentity(identity: GitIdentity): boolean {
  return !hasControlCharacters(identity.name) && !hasControlCharacters(identity.email);
}

/** Refuses (exit 2) an identity holding control characters; `whose` says where it came from. */
export function assertPlainIdentity(identity: GitIdentity, whose: string, fix: string): void {
  for (const field of ['name', 'email'] as const) {
    if (hasControlCharacters(identity[field])) {
      throw createInputError('RB4009', `${whose} ${field} ${JSON.stringify(identity[field])} holds a control character (a newline, tab or escape), which could forge lines in a commit message or a report; ${fix}`);
    }
  }
}

/**
 * The identity git will author the next commit with (`git var GIT_AUTHOR_IDENT`: the environment,
 * then `author.*`, then `user.*`). The raw settings are checked too: git drops newlines from an
 * identity, and a name that needed that is refused, not quietly changed.
 */
export async function readAuthorIdentity(root: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<GitIdentity> {
  const fix = 'set a plain one with `git config user.name "Your Name"` and `git config user.email you@example.com`';
  const config = async (key: string) => {
    const result = await execGit(root, ['config', '--get', key]);
    return result.code === 0 ? result.stdout.replace(/\n$/, '') : undefined;
  };
  const raw = {
    name: env.GIT_AUTHOR_NAME ?? (await config('author.name')) ?? (await config('user.name')) ?? '',
    email: env.GIT_AUTHOR_EMAIL ?? (await config('author.email')) ?? (await config('user.email')) ?? '',
  };
  assertPlainIdentity(raw, 'your git', fix);
  const ident = await execGit(root, ['var', 'GIT_AUTHOR_IDENT']);
  const match = /^(.*) <(.*)> \d+ [+-]\d{4}$/.exec(ident.stdout.trim());
  if (ident.code !== 0 || !match || match[1]!.trim() === '' || match[2]!.trim() === '') {
    throw createInputError('RB4008', `git knows no identity to commit the approval as (${ident.stderr.trim().split('\n')[0] || 'no name or email'}): the approver is the git identity of the approval commit; ${fix}`);
  }
  const identity = { name: match[1]!, email: match[2]! };
  assertPlainIdentity(identity, 'your git', fix);
  return identity;
}
