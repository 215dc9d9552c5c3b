import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makePlan } from '../../engine/plan/make-plan.js';
import { createManualClock } from '../../engine/run/clock.js';
import type { RunEvent } from '../../engine/run/events.js';
import { executePlan, type ExecutorDeps } from '../../engine/run/execute-plan.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { createLocalTransport } from '../../engine/transport/local.js';

// These tests run real commands through the local transport: the executor is exercised end to end,
// with only the clock controlled so that retries and polls do not wait.

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'runbook-exec-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function createInventory(names: string[]): Inventory {
  return {
    apiVersion: 'runbook/v1',
    kind: 'Inventory',
    defaults: { transport: 'local', groups: ['all'] },
    // h1 is the primary of an HA pair, every other host a secondary.
    hosts: Object.fromEntries(names.map((n) => [n, { role: n === 'h1' ? 'primary' : 'secondary' }])),
  };
}

function createRunbook(fields: Partial<Runbook>): Runbook {
  return {
    apiVersion: 'runbook/v1',
    kind: 'Runbook',
    metadata: { name: 'test', version: '1.0.0' },
    params: { dir: { type: 'string' } },
    targets: { group: 'all' },
    steps: [{ id: 'noop', run: 'true' }],
    ...fields,
  };
}

async function execute(runbook: Runbook, hosts = ['h1'], extra: Partial<ExecutorDeps> = {}) {
  const plan = makePlan({
    runbook,
    inventory: createInventory(hosts),
    files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
    params: { dir: work },
    commit: null,
    engineVersion: 'test',
  });
  const events: RunEvent[] = [];
  const transport = createLocalTransport();
  const result = await executePlan(
    plan,
    {
      clock: createManualClock(1_000),
      emit: (e) => events.push(e),
      connect: (host) => transport.connect({ name: host, transport: 'local', port: 0 }),
      approve: async () => true,
      ...extra,
    },
    { runId: 'run-1' },
  );
  return { result, events };
}

