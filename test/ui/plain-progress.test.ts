import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../engine/run/events.js';
import { createPlainProgress } from '../../engine/ui/plain-progress.js';
import { captureWrites } from './capture.js';
import { FAILURE_OUTPUT, START, SUCCESS_OUTPUT, createSampleRun } from './sample-run.js';

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /;

async function renderPlain(events: RunEvent[], options: { color?: boolean; env?: NodeJS.ProcessEnv; clock?: () => number } = {}) {
  const capture = captureWrites();
  const progress = createPlainProgress({ write: capture.write, color: options.color ?? false, env: options.env ?? {}, clock: options.clock });
  for (const event of events) progress.handle(event);
  await progress.close();
  return capture.text();
}

/** Lines without their timestamp, for comparing content. */
function bodies(text: string): string[] {
  return text.split('\n').map((line) => line.replace(TIMESTAMP, ''));
}

describe('createPlainProgress', () => {
  it('writes one timestamped line per started, retried and finished event, and a table of the hosts', async () => {
    const text = await renderPlain(createSampleRun());
    const lines = text.trimEnd().split('\n');
    for (const line of lines.filter((l) => !l.startsWith(' '))) expect(line).toMatch(TIMESTAMP);
    expect(lines[0]).toBe('2026-11-24T05:47:00.101Z run r-20261124-0547 started: upgrade-firmware 1.2.0, plan sha256:3f2a9c41d0e7, 4 hosts in 2 stages');
    expect(bodies(text)).toEqual(
      expect.arrayContaining([
        'prechecks started on 4 hosts',
        'prechecks passed',
        'stage canary (1/2) started: 1 batch',
        'stage canary batch 1/1 started: leaf01',
        'leaf01 step install started (attempt 1)',
        'leaf01 step install attempt 1 failed, retrying in 2.0s: exit 100',
        'leaf01 step install started (attempt 2)',
        'leaf01 step install succeeded after 2 attempts (1.2s)',
        'leaf01 succeeded',
        'stage canary finished: 1 succeeded',
        'stage rest (2/2) started: 2 batches',
        'stage rest batch 1/2 started: leaf02, leaf03',
        'leaf02 step install failed after 2 attempts: exit 1 - command failed',
        'leaf02 failed: install failed after 2 attempts',
        'leaf03 rollback step restore-firmware started (attempt 1)',
        'leaf03 rolled back: install failed; rolled back',
        'leaf04 skipped: not started: maxFailures (1) exceeded',
        'stage rest finished: 1 failed, 1 rolled back, 1 skipped',
        'run r-20261124-0547 failed: 2 hosts failed, more than maxFailures (1)',
      ]),
    );
    expect(lines.slice(-6)).toEqual([
      '  host    state        detail',
      '  leaf01  succeeded',
      '  leaf02  failed       install failed after 2 attempts',
      '  leaf03  rolled-back  install failed; rolled back',
      '  leaf04  skipped      not started: maxFailures (1) exceeded',
      '  4 hosts: 1 succeeded, 1 failed, 1 rolled back, 1 skipped',
    ]);
  });

  it('shows the output of a failed step under it and never the output of a step that succeeded', async () => {
    const lines = bodies(await renderPlain(createSampleRun()));
    const failed = lines.indexOf('leaf02 step install failed after 2 attempts: exit 1 - command failed');
    expect(lines.slice(failed + 1, failed + 3)).toEqual(['    out | Reading package lists...', `    err | ${FAILURE_OUTPUT}`]);
    // leaf03 sent no output events: its record's stderr is shown instead.
    const rolledBack = lines.indexOf('leaf03 step install failed after 1 attempt: exit 2');
    expect(lines[rolledBack + 1]).toBe('    err | firmware image checksum mismatch');
    const text = lines.join('\n');
    expect(text).not.toContain(SUCCESS_OUTPUT);
    expect(text).not.toContain('restored slot B');
    // The first attempt of leaf01's install failed but the step succeeded: its output stays hidden too.
    expect(text).not.toContain('Could not get lock');
  });

  it('shows only the last 40 lines of a long failing step and says how many it left out', async () => {
    const output: RunEvent[] = Array.from({ length: 100 }, (_, i) => ({
      type: 'output',
      at: START,
      host: 'leaf01',
      stepId: 'build',
      stream: 'stdout',
      line: `line ${i + 1}`,
    }));
    const events: RunEvent[] = [
      { type: 'step.started', at: START, host: 'leaf01', section: 'step', stepId: 'build', kind: 'exec', mutating: true, attempt: 1 },
      ...output,
      {
        type: 'step.finished',
        at: START,
        host: 'leaf01',
        record: { id: 'build', section: 'step', kind: 'exec', mutating: true, status: 'failed', attempts: 1, startedAt: START, durationMs: 5, exitCode: 3, stdout: '', stderr: '', captured: [] },
      },
    ];
    const lines = bodies(await renderPlain(events));
    const shown = lines.filter((l) => l.startsWith('    out | '));
    expect(shown).toHaveLength(40);
    expect(shown[0]).toBe('    out | line 61');
    expect(shown.at(-1)).toBe('    out | line 100');
    expect(lines).toContain('    ... 60 earlier lines not shown');
  });

  it('uses no ANSI escape when colour is off or NO_COLOR is set, and colours otherwise', async () => {
    const withEscapes: RunEvent[] = [
      ...createSampleRun().slice(0, -1),
      { type: 'step.started', at: START, host: 'leaf09', section: 'step', stepId: 'paint', kind: 'exec', mutating: true, attempt: 1 },
      { type: 'output', at: START, host: 'leaf09', stepId: 'paint', stream: 'stdout', line: '\u001b[31mred from the host\u001b[0m' },
      {
        type: 'step.finished',
        at: START,
        host: 'leaf09',
        record: { id: 'paint', section: 'step', kind: 'exec', mutating: true, status: 'failed', attempts: 1, startedAt: START, durationMs: 5, exitCode: 1, stdout: '', stderr: '', captured: [] },
      },
      ...createSampleRun().slice(-1),
    ];
    const off = await renderPlain(withEscapes, { color: false });
    expect(off).not.toContain('\u001b[');
    expect(off).toContain('    out | red from the host');
    expect(await renderPlain(withEscapes, { color: true, env: { NO_COLOR: '1' } })).not.toContain('\u001b[');
    expect(await renderPlain(withEscapes, { color: true, env: {} })).toContain('\u001b[');
  });

  it('on close before the run finished, prints the hosts as far as they got, dated by the clock', async () => {
    const events = createSampleRun();
    const cut = events.findIndex((e) => e.type === 'host.started' && e.host === 'leaf02');
    const text = await renderPlain(events.slice(0, cut + 1), { clock: () => Date.parse('2026-11-24T06:00:00.000Z') });
    const lines = text.trimEnd().split('\n');
    expect(lines.slice(-7)).toEqual([
      '2026-11-24T06:00:00.000Z run r-20261124-0547 ended without a result',
      '  host    state      detail',
      '  leaf01  succeeded',
      '  leaf02  running',
      '  leaf03  pending',
      '  leaf04  pending',
      '  4 hosts: 1 succeeded, 1 running, 2 pending',
    ]);
  });

  it('says when a run is told to stop, and what was decided about a step cut off earlier', async () => {
    const text = await renderPlain([
      { type: 'step.decided', at: START, host: 'leaf01', section: 'rollback', stepId: 'reboot', decision: 'done', by: 'Olga <olga@example.com>', reason: 'marked done by the operator' },
      { type: 'run.interrupted', at: START, reason: 'the run was interrupted by SIGTERM', signal: 'SIGTERM' },
    ]);
    expect(bodies(text)).toEqual(
      expect.arrayContaining([
        'leaf01 rollback step reboot was cut off earlier: done (marked done by the operator; by Olga <olga@example.com>)',
        'the run was interrupted by SIGTERM: no new command starts',
      ]),
    );
  });

  it('writes nothing for events handled after close', async () => {
    const capture = captureWrites();
    const progress = createPlainProgress({ write: capture.write, color: false, env: {} });
    await progress.close();
    for (const event of createSampleRun()) progress.handle(event);
    expect(capture.text()).toBe('');
  });
});
