/** The executor's typed event stream; the progress display, the journal and the report consume it. */

export const HOST_STATES = ['pending', 'running', 'succeeded', 'failed', 'rolled-back', 'rollback-failed', 'skipped', 'interrupted'] as const;
export type HostState = (typeof HOST_STATES)[number];

export const STEP_STATUSES = ['succeeded', 'failed', 'skipped', 'interrupted'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export type StepSection = 'precheck' | 'step' | 'rollback';
export type RunOutcome = 'succeeded' | 'failed';

export interface StepRecord {
  id: string;
  section: StepSection;
  kind: string;
  mutating: boolean;
  status: StepStatus;
  /** Why a step failed or was skipped, in words. */
  message?: string;
  /** The transport's error code when the host could not be reached or refused us (e.g. AUTH_FAILED). */
  errorCode?: string;
  command?: string;
  attempts: number;
  startedAt: number;
  durationMs: number;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Names of the values captured; the values stay in memory (they may be secret). */
  captured: string[];
  severity?: 'error' | 'warning';
  hint?: string;
}

interface At {
  /** Milliseconds since the epoch, from the executor's clock. */
  at: number;
}

export type RunEvent =
  | (At & {
      type: 'run.started';
      runId: string;
      runbook: string;
      version: string;
      planHash: string;
      hosts: string[];
      stages: Array<{ name: string; batches: string[][] }>;
      /** Set when this process resumes a run that an earlier one started. */
      resumed?: boolean;
    })
  | (At & { type: 'run.finished'; runId: string; outcome: RunOutcome; hosts: Record<string, HostState>; message?: string })
  | (At & { type: 'phase.started'; phase: 'prechecks' | 'snapshot-before' | 'snapshot-after'; hosts: string[] })
  | (At & { type: 'phase.finished'; phase: 'prechecks' | 'snapshot-before' | 'snapshot-after'; ok: boolean; message?: string })
  | (At & { type: 'stage.started'; stage: string; index: number; batches: number })
  | (At & { type: 'stage.finished'; stage: string; index: number })
  | (At & { type: 'batch.started'; stage: string; batch: number; hosts: string[] })
  | (At & { type: 'batch.finished'; stage: string; batch: number })
  | (At & { type: 'host.started'; host: string })
  | (At & { type: 'host.finished'; host: string; state: HostState; message?: string })
  | (At & { type: 'step.started'; host: string; section: StepSection; stepId: string; kind: string; mutating: boolean; attempt: number; command?: string })
  | (At & { type: 'step.retried'; host: string; section: StepSection; stepId: string; attempt: number; delayMs: number; reason: string })
  | (At & { type: 'step.finished'; host: string; record: StepRecord })
  /** Output lines, several at a time joined by `\n`; per step only its first and last part (engine/run/output-budget.ts). */
  | (At & { type: 'output'; host: string; stepId: string; stream: 'stdout' | 'stderr'; line: string })
  /** Values a step captured, except those marked secret: what a resumed run needs to render later steps. */
  | (At & { type: 'host.captured'; host: string; stepId: string; values: Record<string, string> });

export type EmitEvent = (event: RunEvent) => void;
