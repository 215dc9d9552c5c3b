import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliProcess } from '../helpers/cli-process.js';
import { createTempRepository, type TempRepository } from '../git/temp-repository.js';

// DESIGN section 5, bounds: user-written regexes run on a linear-time engine (RE2), so a pattern
// built to backtrack cannot stall `validate` in CI nor an `apply` past its timeout. A backtracking
// engine takes minutes to hours on these; RE2 answers at once. The CLI runs in a child process so
// that a hang, on an engine that hangs, lets the test time out instead of freezing the test worker;
// the timeout is the bound (starting the CLI under tsx takes a few seconds on a loaded machine).
const BOUND_MS = 20_000;

const INVENTORY = `apiVersion: runbook/v1
kind: Inventory
defaults: { transport: local, groups: [lab] }
groups:
  lab: { description: Local hosts }
hosts:
  h1: {}
`;

function runbook(body: string): string {
  return `apiVersion: runbook/v1
kind: Runbook
metadata:
  name: hostile-regex
  version: 1.0.0
targets: { group: lab }
${body}`;
}

let repo: TempRepository;
const children: CliProcess[] = [];

beforeAll(async () => {
  repo = await createTempRepository();
});
afterEach(() => {
  // A child still running (an engine that hangs) must not outlive its test.
  for (const cli of children.splice(0)) if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
});
afterAll(() => repo.remove());

async function run(args: string[]): Promise<{ code: number | null; output: string }> {
  const cli = spawnCli(args, { cwd: repo.root });
  children.push(cli);
  const code = await cli.exit;
  return { code, output: cli.output() };
}

describe('user regexes on a linear-time engine', () => {
  it(
    '`validate` checks a long param default against `^(a|a)*$` at once',
    async () => {
      repo.write(
        'runbooks/pattern.yaml',
        runbook(`params:
  name: { type: string, pattern: '^(a|a)*$', default: '${'a'.repeat(60)}!' }
steps:
  - { id: show, run: 'echo {{params.name}}' }
`),
      );
      const result = await run(['validate', 'runbooks/pattern.yaml']);
      expect(result.code, result.output).toBe(2);
      expect(result.output).toMatch(/runbooks\/pattern\.yaml:8:\d+: error RB1212 the default `a+!` of param `name` does not match its pattern/);
    },
    BOUND_MS,
  );

  it(
    '`apply` evaluates `match: ^(a+)+$` against a long output at once: the step fails, the lock is released',
    async () => {
      repo.write('inventories/local.yaml', INVENTORY);
      repo.write(
        'runbooks/match.yaml',
        runbook(`steps:
  - id: flood
    kind: check
    run: printf '${'a'.repeat(50)}!'
    expect: [{ match: '^(a+)+$' }]
`),
      );
      // Committed: `apply RUNBOOK -i` runs what is committed (DESIGN section 5, gates).
      await repo.commitAll('a runbook with a hostile expectation');
      const result = await run(['apply', 'runbooks/match.yaml', '-i', 'inventories/local.yaml', '--yes', '--no-progress', '--no-commit']);
      expect(result.code, result.output).toBe(1);
      expect(result.output).toContain('output does not match /^(a+)+$/');
      const locks = join(repo.root, '.runbook', 'locks');
      expect(existsSync(locks) ? readdirSync(locks) : []).toEqual([]);
    },
    BOUND_MS,
  );

  it(
    '`validate` refuses a lookahead and a backreference, positioned, naming the construct and the RE2 dialect',
    async () => {
      repo.write(
        'runbooks/unsupported.yaml',
        runbook(`steps:
  - id: check
    kind: check
    run: echo ok
    expect: [{ match: 'ok(?=x)' }]
    capture: { word: { regex: '(\\w)\\1' } }
`),
      );
      const result = await run(['validate', 'runbooks/unsupported.yaml']);
      expect(result.code, result.output).toBe(2);
      const lines = result.output.split('\n').filter((l) => l.includes('error RB'));
      expect(lines).toEqual([
        expect.stringMatching(/^runbooks\/unsupported\.yaml:11:23: error RB1214 lookahead `\(\?=` is not supported in step `check`: patterns use the RE2 dialect/),
        expect.stringMatching(/^runbooks\/unsupported\.yaml:12:31: error RB1214 backreference `\\1` is not supported in step `check`: patterns use the RE2 dialect/),
      ]);
    },
    BOUND_MS,
  );
});
