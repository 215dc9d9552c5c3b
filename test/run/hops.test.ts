import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makePlan } from '../../engine/plan/make-plan.js';
import { renderPlanMarkdown } from '../../engine/plan/render-plan-markdown.js';
import { buildRunReport } from '../../engine/report/build-report.js';
import { renderRunReportMarkdown } from '../../engine/report/render-markdown.js';
import { createManualClock } from '../../engine/run/clock.js';
import type { RunEvent } from '../../engine/run/events.js';
import { executePlan, type ExecuteOptions } from '../../engine/run/execute-plan.js';
import { rebuildRunState } from '../../engine/run/resume-state.js';
import type { Plan } from '../../engine/schema/plan.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { createLocalTransport } from '../../engine/transport/local.js';

// The steps of `hops` run once per hop, through the local transport: each hop appends to a log file,
// so what ran, in which order and how often is read from the host's side.

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'runbook-hops-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const log = () => readFileSync(join(work, 'log'), 'utf8').trim().split('\n');

function createRunbook(steps: Runbook['steps'], extra: Partial<Runbook> = {}): Runbook {
  return {
    apiVersion: 'runbook/v1',
    kind: 'Runbook',
    metadata: { name: 'path', version: '1.0.0' },
    params: { dir: { type: 'string' }, path: { type: 'string', default: '7.2.0,7.3.0,7.4.0' } },
    targets: { group: 'all' },
    steps,
    hops: { over: '{{params.path}}', firstStep: 'install', lastStep: 'check', description: 'install {{hop.value}} ({{hop.index}}/{{hop.count}})' },
    ...extra,
  };
}

function planOf(runbook: Runbook, params: Record<string, string> = {}): Plan {
  return makePlan({
    runbook,
    inventory: { apiVersion: 'runbook/v1', kind: 'Inventory', defaults: { transport: 'local', groups: ['all'] }, hosts: { h1: {} } },
    files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
    params: { dir: work, ...params },
    commit: null,
    engineVersion: 'test',
  });
}

async function execute(plan: Plan, options: Partial<ExecuteOptions> = {}, onEvent?: (event: RunEvent) => void) {
  const events: RunEvent[] = [];
  const transport = createLocalTransport();
  const result = await executePlan(
    plan,
    {
      clock: createManualClock(1_000),
      emit: (e) => {
        events.push(e);
        onEvent?.(e);
      },
      connect: (host) => transport.connect({ name: host, transport: 'local', port: 0 }),
      approve: async () => true,
    },
    { runId: 'run-1', ...options },
  );
  return { result, events };
}

const STEPS: Runbook['steps'] = [
  { id: 'before', kind: 'backup', run: 'echo before >> {{params.dir}}/log' },
  { id: 'install', kind: 'install', run: 'echo install {{hop.value}} {{hop.index}}/{{hop.count}} >> {{params.dir}}/log && echo "got {{hop.value}}"', capture: { installed: { regex: 'got (\\S+)' } } },
  { id: 'check', kind: 'verify', run: 'echo check {{installed}} >> {{params.dir}}/log' },
  { id: 'after', kind: 'verify', run: 'echo after >> {{params.dir}}/log' },
];

