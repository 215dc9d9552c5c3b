import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../engine/run/events.js';
import { createRunHistory } from '../../engine/run/run-history.js';

const started = (at: number): RunEvent => ({ type: 'run.started', at, runId: 'r', runbook: 'x', version: '1.0.0', planHash: 'sha256:0', hosts: ['h'], stages: [] });
const stepStarted = (at: number, stepId: string): RunEvent => ({ type: 'step.started', at, host: 'h', section: 'step', stepId, kind: 'install', mutating: true, attempt: 1 });

describe('createRunHistory', () => {
  it('tells a kill (no end) and a signal apart, with the steps each cut off', () => {
    const history = createRunHistory();
    const events: RunEvent[] = [
      started(1),
      stepStarted(2, 'install'),
      // killed here
      started(10),
      { type: 'step.decided', at: 11, host: 'h', section: 'step', stepId: 'install', decision: 'done', by: 'Olga <o@x>', reason: 'marked done by the operator' },
      stepStarted(12, 'reboot'),
      { type: 'run.interrupted', at: 13, reason: 'the run was interrupted by SIGTERM', signal: 'SIGTERM' },
      { type: 'run.finished', at: 14, runId: 'r', outcome: 'failed', hosts: { h: 'interrupted' }, interrupted: 'the run was interrupted by SIGTERM' },
      started(20),
      { type: 'run.finished', at: 21, runId: 'r', outcome: 'succeeded', hosts: { h: 'succeeded' } },
    ];
    for (const event of events) history.add(event);
    const described = history.describe();
    expect(described.processes).toBe(3);
    expect(described.interruptions).toEqual([
      { at: 2, reason: expect.stringContaining('the process ended before the run did'), cutOff: [{ host: 'h', section: 'step', stepId: 'install' }] },
      { at: 13, reason: 'the run was interrupted by SIGTERM', signal: 'SIGTERM', cutOff: [{ host: 'h', section: 'step', stepId: 'reboot' }] },
    ]);
    expect(described.decisions).toEqual([expect.objectContaining({ stepId: 'install', decision: 'done', by: 'Olga <o@x>' })]);
  });
});
