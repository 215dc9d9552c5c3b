import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApplyOptions } from '../../engine/commands/apply.js';
import { applyInProcess } from '../helpers/apply-in-process.js';
import { commitRepository } from '../helpers/run-repository.js';

// A resumed run keeps the --max-parallel it was started with: each command takes a folder as a
// mutex, and a command that finds it taken writes "overlap".

const STEP = `'mkdir {{quote params.dir}}/busy && sleep 0.3 && rmdir {{quote params.dir}}/busy || echo overlap >> {{quote params.dir}}/log'`;
const RUNBOOK = `apiVersion: runbook/v1
kind: Runbook
metadata: { name: parallel-test, version: 1.0.0 }
params:
  dir: { type: string, required: true }
targets: { group: box }
strategy: { batchSize: 2 }
steps:
  - { id: first, kind: command, run: ${STEP} }
  - { id: second, kind: command, run: ${STEP} }
`;
const INVENTORY = `apiVersion: runbook/v1
kind: Inventory
defaults: { transport: local, groups: [box] }
hosts: { box1: {}, box2: {} }
`;

let repo: string;
let work: string;
beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'runbook-parallel-'));
  work = mkdtempSync(join(tmpdir(), 'runbook-parallel-work-'));
  writeFileSync(join(repo, 'runbook.yaml'), RUNBOOK);
  writeFileSync(join(repo, 'inventory.yaml'), INVENTORY);
  commitRepository(repo);
});
afterEach(() => {
  rmSync(repo, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const apply = async (extra: Partial<ApplyOptions>) => (await applyInProcess({ root: repo, commit: false, ...extra })).exitCode;

describe('a resumed run', () => {
  it('keeps the --max-parallel it was started with', async () => {
    const stop = new AbortController();
    let finishedFirst = 0;
    const first = await apply({
      target: join(repo, 'runbook.yaml'),
      inventory: join(repo, 'inventory.yaml'),
      params: [`dir=${work}`],
      maxParallel: 1,
      signal: stop.signal,
      onEvent: (event) => {
        if (event.type === 'step.finished' && event.record.id === 'first' && ++finishedFirst === 2) stop.abort('SIGINT');
      },
    });
    expect(first).toBe(130);
    const runId = readdirSync(join(repo, '.runbook', 'runs'))[0]!;
    expect(await apply({ resume: runId })).toBe(0);
    expect(existsSync(join(work, 'log')) ? readFileSync(join(work, 'log'), 'utf8') : '').toBe('');
  });

  it('refuses a run id that is a path, reading nothing outside the runs folder', async () => {
    await expect(apply({ resume: '../../etc' })).rejects.toMatchObject({ exitCode: 2, code: 'RB3007', message: expect.stringContaining('is not a run id') });
  });
});
