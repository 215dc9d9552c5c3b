import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { startLab, type Lab, type LabOptions } from '../../lab/index.js';
import { runApply } from '../../engine/commands/apply.js';
import type { HostState, RunEvent, StepRecord } from '../../engine/run/events.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const LAB_PASSWORD_ENV = { RUNBOOK_LAB_PASSWORD: 'lab-password' };

/** Lab timings short enough for tests, long enough that reboots and syncs are really waited for. */
export const FAST_TIMINGS = { rebootDelayMs: 400, syncDelayMs: 300, failoverDelayMs: 200, prepareMs: 400, commitMs: 300 };

export interface TestLab {
  lab: Lab;
  dir: string;
  inventoryPath: string;
  stop(): Promise<void>;
}

/** Starts the lab on loopback and writes the inventory that reaches it into a temporary folder. */
export async function startTestLab(options: LabOptions = {}): Promise<TestLab> {
  const lab = await startLab({ timings: FAST_TIMINGS, ...options });
  const dir = mkdtempSync(join(tmpdir(), 'runbook-lab-'));
  const inventoryPath = join(dir, 'lab.yaml');
  writeFileSync(inventoryPath, lab.inventoryYaml());
  return {
    lab,
    dir,
    inventoryPath,
    stop: async () => {
      await lab.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface AppliedRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  events: RunEvent[];
  states: Record<string, HostState>;
  /** Step records by host, in the order they finished. */
  steps: Record<string, StepRecord[]>;
}

/**
 * `runbook apply RUNBOOK -i INVENTORY --param ... --yes --no-progress --no-commit --allow-dirty`, in process, through real SSH.
 * RUNBOOK is a file under runbooks/ or an absolute path; `onEvent` sees each event as it is emitted
 * (synchronously, before the executor goes on: the moment to inject a fault).
 */
export async function applyRunbook(
  runbook: string,
  inventoryPath: string,
  params: string[],
  extra: { env?: NodeJS.ProcessEnv; yes?: boolean; root: string; onEvent?: (event: RunEvent) => void },
): Promise<AppliedRun> {
  let stdout = '';
  let stderr = '';
  const events: RunEvent[] = [];
  const exitCode = await runApply({
    target: isAbsolute(runbook) ? runbook : join(REPO_ROOT, 'runbooks', runbook),
    inventory: inventoryPath,
    params,
    yes: extra.yes ?? true,
    noProgress: true,
    format: 'text',
    isTty: false,
    write: (t) => (stdout += t),
    writeError: (t) => (stderr += t),
    env: { ...LAB_PASSWORD_ENV, ...extra.env },
    onEvent: (e) => {
      events.push(e);
      extra.onEvent?.(e);
    },
    // Reports, journals and locks go to the test's own folder, never into this checkout.
    root: extra.root,
    commit: false,
    // The shipped runbooks meet a lab inventory written for the test: nothing here is committed.
    allowDirty: true,
  });
  const finished = events.find((e) => e.type === 'run.finished');
  const steps: Record<string, StepRecord[]> = {};
  for (const e of events) if (e.type === 'step.finished') (steps[e.host] ??= []).push(e.record);
  return { exitCode, stdout, stderr, events, states: finished?.type === 'run.finished' ? finished.hosts : {}, steps };
}
