import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makePlan } from '../../engine/plan/make-plan.js';
import { createManualClock } from '../../engine/run/clock.js';
import { executePlan } from '../../engine/run/execute-plan.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { createLocalTransport } from '../../engine/transport/local.js';

// `when` over values a step may not have captured (a rollback that depends on how far the host got),
// and pre-check hints that name the values they are about. Real commands, through the local transport.

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'runbook-when-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

async function execute(fields: Partial<Runbook>, params: Record<string, string> = {}) {
  const runbook: Runbook = {
    apiVersion: 'runbook/v1',
    kind: 'Runbook',
    metadata: { name: 'test', version: '1.0.0' },
    params: { wanted: { type: 'string', default: '2.0.0' } },
    targets: { group: 'all' },
    steps: [{ id: 'noop', run: 'true' }],
    ...fields,
  };
  const plan = makePlan({
    runbook,
    inventory: { apiVersion: 'runbook/v1', kind: 'Inventory', defaults: { transport: 'local', groups: ['all'] }, hosts: { h1: {} } },
    files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
    params,
    commit: null,
    engineVersion: 'test',
  });
  const transport = createLocalTransport();
  return executePlan(
    plan,
    {
      clock: createManualClock(1_000),
      emit: () => {},
      connect: (host) => transport.connect({ name: host, transport: 'local', port: 0 }),
      approve: async () => true,
    },
    { runId: 'run-1' },
  );
}

describe('`when` over a value that was not captured', () => {
  it('reads it as empty: `{{ne x ""}}` is not met, `{{not x}}` is, and the rollback runs only what applies', async () => {
    const result = await execute({
      strategy: { rollbackOnFailure: true },
      steps: [
        { id: 'fails-first', kind: 'install', run: 'exit 1' },
        { id: 'backup', kind: 'backup', run: 'echo saved', capture: { backupFile: { regex: '(saved)' } } },
      ],
      rollback: [
        { id: 'restore', run: 'echo restoring {{backupFile}}', when: '{{ne backupFile ""}}' },
        { id: 'nothing-saved', run: 'echo nothing to restore', when: '{{not backupFile}}' },
        { id: 'both', run: 'true', when: '{{#if backupFile}}true{{else}}false{{/if}}' },
      ],
    });
    expect(result.hosts.h1!.state).toBe('rolled-back');
    expect(result.hosts.h1!.rollback.map((r) => [r.id, r.status])).toEqual([
      ['restore', 'skipped'],
      ['nothing-saved', 'succeeded'],
      ['both', 'skipped'],
    ]);
    expect(result.hosts.h1!.rollback[0]!.message).toBe('condition not met: {{ne backupFile ""}} (`backupFile` was not captured)');
  });

  it('uses the value once it is captured', async () => {
    const result = await execute({
      strategy: { rollbackOnFailure: true },
      steps: [
        { id: 'backup', kind: 'backup', run: 'echo saved', capture: { backupFile: { regex: '(saved)' } } },
        { id: 'fails', kind: 'install', run: 'exit 1' },
      ],
      rollback: [
        { id: 'restore', run: 'echo restoring {{backupFile}}', when: '{{ne backupFile ""}}', expect: [{ contains: 'restoring saved' }] },
        { id: 'nothing-saved', run: 'echo nothing to restore', when: '{{not backupFile}}' },
      ],
    });
    expect(result.hosts.h1!.rollback.map((r) => [r.id, r.status])).toEqual([
      ['restore', 'succeeded'],
      ['nothing-saved', 'skipped'],
    ]);
  });
});

describe('pre-check hints', () => {
  it('are templates: params, host fields and the values the check captured are filled in', async () => {
    const result = await execute({
      prechecks: [
        {
          id: 'version',
          run: 'echo 1.4.0',
          capture: { current: { regex: '^(\\S+)' } },
          expect: [{ semver: { value: '{{current}}', gte: '{{params.wanted}}' } }],
          hint: '{{host.name}} runs {{current}}: upgrade it to {{params.wanted}} first.',
        },
      ],
    });
    expect(result.outcome).toBe('failed');
    expect(result.hosts.h1!.prechecks[0]!.hint).toBe('h1 runs 1.4.0: upgrade it to 2.0.0 first.');
  });

  it('keep their text when a value they name is missing', async () => {
    const result = await execute({
      prechecks: [{ id: 'version', run: 'echo none', capture: { current: { regex: '^(\\d\\S*)' } }, hint: 'Found {{current}}; expected {{params.wanted}}.' }],
    });
    expect(result.hosts.h1!.prechecks[0]!.hint).toBe('Found {{current}}; expected {{params.wanted}}.');
  });
});
