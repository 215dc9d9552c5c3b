import { describe, expect, it } from 'vitest';
import { checkPlanSecrets } from '../../engine/commands/secrets.js';
import { makePlan } from '../../engine/plan/make-plan.js';

// A param is written to the plan file and the report: it must never hold a password, whatever its type.

function planWith(pin: number) {
  return makePlan({
    runbook: {
      apiVersion: 'runbook/v1',
      kind: 'Runbook',
      metadata: { name: 't', version: '1.0.0' },
      params: { pin: { type: 'integer' } },
      targets: { group: 'all' },
      steps: [{ id: 'noop', run: 'true' }],
    },
    inventory: { apiVersion: 'runbook/v1', kind: 'Inventory', defaults: { groups: ['all'], auth: { passwordEnv: 'DEVICE_PASSWORD' } }, hosts: { sw1: { address: '192.0.2.1' } } },
    files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
    params: { pin: String(pin) },
    commit: null,
    engineVersion: 'test',
  });
}

describe('checkPlanSecrets', () => {
  it('refuses a number param equal to an all-digit password', () => {
    expect(() => checkPlanSecrets(planWith(48151623), { DEVICE_PASSWORD: '48151623' })).toThrow(expect.objectContaining({ code: 'RB2008', exitCode: 2 }));
  });

  it('accepts a number param that is not the password', () => {
    expect(() => checkPlanSecrets(planWith(7), { DEVICE_PASSWORD: '48151623' })).not.toThrow();
  });
});
