// `npm run demo`: the whole GitOps loop against the embedded lab, in a scratch git repository
// (never this checkout): a committed network snapshot, then plan, approve, apply the fabric
// upgrade with snapshots before and after,
// commit the report, show where it is and the commit that holds it.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../engine/cli.js';
import { startLab } from '../lab/index.js';

const checkout = join(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'runbook-demo-'));
const git = (...args: string[]) => execFileSync('git', args, { cwd: scratch, encoding: 'utf8' });
const say = (text: string) => process.stdout.write(`\n\u001b[1m== ${text}\u001b[0m\n`);

/** Runs a command in process; with `head`, shows only the first lines of what it prints. */
async function run(args: string[], head?: number): Promise<number> {
  process.stdout.write(`$ runbook ${args.join(' ')}\n`);
  if (head === undefined) return main(args);
  let out = '';
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => process.stderr.write(t) });
  const lines = out.split('\n');
  process.stdout.write(`${lines.slice(0, head).join('\n')}\n${lines.length > head ? `... (${lines.length - head} more lines)\n` : ''}`);
  return code;
}

const started = Date.now();
say(`scratch repository ${scratch}`);
for (const folder of ['runbooks', 'profiles', 'schemas']) cpSync(join(checkout, folder), join(scratch, folder), { recursive: true });
git('init', '-q', '-b', 'main');
git('config', 'user.name', 'Demo Author');
git('config', 'user.email', 'author@example.com');

const lab = await startLab();
try {
  // The lab listens on free ports; its inventory is the shipped inventories/lab.yaml with those ports.
  cpSync(join(checkout, 'inventories'), join(scratch, 'inventories'), { recursive: true });
  writeFileSync(join(scratch, 'inventories', 'lab.yaml'), lab.inventoryYaml());
  writeFileSync(join(scratch, '.gitignore'), '.runbook/\nplans/\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'Add runbooks and the lab inventory');
  process.chdir(scratch);
  process.env.RUNBOOK_LAB_PASSWORD = lab.password;

  say('validate');
  if ((await run(['validate', 'runbooks', 'inventories'])) !== 0) throw new Error('validation failed');
  say('network snapshot, committed (the planner orders the switches by its LLDP neighbours)');
  const baseline = ['apply', 'runbooks/network-snapshot.yaml', '-i', 'inventories/lab.yaml', '--param', 'name=baseline', '--yes', '--no-progress'];
  if ((await run(baseline)) !== 0) throw new Error('the network snapshot failed');
  say('plan (what CI posts on the pull request)');
  const plan = ['plan', 'runbooks/fabric-upgrade.yaml', '-i', 'inventories/lab.yaml', '--param', 'targetVersion=4.4.0', '--out', 'plans/fabric-upgrade.json'];
  if ((await run(plan, 24)) !== 0) throw new Error('planning failed');
  say('approve');
  // The approver is the git identity of the approval commit: someone other than the author.
  git('config', 'user.name', 'Demo Operator');
  git('config', 'user.email', 'operator@example.com');
  if ((await run(['approve', 'plans/fabric-upgrade.json'])) !== 0) throw new Error('approval failed');
  say('apply');
  const code = await run(['apply', 'plans/fabric-upgrade.json', '--yes', '--no-progress']);
  say(`done in ${((Date.now() - started) / 1000).toFixed(1)}s, apply exited ${code}`);
  const report = git('log', '-1', '--name-only', '--format=', '--', 'reports/runs').split('\n').find((f) => f.endsWith('.md'));
  process.stdout.write(`report: ${report ? join(scratch, report) : '(none committed)'}\n\n${git('log', '-1', '--stat')}`);
  process.exitCode = code;
} finally {
  await lab.stop();
}
