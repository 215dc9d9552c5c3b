import { afterEach, describe, expect, it } from 'vitest';
import { runApply } from '../../engine/commands/apply.js';
import type { RunEvent } from '../../engine/run/events.js';
import { applyRunbook, LAB_PASSWORD_ENV, startTestLab, type TestLab } from '../helpers/lab-apply.js';

// A single-instance NSO upgrade cut off while NSO starts (the connection drops after the lab ran the
// start): on resume, the start step's completion probe (`/etc/init.d/ncs status`, seed 002's way to
// tell NSO runs) says it completed, so the start is recorded done and never sent again.

let testLab: TestLab | undefined;
afterEach(async () => {
  await testLab?.stop();
  testLab = undefined;
});

describe('nso-upgrade resumed after a cut-off start', () => {
  it('the probe finds NSO running: the start is recorded done, not repeated, and the upgrade finishes', async () => {
    const lab = await startTestLab({
      topology: { spines: 0, leaves: 0, storageNodes: 0, chassis: false, nsoStandalone: true },
      faults: { nso0: [{ kind: 'dropConnection', command: '^/etc/init.d/ncs start-with-package-reload$', times: 1 }] },
    });
    testLab = lab;
    const first = await applyRunbook('nso-upgrade.yaml', lab.inventoryPath, ['targetVersion=6.2.3', 'fromVersion=6.1.4'], { root: lab.dir });
    expect(first.exitCode).toBe(1);
    expect(first.states.nso0).toBe('interrupted');
    const started = first.events.find((e) => e.type === 'run.started');
    const runId = started?.type === 'run.started' ? started.runId : '';
    const events: RunEvent[] = [];
    let stderr = '';
    const exitCode = await runApply({
      resume: runId,
      params: [],
      yes: true,
      noProgress: true,
      format: 'text',
      isTty: false,
      write: () => {},
      writeError: (text) => (stderr += text),
      env: LAB_PASSWORD_ENV,
      onEvent: (event) => events.push(event),
      root: lab.dir,
      commit: false,
    });
    expect(exitCode, stderr).toBe(0);
    expect(events.find((e) => e.type === 'step.decided' && e.stepId === 'start')).toMatchObject({ decision: 'done' });
    expect(lab.lab.commandLog('nso0').filter((entry) => entry.command.startsWith('/etc/init.d/ncs start')).map((entry) => entry.outcome)).toEqual(['dropped']);
    expect(lab.lab.state('nso0')).toMatchObject({ running: true, runningVersion: '6.2.3' });
  });
});
