import { describe, expect, it } from 'vitest';
import { planInterruptedStep, settleAfterProbe, type CutOffStep, type OperatorDecisions } from '../../engine/run/interrupted-step.js';

// The rules for a step a crash or a stop cut off, the same for main and rollback steps.

const step = (fields: Partial<CutOffStep> = {}): CutOffStep => ({ host: 'leaf01', section: 'step', stepId: 'install', mutating: true, idempotent: false, hasProbe: false, ...fields });
const operator = (fields: Partial<OperatorDecisions> = {}): OperatorDecisions => ({ by: 'Olga <olga@example.com>', marks: new Map(), rerunAll: false, ...fields });

describe('planInterruptedStep', () => {
  it('runs a read-only step again', () => {
    expect(planInterruptedStep(step({ mutating: false }), undefined)).toMatchObject({ action: 'rerun', by: 'runbook' });
  });

  it('leaves a changing step to the operator, in the main steps and in the rollback alike', () => {
    for (const section of ['step', 'rollback'] as const) expect(planInterruptedStep(step({ section }), undefined)).toMatchObject({ action: 'wait' });
  });

  it("puts the operator's mark first, even before a probe or --rerun-interrupted", () => {
    const marks = new Map([['leaf01:install', 'failed' as const]]);
    expect(planInterruptedStep(step({ hasProbe: true, idempotent: true }), operator({ marks, rerunAll: true }))).toEqual({
      action: 'failed',
      by: 'Olga <olga@example.com>',
      reason: 'marked failed by the operator',
    });
  });

  it('asks for the probe before idempotent or --rerun-interrupted', () => {
    expect(planInterruptedStep(step({ hasProbe: true, idempotent: true }), operator({ rerunAll: true }))).toEqual({ action: 'probe' });
  });

  it('reruns an idempotent step, or any with --rerun-interrupted', () => {
    expect(planInterruptedStep(step({ idempotent: true }), undefined)).toMatchObject({ action: 'rerun', by: 'runbook' });
    expect(planInterruptedStep(step(), operator({ rerunAll: true }))).toMatchObject({ action: 'rerun', by: 'Olga <olga@example.com>' });
  });
});

describe('settleAfterProbe', () => {
  it('records the step done when the probe passes, never running it again', () => {
    expect(settleAfterProbe(step({ idempotent: true }), operator({ rerunAll: true }), { passed: true, summary: 'MSM-B is MASTER' })).toMatchObject({ action: 'done', by: 'runbook' });
  });

  it('reruns an idempotent step whose probe did not pass, and leaves any other to the operator', () => {
    const failed = { passed: false, summary: 'exit code 1' };
    expect(settleAfterProbe(step({ idempotent: true }), undefined, failed)).toMatchObject({ action: 'rerun' });
    expect(settleAfterProbe(step(), undefined, failed)).toMatchObject({ action: 'wait', reason: expect.stringContaining('completion probe did not pass (exit code 1)') });
  });
});
