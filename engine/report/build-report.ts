import type { StepRecord } from '../run/events.js';
import type { HostResult, RunResult } from '../run/execute-plan.js';
import type { RunHistory } from '../run/run-history.js';
import type { Plan } from '../schema/plan.js';
import type { Approval, ReportHost, ReportStep, RunHistoryReport, RunReport, SnapshotComparisonSummary } from '../schema/report.js';
import type { SnapshotDiff } from '../schema/snapshot.js';
import { DEFAULT_OUTPUT_LIMITS, excerptOutput, type OutputLimits } from './excerpt.js';
import { createRedactor } from '../run/redact.js';

export interface RunReportMeta {
  /** HEAD when the run started; null outside git. */
  commit: string | null;
  runBy: RunReport['runBy'];
  approvals: readonly Approval[];
  /** The run was admitted with `--allow-dirty`. */
  allowDirty?: boolean;
  /** Values replaced by `***` everywhere in the report: see `collectSecrets`. */
  secrets: readonly string[];
  snapshotDiff?: SnapshotDiff;
  /** Snapshot files, relative to the repository root, when they were saved. */
  snapshotFiles?: { before?: string; after?: string };
  outputLimits?: OutputLimits;
  /** Interruptions and decisions over every process of the run; left out of the report when there were none. */
  history?: RunHistory;
}

/** Pure: a plan and what became of it -> the run report (outputs truncated, secrets redacted). */
export function buildRunReport(plan: Plan, result: RunResult, meta: RunReportMeta): RunReport {
  const limits = meta.outputLimits ?? DEFAULT_OUTPUT_LIMITS;
  const { redact: hide } = createRedactor(meta.secrets);
  const hideOptional = (text: string | undefined) => (text === undefined ? undefined : hide(text));
  const placement = placeHosts(plan);
  const order = [...placement.keys(), ...Object.keys(plan.hosts).filter((name) => !placement.has(name))];

  // The hop of each step of the path, by the id it ran under.
  const hopOf = new Map(
    plan.hops ? [...new Set(Object.values(plan.hostPlans))].flatMap((hostPlan) => hostPlan.steps.flatMap((s) => (s.hop === undefined ? [] : [[s.id, s.hop] as const]))) : [],
  );
  const toStep = (record: StepRecord): ReportStep =>
    dropUndefined({
      id: record.id,
      kind: record.kind as ReportStep['kind'],
      mutating: record.mutating,
      status: record.status,
      message: hideOptional(record.message),
      errorCode: record.errorCode,
      command: hideOptional(record.command),
      attempts: record.attempts,
      startedAt: toIso(record.startedAt),
      durationMs: Math.max(0, Math.round(record.durationMs)),
      exitCode: record.exitCode,
      stdout: record.stdout === '' ? undefined : excerptOutput(hide(record.stdout), limits),
      stderr: record.stderr === '' ? undefined : excerptOutput(hide(record.stderr), limits),
      captured: [...record.captured],
      severity: record.severity,
      hint: record.hint,
      transfer: record.transfer,
      hop: record.section === 'step' ? hopOf.get(record.id) : undefined,
    });

  const toHost = (name: string, host: HostResult | undefined): ReportHost => {
    const planned = plan.hosts[name];
    const where = placement.get(name) ?? { stage: '', batch: 0 };
    return dropUndefined({
      state: host?.state ?? 'skipped',
      message: hideOptional(host ? host.message : 'not in the run result'),
      stage: where.stage,
      batch: where.batch,
      role: planned?.role,
      address: planned?.address,
      startedAt: host?.startedAt === undefined ? undefined : toIso(host.startedAt),
      finishedAt: host?.finishedAt === undefined ? undefined : toIso(host.finishedAt),
      durationMs: host?.startedAt !== undefined && host.finishedAt !== undefined ? Math.max(0, host.finishedAt - host.startedAt) : undefined,
      prechecks: (host?.prechecks ?? []).map(toStep),
      steps: (host?.steps ?? []).map(toStep),
      rollback: (host?.rollback ?? []).map(toStep),
    });
  };

  const hosts = Object.fromEntries(order.map((name) => [name, toHost(name, result.hosts[name])]));
  const summary: Record<string, number> = {};
  for (const host of Object.values(hosts)) summary[host.state] = (summary[host.state] ?? 0) + 1;

  return dropUndefined({
    apiVersion: 'runbook/v1' as const,
    kind: 'RunReport' as const,
    runId: result.runId,
    outcome: result.outcome,
    message: hideOptional(result.message),
    runbook: dropUndefined({ name: plan.runbook.name, version: plan.runbook.version, description: plan.runbook.description }),
    planHash: plan.hash,
    planCommit: plan.commit,
    commit: meta.commit,
    engineVersion: plan.engineVersion,
    inputs: { runbook: { ...plan.inputs.runbook }, inventory: { ...plan.inputs.inventory } },
    params: Object.fromEntries(Object.entries(plan.params).map(([k, v]) => [k, typeof v === 'string' ? hide(v) : v])),
    policy: dropUndefined({ requireApproval: plan.policy.requireApproval, forbidSelfApproval: plan.policy.forbidSelfApproval, requireSignedApprovals: plan.policy.requireSignedApprovals }),
    approvals: meta.approvals.map((a) => ({ ...a, runbook: { ...a.runbook } })),
    allowDirty: meta.allowDirty ? true : undefined,
    runBy: dropUndefined({ ...meta.runBy }),
    startedAt: toIso(result.startedAt),
    finishedAt: toIso(result.finishedAt),
    durationMs: Math.max(0, result.finishedAt - result.startedAt),
    summary,
    stages: plan.stages.map((s) => ({ name: s.name, batches: s.batches.map((b) => [...b]) })),
    hosts,
    snapshots: dropUndefined({
      before: result.snapshots.before === undefined ? undefined : dropUndefined({ name: result.snapshots.before, file: meta.snapshotFiles?.before }),
      after: result.snapshots.after === undefined ? undefined : dropUndefined({ name: result.snapshots.after, file: meta.snapshotFiles?.after }),
      comparison: meta.snapshotDiff === undefined ? undefined : summarizeSnapshotDiff(meta.snapshotDiff),
    }),
    history: describeHistory(meta.history, hide),
    hops: plan.hops?.map((h) => dropUndefined({ index: h.index, value: hide(h.value), description: hideOptional(h.description) })),
    limits: { outputLines: limits.lines, outputBytes: limits.bytes },
  });
}

