import type { RunEvent, StepRecord } from '../../engine/run/events.js';

/**
 * A realistic run for the progress consumers: prechecks, then stage `canary` (leaf01, whose
 * install is retried once and succeeds) and stage `rest` in two batches: leaf02 fails its install,
 * leaf03 fails and is rolled back, so maxFailures is exceeded and leaf04 is never started.
 */

export const START = Date.parse('2026-11-24T05:47:00.000Z');

export const SUCCESS_OUTPUT = 'Setting up firmware-tools (2.4.1)';
export const FAILURE_OUTPUT = 'E: dpkg was interrupted, you must manually run dpkg --configure -a';

function record(fields: Partial<StepRecord> & Pick<StepRecord, 'id' | 'status'>): StepRecord {
  return {
    section: 'step',
    kind: 'exec',
    mutating: true,
    attempts: 1,
    startedAt: START,
    durationMs: 1200,
    exitCode: 0,
    stdout: '',
    stderr: '',
    captured: [],
    ...fields,
  };
}

export function createSampleRun(): RunEvent[] {
  let at = START;
  const next = () => (at += 101);
  return [
    {
      type: 'run.started',
      at: next(),
      runId: 'r-20261124-0547',
      runbook: 'upgrade-firmware',
      version: '1.2.0',
      planHash: 'sha256:3f2a9c41d0e7b6a5f4e3d2c1',
      hosts: ['leaf01', 'leaf02', 'leaf03', 'leaf04'],
      stages: [
        { name: 'canary', batches: [['leaf01']] },
        { name: 'rest', batches: [['leaf02', 'leaf03'], ['leaf04']] },
      ],
    },
    { type: 'phase.started', at: next(), phase: 'prechecks', hosts: ['leaf01', 'leaf02', 'leaf03', 'leaf04'] },
    { type: 'step.started', at: next(), host: 'leaf01', section: 'precheck', stepId: 'disk-space', kind: 'check', mutating: false, attempt: 1 },
    { type: 'step.finished', at: next(), host: 'leaf01', record: record({ id: 'disk-space', section: 'precheck', kind: 'check', mutating: false, status: 'succeeded', durationMs: 80 }) },
    { type: 'phase.finished', at: next(), phase: 'prechecks', ok: true },

    { type: 'stage.started', at: next(), stage: 'canary', index: 0, batches: 1 },
    { type: 'batch.started', at: next(), stage: 'canary', batch: 0, hosts: ['leaf01'] },
    { type: 'host.started', at: next(), host: 'leaf01' },
    { type: 'step.started', at: next(), host: 'leaf01', section: 'step', stepId: 'install', kind: 'exec', mutating: true, attempt: 1, command: 'apt-get install -y firmware-tools' },
    { type: 'output', at: next(), host: 'leaf01', stepId: 'install', stream: 'stderr', line: 'E: Could not get lock /var/lib/dpkg/lock' },
    { type: 'step.retried', at: next(), host: 'leaf01', section: 'step', stepId: 'install', attempt: 1, delayMs: 2000, reason: 'exit 100' },
    { type: 'step.started', at: next(), host: 'leaf01', section: 'step', stepId: 'install', kind: 'exec', mutating: true, attempt: 2, command: 'apt-get install -y firmware-tools' },
    { type: 'output', at: next(), host: 'leaf01', stepId: 'install', stream: 'stdout', line: SUCCESS_OUTPUT },
    { type: 'step.finished', at: next(), host: 'leaf01', record: record({ id: 'install', status: 'succeeded', attempts: 2, stdout: `${SUCCESS_OUTPUT}\n` }) },
    { type: 'host.finished', at: next(), host: 'leaf01', state: 'succeeded' },
    { type: 'batch.finished', at: next(), stage: 'canary', batch: 0 },
    { type: 'stage.finished', at: next(), stage: 'canary', index: 0 },

    { type: 'stage.started', at: next(), stage: 'rest', index: 1, batches: 2 },
    { type: 'batch.started', at: next(), stage: 'rest', batch: 0, hosts: ['leaf02', 'leaf03'] },
    { type: 'host.started', at: next(), host: 'leaf02' },
    { type: 'host.started', at: next(), host: 'leaf03' },
    { type: 'step.started', at: next(), host: 'leaf02', section: 'step', stepId: 'install', kind: 'exec', mutating: true, attempt: 1 },
    { type: 'step.started', at: next(), host: 'leaf03', section: 'step', stepId: 'install', kind: 'exec', mutating: true, attempt: 1 },
    { type: 'output', at: next(), host: 'leaf02', stepId: 'install', stream: 'stdout', line: 'Reading package lists...' },
    { type: 'step.retried', at: next(), host: 'leaf02', section: 'step', stepId: 'install', attempt: 1, delayMs: 2000, reason: 'exit 100' },
    { type: 'step.started', at: next(), host: 'leaf02', section: 'step', stepId: 'install', kind: 'exec', mutating: true, attempt: 2 },
    { type: 'output', at: next(), host: 'leaf02', stepId: 'install', stream: 'stdout', line: 'Reading package lists...' },
    { type: 'output', at: next(), host: 'leaf02', stepId: 'install', stream: 'stderr', line: FAILURE_OUTPUT },
    {
      type: 'step.finished',
      at: next(),
      host: 'leaf02',
      record: record({ id: 'install', status: 'failed', attempts: 2, exitCode: 1, message: 'command failed', stdout: 'Reading package lists...\n', stderr: `${FAILURE_OUTPUT}\n` }),
    },
    { type: 'host.finished', at: next(), host: 'leaf02', state: 'failed', message: 'install failed after 2 attempts' },
    {
      type: 'step.finished',
      at: next(),
      host: 'leaf03',
      record: record({ id: 'install', status: 'failed', exitCode: 2, stderr: 'firmware image checksum mismatch\n' }),
    },
    { type: 'step.started', at: next(), host: 'leaf03', section: 'rollback', stepId: 'restore-firmware', kind: 'exec', mutating: true, attempt: 1 },
    { type: 'output', at: next(), host: 'leaf03', stepId: 'restore-firmware', stream: 'stdout', line: 'restored slot B' },
    { type: 'step.finished', at: next(), host: 'leaf03', record: record({ id: 'restore-firmware', section: 'rollback', status: 'succeeded', stdout: 'restored slot B\n' }) },
    { type: 'host.finished', at: next(), host: 'leaf03', state: 'rolled-back', message: 'install failed; rolled back' },
    { type: 'batch.finished', at: next(), stage: 'rest', batch: 0 },
    { type: 'host.finished', at: next(), host: 'leaf04', state: 'skipped', message: 'not started: maxFailures (1) exceeded' },
    { type: 'stage.finished', at: next(), stage: 'rest', index: 1 },
    {
      type: 'run.finished',
      at: next(),
      runId: 'r-20261124-0547',
      outcome: 'failed',
      hosts: { leaf01: 'succeeded', leaf02: 'failed', leaf03: 'rolled-back', leaf04: 'skipped' },
      message: '2 hosts failed, more than maxFailures (1)',
    },
  ];
}
