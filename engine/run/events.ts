/** The executor's typed event stream; the progress display, the journal and the report consume it. */

export const HOST_STATES = ['pending', 'running', 'succeeded', 'failed', 'rolled-back', 'rollback-failed', 'skipped', 'interrupted'] as const;
export type HostState = (typeof HOST_STATES)[number];

export const STEP_STATUSES = ['succeeded', 'failed', 'skipped', 'interrupted'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export type StepSection = 'precheck' | 'step' | 'rollback';
export type RunOutcome = 'succeeded' | 'failed';

/** The signals that stop a run: it stops cleanly, journals why, releases its locks and can be resumed. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * What became of a step a crash or a stop cut off, decided when the run is resumed: `done` (recorded
 * as finished), `failed` (handled as a failure: rolled back when asked), `rerun`, or `wait` (the
 * host stops there until the operator decides).
 */
export const STEP_DECISIONS = ['done', 'failed', 'rerun', 'wait'] as const;
export type StepDecision = (typeof STEP_DECISIONS)[number];

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
  /** A fetch or put: the file moved, where it is kept on the controller, its size and SHA-256. */
  transfer?: FileTransfer;
}

export interface FileTransfer {
  direction: 'fetch' | 'put';
  remote: string;
  /** The artifact (`artifacts/<host>/<name>`, relative to the run's folder) or the repository file. */
  local: string;
  bytes: number;
  sha256: string;
}

interface At {
  /** Milliseconds since the epoch, from the executor's clock. */
  at: number;
}

export type RunEvent =
  /** Journaled first when a new run passes the gates, before anything runs: what `--resume` checks again. */
  | (At & {
      type: 'run.admitted';
      runId: string;
      planHash: string;
      approvalRequired: boolean;
      approvalCommit: string | null;
      allowDirty: boolean;
      /** HEAD when the run was admitted: a resume checks the plan against the inputs there. */
      inputsCommit?: string | null;
      /** The `--base` the gates used, for a resume to use again. */
      base?: string;
      /** Admitted with `--allow-reapply`. */
      allowReapply?: boolean;
    })
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
  | (At & {
      type: 'run.finished';
      runId: string;
      outcome: RunOutcome;
      hosts: Record<string, HostState>;
      message?: string;
      /** Set when the run stopped before its end (a signal, the journal unwritable): it can be resumed. */
      interrupted?: string;
    })
  /** The run was told to stop (a signal) or must stop (its journal cannot be written); written at once. */
  | (At & { type: 'run.interrupted'; reason: string; signal?: StopSignal })
  /** On resume: what was decided about a step that had been cut off, by whom, and why. */
  | (At & { type: 'step.decided'; host: string; section: StepSection; stepId: string; decision: StepDecision; by: string; reason: string })
  /** After the run: the report is being written (and committed, when `commit`). */
  | (At & { type: 'report.started'; commit: boolean })
  /** The report's end: its files (relative to the repository root) and whether it was committed, as asked. */
  | (At & { type: 'report.finished'; files: string[]; committed: boolean; commit?: string })
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
  | (At & { type: 'host.captured'; host: string; stepId: string; values: Record<string, string>; /** Set for a step of `hops`: the hop the values belong to. */ hop?: number });

export type EmitEvent = (event: RunEvent) => void;