function describeHistory(history: RunHistory | undefined, hide: (text: string) => string): RunHistoryReport | undefined {
  if (!history || (history.processes <= 1 && history.interruptions.length === 0 && history.decisions.length === 0)) return undefined;
  return {
    processes: Math.max(1, history.processes),
    interruptions: history.interruptions.map((i) =>
      dropUndefined({ at: toIso(i.at), reason: hide(i.reason), signal: i.signal, cutOff: i.cutOff.map((c) => ({ host: c.host, section: c.section, step: c.stepId })) }),
    ),
    decisions: history.decisions.map((d) => ({ at: toIso(d.at), host: d.host, section: d.section, step: d.stepId, decision: d.decision, by: d.by, reason: hide(d.reason) })),
  };
}

export function summarizeSnapshotDiff(diff: SnapshotDiff): SnapshotComparisonSummary {
  return {
    before: diff.before.name,
    after: diff.after.name,
    totals: { added: diff.totals.added, removed: diff.totals.removed, changed: diff.totals.changed },
    notCollected: [...diff.totals.notCollected],
    elements: Object.fromEntries(
      Object.entries(diff.elements).map(([type, d]) => [
        type,
        { status: d.status, before: d.counts.before, after: d.counts.after, added: d.counts.added, removed: d.counts.removed, changed: d.counts.changed },
      ]),
    ),
  };
}

/** Whether a report shows a run that got as far as changing hosts: one stopped by its pre-checks changed nothing. */
export function isAppliedReport(report: Pick<RunReport, 'hosts'>): boolean {
  return Object.values(report.hosts).some((host) => host.state !== 'skipped');
}

function placeHosts(plan: Plan): Map<string, { stage: string; batch: number }> {
  const placement = new Map<string, { stage: string; batch: number }>();
  for (const stage of plan.stages) {
    stage.batches.forEach((batch, index) => {
      for (const name of batch) placement.set(name, { stage: stage.name, batch: index });
    });
  }
  return placement;
}

function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

/** JSON has no undefined: optional fields are left out rather than written as null. */
function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