describe('hops: steps run once per hop', () => {
  it('plans each step of the path once per hop, under its own id, with the hop rendered in', () => {
    const plan = planOf(createRunbook(STEPS));
    expect(plan.hops).toEqual([
      { index: 1, value: '7.2.0', description: 'install 7.2.0 (1/3)' },
      { index: 2, value: '7.3.0', description: 'install 7.3.0 (2/3)' },
      { index: 3, value: '7.4.0', description: 'install 7.4.0 (3/3)' },
    ]);
    const steps = plan.hostPlans.h1!.steps;
    expect(steps.map((s) => [s.id, s.hop])).toEqual([
      ['before', undefined],
      ['install.hop1', 1],
      ['check.hop1', 1],
      ['install.hop2', 2],
      ['check.hop2', 2],
      ['install.hop3', 3],
      ['check.hop3', 3],
      ['after', undefined],
    ]);
    expect(steps[3]!.command).toContain('echo install 7.3.0 2/3');
    // A value captured in the hop stays a run-time placeholder in the plan.
    expect(steps[4]!.command).toContain('echo check {{installed}}');
  });

  it('runs the hops in order, each with its own captures', async () => {
    const { result, events } = await execute(planOf(createRunbook(STEPS)));
    expect(result.outcome).toBe('succeeded');
    expect(log()).toEqual(['before', 'install 7.2.0 1/3', 'check 7.2.0', 'install 7.3.0 2/3', 'check 7.3.0', 'install 7.4.0 3/3', 'check 7.4.0', 'after']);
    const captured = events.flatMap((e) => (e.type === 'host.captured' ? [[e.stepId, e.hop, e.values.installed]] : []));
    expect(captured).toEqual([
      ['install.hop1', 1, '7.2.0'],
      ['install.hop2', 2, '7.3.0'],
      ['install.hop3', 3, '7.4.0'],
    ]);
  });

  it('a hop that fails stops the path there: the later hops and the steps after them do not run', async () => {
    const steps: Runbook['steps'] = [
      ...STEPS.slice(0, 2),
      { id: 'check', kind: 'verify', run: 'echo check {{installed}} >> {{params.dir}}/log; test {{hop.index}} -ne 2' },
      STEPS[3]!,
    ];
    const { result } = await execute(planOf(createRunbook(steps)));
    expect(result.outcome).toBe('failed');
    expect(log()).toEqual(['before', 'install 7.2.0 1/3', 'check 7.2.0', 'install 7.3.0 2/3', 'check 7.3.0']);
    const host = result.hosts.h1!;
    expect(host.state).toBe('failed');
    expect(host.message).toMatch(/^step check\.hop2 failed/);
    expect(host.steps.map((s) => [s.id, s.status])).toEqual([
      ['before', 'succeeded'],
      ['install.hop1', 'succeeded'],
      ['check.hop1', 'succeeded'],
      ['install.hop2', 'succeeded'],
      ['check.hop2', 'failed'],
      ['install.hop3', 'skipped'],
      ['check.hop3', 'skipped'],
      ['after', 'skipped'],
    ]);
  });

  it('gives each hop its section in the plan and in the report, with its outcome', async () => {
    const steps: Runbook['steps'] = [...STEPS.slice(0, 2), { id: 'check', kind: 'verify', run: 'test {{hop.index}} -ne 2' }, STEPS[3]!];
    const plan = planOf(createRunbook(steps));
    const markdown = renderPlanMarkdown(plan);
    expect(markdown).toContain('| Hops | `7.2.0` → `7.3.0` → `7.4.0`: steps `install` to `check` once per hop, in order; a hop that fails stops the path |');
    expect(markdown).toContain('### Hops\n\n**Hop 1 of 3: `7.2.0`**\n\ninstall 7.2.0 (1/3)\n');
    expect(markdown).toMatch(/\*\*Hop 2 of 3: `7\.3\.0`\*\*\n\n\| # \| step \| kind \| command \|\n\| --- \| --- \| --- \| --- \|\n\| 4 \| `install\.hop2` \|/);
    expect(markdown).toContain('**After the hops**');

    const { result } = await execute(plan);
    const report = buildRunReport(plan, result, { commit: null, runBy: { user: 'ops', machine: 'jump01' }, approvals: [], secrets: [] });
    expect(report.hops).toEqual(plan.hops);
    expect(report.hosts.h1!.steps.map((s) => s.hop)).toEqual([undefined, 1, 1, 2, 2, 3, 3, undefined]);
    const text = renderRunReportMarkdown(report);
    expect(text).toContain('**Hop 1 of 3: 7.2.0 (succeeded)**\n\ninstall 7.2.0 (1/3)\n');
    expect(text).toContain('**Hop 2 of 3: 7.3.0 (failed)**');
    expect(text).toContain('**Hop 3 of 3: 7.4.0 (not run)**');
    expect(text).toContain('**After the hops**');
  });

  it('resumed in the middle of hop 2, it does not redo hop 1 and keeps the value hop 2 captured', async () => {
    const plan = planOf(createRunbook(STEPS));
    const stop = new AbortController();
    // Told to stop as hop 2's check starts: that command finishes, nothing after it starts.
    const first = await execute(plan, { signal: stop.signal }, (event) => {
      if (event.type === 'step.started' && event.stepId === 'install.hop2') stop.abort('SIGTERM');
    });
    expect(first.result.stopped?.signal).toBe('SIGTERM');
    expect(log()).toEqual(['before', 'install 7.2.0 1/3', 'check 7.2.0', 'install 7.3.0 2/3']);

    const resume = rebuildRunState(first.events)!;
    expect(resume.hosts.h1!.hopCaptures).toEqual({ 1: { installed: '7.2.0' }, 2: { installed: '7.3.0' } });
    const second = await execute(plan, { resume });
    expect(second.result.outcome).toBe('succeeded');
    // Hop 1 and hop 2's install ran once; hop 2 went on from its check, with hop 2's captured value.
    expect(log()).toEqual(['before', 'install 7.2.0 1/3', 'check 7.2.0', 'install 7.3.0 2/3', 'check 7.3.0', 'install 7.4.0 3/3', 'check 7.4.0', 'after']);
    const started = second.events.flatMap((e) => (e.type === 'step.started' ? [e.stepId] : []));
    expect(started).toEqual(['check.hop2', 'install.hop3', 'check.hop3', 'after']);
  });

  it('takes the list as written, and refuses a path that renders no hop or too many', () => {
    const listed = planOf(createRunbook(STEPS, { hops: { over: ['5.0', '6.0'], firstStep: 'install', lastStep: 'check' } }));
    expect(listed.hops?.map((h) => h.value)).toEqual(['5.0', '6.0']);
    expect(planOf(createRunbook(STEPS), { path: ' 7.2.0 ,, 7.3.0 ,' }).hops?.map((h) => h.value)).toEqual(['7.2.0', '7.3.0']);
    expect(() => planOf(createRunbook(STEPS), { path: ' , ' })).toThrow(expect.objectContaining({ code: 'RB2040', exitCode: 2 }));
    const many = Array.from({ length: 101 }, (_, i) => `1.${i}.0`).join(',');
    expect(() => planOf(createRunbook(STEPS), { path: many })).toThrow(expect.objectContaining({ code: 'RB2041', exitCode: 2 }));
    // A hop value is refused bare in a command like any other value with shell metacharacters.
    expect(() => planOf(createRunbook(STEPS), { path: '7.2.0;reboot' })).toThrow(expect.objectContaining({ code: 'RB2004' }));
  });

  it('leaves plans without hops as they were', () => {
    const plain = planOf({ ...createRunbook(STEPS), hops: undefined });
    expect(plain.hops).toBeUndefined();
    expect(plain.hostPlans.h1!.steps.map((s) => s.id)).toEqual(['before', 'install', 'check', 'after']);
    expect(JSON.stringify(plain)).not.toContain('"hop');
  });
});
