import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makePlan } from '../../engine/plan/make-plan.js';
import { systemClock } from '../../engine/run/clock.js';
import type { RunEvent } from '../../engine/run/events.js';
import { executePlan, type ExecuteOptions } from '../../engine/run/execute-plan.js';
import { rebuildRunState } from '../../engine/run/resume-state.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { createLocalTransport } from '../../engine/transport/local.js';

// The executor stopped and resumed, through the local transport: commands really run and append
// to a log, which says what ran.

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'runbook-stop-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const log = () => (existsSync(join(work, 'log')) ? readFileSync(join(work, 'log'), 'utf8').trim().split('\n') : []);

function planOf(runbook: Partial<Runbook>, hosts: string[]) {
  return makePlan({
    runbook: { apiVersion: 'runbook/v1', kind: 'Runbook', metadata: { name: 't', version: '1.0.0' }, params: { dir: { type: 'string' } }, targets: { group: 'all' }, steps: [], ...runbook },
    inventory: { apiVersion: 'runbook/v1', kind: 'Inventory', defaults: { transport: 'local', groups: ['all'] }, hosts: Object.fromEntries(hosts.map((n) => [n, {}])) },
    files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
    params: { dir: work },
    commit: null,
    engineVersion: 'test',
  });
}

async function run(plan: ReturnType<typeof planOf>, options: Partial<ExecuteOptions> = {}, onEvent: (event: RunEvent) => void = () => {}) {
  const events: RunEvent[] = [];
  const transport = createLocalTransport();
  const result = await executePlan(
    plan,
    {
      clock: systemClock,
      emit: (event) => {
        events.push(event);
        onEvent(event);
      },
      connect: (host) => transport.connect({ name: host, transport: 'local', port: 0 }),
      approve: async () => true,
    },
    { runId: 'run-1', ...options },
  );
  return { result, events };
}

describe('a stopped run', () => {
  it('starts no step on a host still queued behind --max-parallel when the stop comes', async () => {
    const plan = planOf(
      {
        strategy: { batchSize: 4, maxParallel: 1 },
        steps: [{ id: 'install', kind: 'install', run: 'sleep 0.3; echo {{host.name}} >> {{quote params.dir}}/log' }],
      },
      ['h1', 'h2', 'h3', 'h4'],
    );
    const stop = new AbortController();
    const { result } = await run(plan, { signal: stop.signal }, (event) => {
      if (event.type === 'step.started' && event.host === 'h1') stop.abort('SIGINT');
    });
    expect(log()).toEqual(['h1']);
    expect(result.stopped).toMatchObject({ cause: 'stop', signal: 'SIGINT' });
    expect(result.hosts.h1!.state).toBe('succeeded');
    for (const name of ['h2', 'h3', 'h4']) expect(result.hosts[name]!.state).toBe('interrupted');
  });

  it('never shows a secret capture through the decision about a cut-off step, in the record or the event', async () => {
    const steps: Runbook['steps'] = [
      { id: 'token', kind: 'verify', run: 'echo TOKEN=s3cr3t-t0ken-value', capture: { token: { regex: 'TOKEN=(\\S+)', secret: true } } },
      { id: 'switch', kind: 'failover', run: 'echo switch >> {{quote params.dir}}/log; sleep 5', completedWhen: { run: 'echo ok {{quote token}}', expect: [{ contains: 'ok' }] } },
      { id: 'after', kind: 'verify', run: 'echo after >> {{quote params.dir}}/log' },
    ];
    const plan = planOf({ steps }, ['h1']);
    const stop = new AbortController();
    const abort = new AbortController();
    const first = await run(plan, { signal: stop.signal, abortCommands: abort.signal }, (event) => {
      if (event.type === 'step.started' && event.stepId === 'switch') setTimeout(() => (stop.abort('SIGINT'), abort.abort('SIGINT')), 100);
    });
    expect(first.result.stopped).toBeDefined();
    const resume = rebuildRunState(first.events)!;
    const second = await run(plan, { resume });
    expect(second.result.outcome).toBe('succeeded');
    expect(log()).toEqual(['switch', 'after']);
    const record = second.result.hosts.h1!.steps.find((r) => r.id === 'switch')!;
    expect(record.message).toContain('completion probe passed');
    expect(JSON.stringify(second.result)).not.toContain('s3cr3t-t0ken-value');
    expect(JSON.stringify(second.events)).not.toContain('s3cr3t-t0ken-value');
  });

  it('still takes the snapshot after when maxFailures stopped the run and left hosts never started', async () => {
    const plan = planOf(
      { strategy: { batchSize: 1, maxFailures: 0, snapshot: { before: true, after: true } }, steps: [{ id: 'install', kind: 'install', run: 'test {{host.name}} != h1' }] },
      ['h1', 'h2'],
    );
    const taken: string[] = [];
    const transport = createLocalTransport();
    const result = await executePlan(
      plan,
      {
        clock: systemClock,
        emit: () => {},
        connect: (host) => transport.connect({ name: host, transport: 'local', port: 0 }),
        approve: async () => true,
        takeSnapshot: async ({ name }) => {
          taken.push(name);
          return { ok: true };
        },
      },
      { runId: 'run-1' },
    );
    expect(result.hosts).toMatchObject({ h1: { state: 'failed' }, h2: { state: 'skipped' } });
    expect(taken).toEqual(['run-1-before', 'run-1-after']);
  });
});
