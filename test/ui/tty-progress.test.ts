import { afterEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../engine/run/events.js';
import { createTtyProgress } from '../../engine/ui/tty-progress.js';
import { captureStream, stripAnsi } from './capture.js';
import { FAILURE_OUTPUT, START, SUCCESS_OUTPUT, createSampleRun } from './sample-run.js';

const SPINNER_FRAMES = /[\u2800-\u28ff]/;
const CURSOR_MOVES = /\u001b\[(?:\d*A|2K|\d*G)/;

async function renderLines(events: RunEvent[]) {
  const terminal = captureStream(false);
  const progress = createTtyProgress({ stream: terminal.stream });
  for (const event of events) progress.handle(event);
  await progress.close();
  return { raw: terminal.text(), lines: stripAnsi(terminal.text()).split('\n') };
}

function indexOfEvent(events: RunEvent[], matches: (event: RunEvent) => boolean): number {
  const index = events.findIndex(matches);
  if (index < 0) throw new Error('the sample run lacks the event this test cuts at');
  return index;
}

describe('createTtyProgress on a stream that is not a terminal (listr2 line renderer)', () => {
  it('shows every host in its final state, failed output under the failure, and no spinner', async () => {
    const { raw, lines } = await renderLines(createSampleRun());
    const text = lines.join('\n');
    expect(lines.some((l) => l.endsWith('leaf01: succeeded'))).toBe(true);
    expect(text).toContain('leaf02 [FAILED: leaf02: failed: install failed after 2 attempts]');
    expect(text).toContain('leaf03 [FAILED: leaf03: rolled back: install failed; rolled back]');
    expect(text).toContain('[SKIPPED: batch 2/2: leaf04: not started]');
    expect(text).toContain('stage rest: 1 failed, 1 rolled back, 1 skipped');
    expect(text).toContain(
      'upgrade-firmware 1.2.0: run r-20261124-0547 failed: 2 hosts failed, more than maxFailures (1) (1 succeeded, 1 failed, 1 rolled back, 1 skipped)',
    );
    expect(text).toContain('step install failed after 2 attempts: exit 1 - command failed');
    expect(text).toContain(`err | ${FAILURE_OUTPUT}`);
    expect(text).not.toContain(SUCCESS_OUTPUT);
    expect(text).not.toContain('snapshot');
    expect(raw).not.toMatch(SPINNER_FRAMES);
    expect(raw).not.toMatch(CURSOR_MOVES);
  });

  it('ends when the run stops before its last stage, showing that stage as not started', async () => {
    const events = createSampleRun();
    const cut = indexOfEvent(events, (e) => e.type === 'stage.finished' && e.stage === 'canary');
    const finished: RunEvent = {
      type: 'run.finished',
      at: START + 10_000,
      runId: 'r-20261124-0547',
      outcome: 'failed',
      hosts: { leaf01: 'succeeded', leaf02: 'skipped', leaf03: 'skipped', leaf04: 'skipped' },
      message: 'interrupted by SIGINT',
    };
    const text = (await renderLines([...events.slice(0, cut + 1), finished])).lines.join('\n');
    expect(text).toContain('stage canary: 1 succeeded');
    expect(text).toContain('[SKIPPED: stage rest (3 hosts in 2 batches): not started]');
    expect(text).toContain('run r-20261124-0547 failed: interrupted by SIGINT (1 succeeded, 3 skipped)');
  });

  it('ends on close without run.finished, showing the running host as interrupted', async () => {
    const events = createSampleRun();
    const cut = indexOfEvent(events, (e) => e.type === 'step.started' && e.host === 'leaf01' && e.section === 'step');
    const text = (await renderLines(events.slice(0, cut + 1))).lines.join('\n');
    expect(text).toContain('[FAILED: leaf01: interrupted]');
    expect(text).toContain('run r-20261124-0547 ended without a result (1 interrupted, 3 skipped)');
  });

  it('resolves close with nothing drawn when no run started, and ignores events after close', async () => {
    const terminal = captureStream(false);
    const progress = createTtyProgress({ stream: terminal.stream });
    await progress.close();
    for (const event of createSampleRun()) progress.handle(event);
    await progress.close();
    expect(terminal.text()).toBe('');
  });

  it('shows failed prechecks with their output and the stages that never started', async () => {
    const at = START;
    const events: RunEvent[] = [
      { type: 'run.started', at, runId: 'r-2', runbook: 'upgrade-firmware', version: '1.2.0', planHash: 'sha256:00', hosts: ['leaf01'], stages: [{ name: 'canary', batches: [['leaf01']] }] },
      { type: 'phase.started', at, phase: 'prechecks', hosts: ['leaf01'] },
      { type: 'step.started', at, host: 'leaf01', section: 'precheck', stepId: 'disk-space', kind: 'check', mutating: false, attempt: 1 },
      { type: 'output', at, host: 'leaf01', stepId: 'disk-space', stream: 'stdout', line: 'only 20MB free on /' },
      {
        type: 'step.finished',
        at,
        host: 'leaf01',
        record: { id: 'disk-space', section: 'precheck', kind: 'check', mutating: false, status: 'failed', attempts: 1, startedAt: at, durationMs: 3, exitCode: 1, stdout: '', stderr: '', captured: [] },
      },
      { type: 'phase.finished', at, phase: 'prechecks', ok: false, message: '1 host failed its prechecks' },
      { type: 'run.finished', at, runId: 'r-2', outcome: 'failed', hosts: { leaf01: 'skipped' }, message: 'prechecks failed' },
    ];
    const text = (await renderLines(events)).lines.join('\n');
    expect(text).toContain('[FAILED: prechecks failed: 1 host failed its prechecks]');
    expect(text).toContain('leaf01: precheck disk-space failed after 1 attempt: exit 1');
    expect(text).toContain('out | only 20MB free on /');
    expect(text).toContain('[SKIPPED: stage canary (1 host): not started]');
  });

  it('shows the snapshot phases a run has', async () => {
    const at = START;
    const events: RunEvent[] = [
      { type: 'run.started', at, runId: 'r-3', runbook: 'upgrade-firmware', version: '1.2.0', planHash: 'sha256:00', hosts: ['leaf01'], stages: [{ name: 'canary', batches: [['leaf01']] }] },
      { type: 'phase.started', at, phase: 'snapshot-before', hosts: ['leaf01'] },
      { type: 'phase.finished', at, phase: 'snapshot-before', ok: true },
      { type: 'stage.started', at, stage: 'canary', index: 0, batches: 1 },
      { type: 'batch.started', at, stage: 'canary', batch: 0, hosts: ['leaf01'] },
      { type: 'host.started', at, host: 'leaf01' },
      { type: 'host.finished', at, host: 'leaf01', state: 'succeeded' },
      { type: 'batch.finished', at, stage: 'canary', batch: 0 },
      { type: 'stage.finished', at, stage: 'canary', index: 0 },
      { type: 'phase.started', at, phase: 'snapshot-after', hosts: ['leaf01'] },
      { type: 'phase.finished', at, phase: 'snapshot-after', ok: true },
      { type: 'run.finished', at, runId: 'r-3', outcome: 'succeeded', hosts: { leaf01: 'succeeded' } },
    ];
    const text = (await renderLines(events)).lines.join('\n');
    expect(text).toContain('snapshot before taken on 1 host');
    expect(text).toContain('snapshot after taken on 1 host');
    expect(text).not.toContain('prechecks');
    expect(text).toContain('run r-3 succeeded (1 succeeded)');
    expect(text).not.toContain('FAILED');
  });
});

describe('createTtyProgress on a terminal (listr2 default renderer)', () => {
  const descriptor = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
  afterEach(() => {
    if (descriptor) Object.defineProperty(process.stdout, 'isTTY', descriptor);
    else Reflect.deleteProperty(process.stdout, 'isTTY');
  });

  it('updates host titles live and leaves a final frame with collapsed successes and failure output', async () => {
    // listr2 picks its default renderer only when process.stdout is a TTY, whatever stream it draws on.
    Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true, writable: true });
    const terminal = captureStream(true);
    const progress = createTtyProgress({ stream: terminal.stream });
    const events = createSampleRun();
    const feedThrough = (matches: (event: RunEvent) => boolean) => {
      for (let event = events.shift(); event; event = events.shift()) {
        progress.handle(event);
        if (matches(event)) return;
      }
    };
    feedThrough((e) => e.type === 'host.started' && e.host === 'leaf01');
    await terminal.until('leaf01: starting');
    feedThrough((e) => e.type === 'step.retried' && e.host === 'leaf01');
    await terminal.until('leaf01: install attempt 1 failed, retrying in 2.0s');
    feedThrough((e) => e.type === 'step.started' && e.host === 'leaf01');
    await terminal.until('leaf01: install (attempt 2)');
    feedThrough((e) => e.type === 'step.started' && e.section === 'rollback');
    await terminal.until('leaf03: rollback restore-firmware (attempt 1)');
    feedThrough(() => false);
    await progress.close();

    const final = stripAnsi(terminal.chunks.filter((chunk) => chunk.includes('upgrade-firmware 1.2.0: run')).at(-1) ?? '');
    expect(final).toContain('prechecks passed on 4 hosts');
    expect(final).toContain('stage canary: 1 succeeded');
    // A stage that succeeded collapses to its own line.
    expect(final).not.toContain('leaf01');
    expect(final).toContain('stage rest: 1 failed, 1 rolled back, 1 skipped');
    expect(final).toContain('leaf02: failed: install failed after 2 attempts');
    expect(final).toContain('E: dpkg was interrupted');
    expect(final).toContain('leaf03: rolled back: install failed; rolled back');
    expect(final).toContain('batch 2/2: leaf04: not started');
    expect(final).toContain('run r-20261124-0547 failed');
    expect(stripAnsi(terminal.text())).not.toContain(SUCCESS_OUTPUT);
  });
});
