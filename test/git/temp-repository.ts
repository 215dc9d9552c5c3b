import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

export const AUTHOR = { name: 'Alice Author', email: 'alice@example.com' };
export const REVIEWER = { name: 'Bob Reviewer', email: 'bob@example.com' };
export const COLLEAGUE = { name: 'Carol Colleague', email: 'carol@example.com' };

export interface Identity {
  name: string;
  email: string;
}

export interface TempRepository {
  root: string;
  git: SimpleGit;
  write(path: string, text: string): string;
  commitAll(message: string, author?: Identity): Promise<string>;
  /** Runs `work` with git's user.name and user.email set to `identity` (as that person's checkout would), then restores the author's. */
  actAs<T>(identity: Identity, work: () => Promise<T>): Promise<T>;
  remove(): void;
}

/** A real repository in a temporary folder, with its own identity so the machine's git config does not matter. */
export async function createTempRepository(): Promise<TempRepository> {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'runbook-git-')));
  const git = simpleGit({ baseDir: root });
  await git.init(['--initial-branch=main']);
  await git.addConfig('user.name', AUTHOR.name);
  await git.addConfig('user.email', AUTHOR.email);
  await git.addConfig('commit.gpgsign', 'false');
  return {
    root,
    git,
    write(path, text) {
      const absolute = join(root, path);
      mkdirSync(dirname(absolute), { recursive: true });
      writeFileSync(absolute, text);
      return absolute;
    },
    async commitAll(message, author) {
      await git.add(['-A']);
      await git.raw(['commit', '-q', '-m', message, ...(author ? [`--author=${author.name} <${author.email}>`] : [])]);
      return (await git.revparse(['HEAD'])).trim();
    },
    async actAs(identity, work) {
      await git.addConfig('user.name', identity.name);
      await git.addConfig('user.email', identity.email);
      try {
        return await work();
      } finally {
        await git.addConfig('user.name', AUTHOR.name);
        await git.addConfig('user.email', AUTHOR.email);
      }
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export const RUNBOOK_PATH = 'runbooks/demo-upgrade.yaml';
export const INVENTORY_PATH = 'inventories/lab.yaml';

/** A runbook that runs real shell commands on local hosts: a secret capture, a warning pre-check, three steps. */
export function createRunbookYaml(options: { failOn?: string } = {}): string {
  const install = options.failOn ? `test "{{host.name}}" != ${options.failOn}` : 'echo installing {{params.targetVersion}} with token {{token}}';
  return `apiVersion: runbook/v1
kind: Runbook
metadata:
  name: demo-upgrade
  version: 1.2.0
  description: A small upgrade over the local transport
params:
  targetVersion: { type: string, required: true }
targets: { group: lab }
strategy:
  order: [spine, leaf]
  batchSize: 1
  maxFailures: 1
  rollbackOnFailure: true
prechecks:
  - id: version
    run: echo VERSION=4.3.0
    capture: { current: { regex: 'VERSION=(\\S+)' } }
    severity: error
    hint: Upgrade within one major release.
  - id: token
    run: echo TOKEN=s3cr3t-t0ken-value
    capture: { token: { regex: 'TOKEN=(\\S+)', secret: true } }
  - id: disk-space
    run: echo 'disk 91% full' && false
    severity: warning
    hint: Free some space in /var/images.
steps:
  - { id: backup-config, kind: backup, run: 'echo backing up {{host.name}}' }
  - { id: install, kind: install, run: '${install}' }
  - id: services-up
    kind: verify
    run: echo active
    expect: [{ exitCode: 0 }, { match: '^active$' }]
rollback:
  - { id: restore, run: 'echo restoring {{current}} on {{host.name}}' }
`;
}

export function createInventoryYaml(policy: { requireApproval?: boolean; forbidSelfApproval?: boolean; requireSignedApprovals?: boolean; allowedSignersFile?: string } = {}, extraHost = ''): string {
  const fields = Object.entries(policy).map(([k, v]) => `${k}: ${String(v)}`);
  return `apiVersion: runbook/v1
kind: Inventory
${fields.length > 0 ? `policy: { ${fields.join(', ')} }\n` : ''}defaults: { transport: local, groups: [lab] }
groups:
  lab: { description: Local hosts }
hosts:
  spine01: { role: spine }
  leaf01: { role: leaf }
${extraHost}`;
}