describe('executePlan', () => {
  it('runs steps in order, passes captures to later steps and checks expectations', async () => {
    const { result } = await execute(
      createRunbook({
        prechecks: [{ id: 'version', run: 'echo "VERSION=4.3.0"', capture: { current: { regex: 'VERSION=(\\S+)' } } }],
        steps: [
          { id: 'record', kind: 'backup', run: 'echo {{current}} > {{params.dir}}/{{host.name}}.txt' },
          { id: 'read', kind: 'verify', run: 'cat {{params.dir}}/{{host.name}}.txt', expect: [{ match: '^4\\.3\\.0$' }, { semver: { value: '{{current}}', lt: '5.0.0' } }] },
          { id: 'json', kind: 'check', run: `echo '{"state":"IDLE","n":3}'`, capture: { state: { json: 'state' } }, expect: [{ json: { path: 'n', gte: 3 } }, { contains: '{{state}}' }] },
        ],
      }),
      ['h1', 'h2'],
    );
    expect(result.outcome).toBe('succeeded');
    expect(result.hosts.h2!.steps.map((s) => [s.id, s.status])).toEqual([['record', 'succeeded'], ['read', 'succeeded'], ['json', 'succeeded']]);
    expect(existsSync(join(work, 'h1.txt'))).toBe(true);
    expect(result.hosts.h1!.steps[2]!.captured).toEqual(['state']);
  });

  it('sends a command only once the event announcing it is persisted', async () => {
    const marker = join(work, 'ran');
    const log: string[] = [];
    const { result } = await execute(createRunbook({ steps: [{ id: 'touch', kind: 'install', run: `touch ${marker}` }] }), ['h1'], {
      emit: (event) => {
        if (event.type === 'step.started') log.push(`started ${event.stepId}`);
      },
      persist: async () => {
        log.push(`persisting, ran: ${existsSync(marker)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        log.push(`persisted, ran: ${existsSync(marker)}`);
      },
    });
    expect(result.outcome).toBe('succeeded');
    expect(log).toEqual(['started touch', 'persisting, ran: false', 'persisted, ran: false']);
    expect(existsSync(marker)).toBe(true);
  });

  it('holds connections for the batch at work, not for every host it has reached', async () => {
    const transport = createLocalTransport();
    let open = 0;
    const openWhenStarted: number[] = [];
    const connects: string[] = [];
    const { result } = await execute(
      createRunbook({ strategy: { batchSize: 2 }, prechecks: [{ id: 'up', run: 'true' }], steps: [{ id: 'one', run: 'true' }, { id: 'two', run: 'true' }] }),
      ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'],
      {
        connect: async (host) => {
          connects.push(host);
          const connection = await transport.connect({ name: host, transport: 'local', port: 0 });
          open++;
          return {
            exec: (command, options) => connection.exec(command, options),
            close: async () => {
              if (!connection.closed) open--;
              await connection.close();
            },
            get closed() {
              return connection.closed;
            },
          };
        },
        emit: (event) => {
          if (event.type === 'step.started' && event.section === 'step') openWhenStarted.push(open);
        },
      },
    );
    expect(result.outcome).toBe('succeeded');
    // Every host is reached by the pre-checks; afterwards at most the batch at work is connected.
    expect(Math.max(...openWhenStarted)).toBeLessThanOrEqual(2);
    expect(open).toBe(0);
    // The first batch keeps the connection its pre-checks opened; the others connect again for their steps.
    expect(connects.filter((host) => host === 'h1')).toHaveLength(1);
    expect(connects.filter((host) => host === 'h3')).toHaveLength(2);
  });

  it('retries with doubling backoff and reports each retry', async () => {
    const { result, events } = await execute(
      createRunbook({
        steps: [{ id: 'flaky', kind: 'install', run: 'n=$(cat {{params.dir}}/n 2>/dev/null || echo 0); echo $((n+1)) > {{params.dir}}/n; [ $n -ge 2 ]', retries: 3, backoff: '1s' }],
      }),
    );
    expect(result.hosts.h1!.steps[0]).toMatchObject({ status: 'succeeded', attempts: 3 });
    const retries = events.filter((e) => e.type === 'step.retried');
    expect(retries.map((e) => (e.type === 'step.retried' ? e.delayMs : 0))).toEqual([1000, 2000]);
  });

  it('fails after the last retry with the reason', async () => {
    const { result } = await execute(createRunbook({ steps: [{ id: 'bad', kind: 'install', run: 'echo nope >&2; exit 3', retries: 1 }] }));
    expect(result.outcome).toBe('failed');
    expect(result.hosts.h1).toMatchObject({ state: 'failed' });
    expect(result.hosts.h1!.steps[0]).toMatchObject({ status: 'failed', attempts: 2, exitCode: 3, stderr: 'nope\n' });
    expect(result.hosts.h1!.steps[0]!.message).toContain('exit code 3, expected 0');
  });

  it('fails a step whose prompt its answers cannot decide, typing nothing and not retrying', async () => {
    const { result } = await execute(
      createRunbook({
        steps: [
          {
            id: 'failover',
            kind: 'install',
            run: 'echo attempt >> {{params.dir}}/attempts; printf "All I/O modules will be reset. Continue? (y/n) "; read a; echo "$a" > {{params.dir}}/typed',
            answer: [
              { prompt: 'I/O modules will be reset', send: 'n' },
              { prompt: 'Continue\\? \\(y/n\\)', send: 'y' },
            ],
            retries: 2,
          },
        ],
      }),
    );
    expect(result.hosts.h1).toMatchObject({ state: 'failed' });
    const step = result.hosts.h1!.steps[0]!;
    expect(step).toMatchObject({ status: 'failed', attempts: 1, exitCode: null });
    expect(step.message).toMatch(/^the prompt "All I\/O modules will be reset\. Continue\? \(y\/n\)" is matched by answer\[0\] .* and answer\[1\] .*nothing was typed/);
    expect(existsSync(join(work, 'typed'))).toBe(false);
  });

  it('a failover command that exits non-zero fails with what its expectations say', async () => {
    const { result } = await execute(
      createRunbook({
        steps: [
          {
            id: 'fail-over',
            kind: 'failover',
            run: 'echo "Failover declined"; exit 1',
            reconnect: { timeout: '1m' },
            expect: [{ notMatch: 'declined' }, { exitCode: 0 }],
          },
        ],
      }),
    );
    expect(result.hosts.h1!.steps[0]!.message).toBe('the failover command exited 1; output matches /declined/: "Failover declined\\n"');
  });

  it('a failover command that times out (a question no rule answers) fails at once, not waiting for the host to go down', async () => {
    const { result } = await execute(
      createRunbook({
        steps: [{ id: 'fail-over', kind: 'failover', run: 'echo "Sure? (y/n)"; sleep 20', timeout: '300ms', reconnect: { timeout: '1m' } }],
      }),
    );
    expect(result.hosts.h1!.steps[0]!.message).toBe('the failover command timed out');
  });

  it('`value` tests a rendered text, such as the step\'s own captures, and a failure quotes it', async () => {
    const { result } = await execute(
      createRunbook({
        steps: [
          {
            id: 'versions',
            kind: 'verify',
            run: 'printf "MSM-A IMG: 31.7.1.4\\nMSM-B IMG: 31.7.2.3\\n"',
            capture: { a: { regex: '^MSM-A IMG: (\\S+)' }, b: { regex: '^MSM-B IMG: (\\S+)' } },
            expect: [
              { value: 'MSM-A runs {{a}}, MSM-B runs {{b}}', contains: 'MSM-A runs 31.7.1.4' },
              { value: 'MSM-A runs {{a}}, MSM-B runs {{b}}', match: '^MSM-A runs 31\\.7\\.1\\.4, MSM-B runs 31\\.7\\.1\\.4$' },
              { value: '{{a}}', notMatch: 'IMG' },
            ],
          },
        ],
      }),
    );
    expect(result.hosts.h1!.steps[0]!.message).toBe(
      'value does not match /^MSM-A runs 31\\.7\\.1\\.4, MSM-B runs 31\\.7\\.1\\.4$/: "MSM-A runs 31.7.1.4, MSM-B runs 31.7.2.3"',
    );
  });

  it('polls `until` a condition holds', async () => {
    const { result } = await execute(
      createRunbook({
        steps: [
          {
            id: 'wait-ready',
            kind: 'wait',
            run: 'n=$(cat {{params.dir}}/p 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{params.dir}}/p; echo "{\\"polls\\": $n}"',
            until: [{ json: { path: 'polls', gte: 4 } }],
            interval: '10s',
            timeout: '5m',
          },
        ],
      }),
    );
    expect(result.hosts.h1!.steps[0]).toMatchObject({ status: 'succeeded', stdout: '{"polls": 4}\n' });
  });

  it('gives up polling at the timeout', async () => {
    const { result } = await execute(createRunbook({ steps: [{ id: 'never', kind: 'wait', run: 'echo PREPARING', until: [{ match: 'PREPARED' }], interval: '1m', timeout: '3m' }] }));
    expect(result.hosts.h1!.steps[0]!.message).toContain('condition not met within 3m');
  });

  it('rolls a failed host back, skips its remaining steps and lets the other hosts finish', async () => {
    const { result } = await execute(
      createRunbook({
        strategy: { rollbackOnFailure: true, maxFailures: 1, batchSize: 2 },
        steps: [
          { id: 'install', kind: 'install', run: '[ {{host.name}} != h2 ]' },
          { id: 'verify', kind: 'verify', run: 'true' },
        ],
        rollback: [{ id: 'restore', run: 'touch {{params.dir}}/restored-{{host.name}}' }],
      }),
      ['h1', 'h2'],
    );
    expect(result.hosts.h1!.state).toBe('succeeded');
    expect(result.hosts.h2!.state).toBe('rolled-back');
    expect(result.hosts.h2!.steps.map((s) => s.status)).toEqual(['failed', 'skipped']);
    expect(existsSync(join(work, 'restored-h2'))).toBe(true);
    expect(existsSync(join(work, 'restored-h1'))).toBe(false);
  });

  it('goes on past a failed rollback step with onFailure: continue, to a last step that says what state the host is in; the host is not rolled back', async () => {
    const { result } = await execute(
      createRunbook({
        strategy: { rollbackOnFailure: true },
        steps: [{ id: 'install', kind: 'install', run: 'false' }],
        rollback: [
          { id: 'restore', run: 'echo restore failed; false', onFailure: 'continue' },
          { id: 'state', kind: 'verify', run: 'echo A runs 1.0, B runs 2.0', expect: [{ match: '^A runs 1\\.0, B runs 1\\.0$' }] },
        ],
      }),
    );
    expect(result.hosts.h1!.state).toBe('rollback-failed');
    expect(result.hosts.h1!.rollback.map((s) => [s.id, s.status])).toEqual([
      ['restore', 'failed'],
      ['state', 'failed'],
    ]);
    expect(result.hosts.h1!.message).toMatch(/rollback step restore failed: .*; rollback step state failed: .*"A runs 1\.0, B runs 2\.0\\n"/);
  });

  it('stops a rollback at a failed step without onFailure: continue, and a rollback that only got past continued failures is not rolled back', async () => {
    const stopped = await execute(
      createRunbook({
        strategy: { rollbackOnFailure: true },
        steps: [{ id: 'install', kind: 'install', run: 'false' }],
        rollback: [
          { id: 'restore', run: 'false' },
          { id: 'after', run: 'touch {{params.dir}}/after' },
        ],
      }),
    );
    expect(stopped.result.hosts.h1!.state).toBe('rollback-failed');
    expect(existsSync(join(work, 'after'))).toBe(false);
    const continued = await execute(
      createRunbook({
        strategy: { rollbackOnFailure: true },
        steps: [{ id: 'install', kind: 'install', run: 'false' }],
        rollback: [
          { id: 'restore', run: 'false', onFailure: 'continue' },
          { id: 'after', run: 'touch {{params.dir}}/after' },
        ],
      }),
    );
    expect(continued.result.hosts.h1!.state).toBe('rollback-failed');
    expect(existsSync(join(work, 'after'))).toBe(true);
  });

  it('stops when failures exceed maxFailures and reports hosts not started as skipped', async () => {
    const { result } = await execute(
      createRunbook({ strategy: { maxFailures: 0 }, steps: [{ id: 'install', kind: 'install', run: 'touch {{params.dir}}/{{host.name}}; false' }] }),
      ['h1', 'h2', 'h3'],
    );
    expect(result.hosts.h1!.state).toBe('failed');
    expect(result.hosts.h2!.state).toBe('skipped');
    expect(result.hosts.h3!.state).toBe('skipped');
    expect(existsSync(join(work, 'h2'))).toBe(false);
    expect(result.message).toContain('more than maxFailures 0');
  });

  it('stops before any change when an error pre-check fails, and goes on after a warning', async () => {
    const blocked = await execute(
      createRunbook({
        prechecks: [{ id: 'major', run: 'echo 3.7.1', expect: [{ semver: { value: '3.7.1', sameMajorAs: '4.4.0' } }], hint: 'do a fresh install' }],
        steps: [{ id: 'install', kind: 'install', run: 'touch {{params.dir}}/changed' }],
      }),
      ['h1', 'h2'],
    );
    expect(blocked.result.outcome).toBe('failed');
    expect(Object.values(blocked.result.hosts).map((h) => h.state)).toEqual(['skipped', 'skipped']);
    expect(blocked.result.hosts.h1!.prechecks[0]).toMatchObject({ status: 'failed', severity: 'error', hint: 'do a fresh install' });
    expect(existsSync(join(work, 'changed'))).toBe(false);

    const warned = await execute(
      createRunbook({
        prechecks: [{ id: 'disk', run: 'echo 10', expect: [{ number: { gte: 50 } }], severity: 'warning' }],
        steps: [{ id: 'install', kind: 'install', run: 'touch {{params.dir}}/changed' }],
      }),
    );
    expect(warned.result.outcome).toBe('succeeded');
    expect(warned.result.hosts.h1!.prechecks[0]).toMatchObject({ status: 'failed', severity: 'warning' });
    expect(existsSync(join(work, 'changed'))).toBe(true);
  });

  it('reports a read-only step with severity warning that fails as a warning: the host goes on, succeeds and is not rolled back', async () => {
    const { result } = await execute(
      createRunbook({
        strategy: { rollbackOnFailure: true },
        steps: [
          { id: 'install', kind: 'install', run: 'touch {{params.dir}}/installed' },
          { id: 'post-check', kind: 'verify', run: 'echo inactive', expect: [{ match: '^active$' }], severity: 'warning', hint: 'wait for the service' },
          { id: 'after', kind: 'command', run: 'touch {{params.dir}}/after' },
        ],
        rollback: [{ id: 'undo', run: 'touch {{params.dir}}/rolled-back' }],
      }),
    );
    expect(result.outcome).toBe('succeeded');
    expect(result.hosts.h1!.state).toBe('succeeded');
    expect(result.hosts.h1!.steps.find((s) => s.id === 'post-check')).toMatchObject({ status: 'failed', severity: 'warning', hint: 'wait for the service' });
    expect(existsSync(join(work, 'after'))).toBe(true);
    expect(existsSync(join(work, 'rolled-back'))).toBe(false);
  });

  it('a previousAttempts pre-check names the last run that reached the host, and a run that never did hides nothing', async () => {
    const runbook = createRunbook({
      prechecks: [{ id: 'previous-upgrade', previousAttempts: { steps: ['install'] }, severity: 'warning', hint: 'read that report' }],
      steps: [{ id: 'install', kind: 'install', run: 'true' }],
    });
    const failedThenSkipped = async () => [
      { runId: 'run-a', startedAt: '2026-01-01T00:00:00Z', hosts: { h1: [{ id: 'install', status: 'failed', message: 'checksum mismatch' }] } },
      { runId: 'run-b', startedAt: '2026-01-02T00:00:00Z', hosts: { h1: [{ id: 'install', status: 'skipped' }] } },
    ];
    const warned = await execute(runbook, ['h1'], { previousRuns: failedThenSkipped });
    expect(warned.result.outcome).toBe('succeeded');
    expect(warned.result.hosts.h1!.prechecks[0]).toMatchObject({
      status: 'failed',
      severity: 'warning',
      message: 'in the previous run run-a (2026-01-01T00:00:00Z): `install` failed (checksum mismatch)',
    });
    const fixed = async () => [
      ...(await failedThenSkipped()),
      { runId: 'run-c', startedAt: '2026-01-03T00:00:00Z', hosts: { h1: [{ id: 'install', status: 'succeeded' }] } },
    ];
    expect((await execute(runbook, ['h1'], { previousRuns: fixed })).result.hosts.h1!.prechecks[0]).toMatchObject({ status: 'succeeded' });
    expect((await execute(runbook, ['h1'])).result.hosts.h1!.prechecks[0]).toMatchObject({ status: 'succeeded', message: expect.stringContaining('no earlier run') });
  });

  it('skips a step whose `when` renders false and continues past a failure marked `continue`', async () => {
    const { result } = await execute(
      createRunbook({
        prechecks: [{ id: 'v', run: 'echo 4.3.0', capture: { current: { regex: '(\\S+)' } } }],
        steps: [
          { id: 'only-old', kind: 'install', run: 'true', when: "{{semverLt current '4.0.0'}}" },
          { id: 'optional', kind: 'command', run: 'false', onFailure: 'continue' },
          { id: 'last', kind: 'verify', run: 'true' },
        ],
      }),
    );
    expect(result.hosts.h1!.steps.map((s) => s.status)).toEqual(['skipped', 'failed', 'succeeded']);
    expect(result.hosts.h1!.state).toBe('succeeded');
  });

  it('fails a command that outlives its timeout', async () => {
    const { result } = await execute(createRunbook({ steps: [{ id: 'hang', kind: 'install', run: 'sleep 20', timeout: '300ms' }] }));
    expect(result.hosts.h1!.steps[0]!.message).toContain('timed out');
    expect(result.hosts.h1!.state).toBe('failed');
  });

  it('refuses to run a captured value with shell metacharacters in a bare placeholder', async () => {
    const { result } = await execute(
      createRunbook({
        prechecks: [{ id: 'evil', run: `echo 'x; touch {{params.dir}}/pwned'`, capture: { name: { regex: '(.*)' } } }],
        steps: [{ id: 'use', kind: 'install', run: 'echo {{name}}' }],
      }),
    );
    expect(result.hosts.h1!.steps[0]!.message).toContain('holds shell metacharacters');
    expect(existsSync(join(work, 'pwned'))).toBe(false);
  });

  it('runs a batch in lock-step, so a step on one role can depend on an earlier step on another', async () => {
    const { result } = await execute(
      createRunbook({
        strategy: { batchSize: 2 },
        steps: [
          { id: 'secondary-first', kind: 'install', on: { role: 'secondary' }, run: 'sleep 0.3; touch {{params.dir}}/secondary-done' },
          { id: 'then-primary', kind: 'install', on: { role: 'primary' }, run: 'test -f {{params.dir}}/secondary-done' },
        ],
      }),
      ['h1', 'h2'],
    );
    expect(result.outcome).toBe('succeeded');
    expect(result.hosts.h1!.steps.map((s) => s.id)).toEqual(['then-primary']);
    expect(result.hosts.h2!.steps.map((s) => s.id)).toEqual(['secondary-first']);
  });

  it('stops the whole batch when a failure exceeds maxFailures and rolls back its unfinished hosts too', async () => {
    const { result } = await execute(
      createRunbook({
        strategy: { batchSize: 2, maxFailures: 0, rollbackOnFailure: true },
        steps: [
          { id: 'disable-ha', kind: 'command', run: 'touch {{params.dir}}/{{host.name}}-disabled' },
          { id: 'upgrade-secondary', kind: 'install', on: { role: 'secondary' }, run: 'false' },
          { id: 'upgrade-primary', kind: 'install', on: { role: 'primary' }, run: 'touch {{params.dir}}/primary-upgraded' },
        ],
        rollback: [{ id: 'enable-ha', run: 'rm {{params.dir}}/{{host.name}}-disabled' }],
      }),
      ['h1', 'h2'],
    );
    expect(result.hosts.h2!.state).toBe('rolled-back');
    expect(result.hosts.h1!.state).toBe('rolled-back');
    expect(result.hosts.h1!.message).toContain('stopped');
    expect(result.hosts.h1!.steps.map((s) => [s.id, s.status])).toEqual([['disable-ha', 'succeeded'], ['upgrade-primary', 'skipped']]);
    expect(existsSync(join(work, 'primary-upgraded'))).toBe(false);
    expect(existsSync(join(work, 'h1-disabled'))).toBe(false);
    expect(existsSync(join(work, 'h2-disabled'))).toBe(false);
  });

  it('a host that had finished all its steps when another stopped the batch succeeded, and is not rolled back', async () => {
    const { result } = await execute(
      createRunbook({
        strategy: { batchSize: 2, maxFailures: 0, rollbackOnFailure: true },
        steps: [
          { id: 'upgrade-primary', kind: 'install', on: { role: 'primary' }, run: 'touch {{params.dir}}/primary-upgraded' },
          { id: 'upgrade-secondary', kind: 'install', on: { role: 'secondary' }, run: 'false' },
        ],
        rollback: [{ id: 'undo', on: { role: 'primary' }, run: 'rm {{params.dir}}/primary-upgraded' }],
      }),
      ['h1', 'h2'],
    );
    expect(result.outcome).toBe('failed');
    expect(result.hosts.h1).toMatchObject({ state: 'succeeded', rollback: [] });
    expect(result.hosts.h2!.state).toBe('failed');
    expect(existsSync(join(work, 'primary-upgraded'))).toBe(true);
  });

  it('a failed host none of whose rollback steps applied is failed, not rolled back', async () => {
    const { result } = await execute(
      createRunbook({
        strategy: { rollbackOnFailure: true },
        steps: [{ id: 'upgrade', kind: 'install', run: 'false' }],
        rollback: [{ id: 'restore', run: 'true', when: '{{ne backupFile ""}}' }],
      }),
    );
    expect(result.hosts.h1!.state).toBe('failed');
    expect(result.hosts.h1!.rollback.map((r) => r.status)).toEqual(['skipped']);
    expect(result.hosts.h1!.message).toMatch(/^step upgrade failed: .*; no rollback step applied to it$/);
  });

  it('asks for approval and fails the host when it is refused', async () => {
    const asked: string[] = [];
    const { result } = await execute(
      createRunbook({ steps: [{ id: 'gate', kind: 'approval', message: 'Commit on {{host.name}}?' }, { id: 'commit', kind: 'install', run: 'touch {{params.dir}}/committed' }] }),
      ['h1'],
      { approve: async (request) => (asked.push(request.message), false) },
    );
    expect(asked).toEqual(['Commit on h1?']);
    expect(result.hosts.h1!.state).toBe('failed');
    expect(existsSync(join(work, 'committed'))).toBe(false);
  });
});
