import { captureValues } from '../run/expectations.js';
import type { RunResult } from '../run/execute-plan.js';
import type { StepRecord, StepSection } from '../run/events.js';
import type { Plan } from '../schema/plan.js';
import type { Capture } from '../schema/runbook.js';

export const REDACTED = '***';

/** Replaces every occurrence of each secret value by `***`; longer secrets first, so one holding another is still hidden whole. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of normalizeSecrets(secrets)) out = out.split(secret).join(REDACTED);
  return out;
}

/** Distinct non-empty values, longest first; a value read from a file often carries a trailing newline, so its trimmed form counts too. */
export function normalizeSecrets(secrets: readonly string[]): string[] {
  const values = new Set<string>();
  for (const secret of secrets) {
    if (secret !== '') values.add(secret);
    const trimmed = secret.trim();
    if (trimmed !== '') values.add(trimmed);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

/**
 * The values a report must not show: passwords of the `passwordEnv` variables the plan's hosts name,
 * and values captured by captures marked `secret: true`. The executor keeps captured values in
 * memory only, so they are captured again from the outputs the step records hold.
 */
export function collectSecrets(plan: Plan, result: RunResult, env: Readonly<Record<string, string | undefined>>): string[] {
  const secrets: string[] = [];
  for (const host of Object.values(plan.hosts)) {
    const name = host.auth?.passwordEnv;
    const value = name === undefined ? undefined : env[name];
    if (value) secrets.push(value);
  }
  const secretCaptures: Record<StepSection, Map<string, Record<string, Capture>>> = {
    precheck: indexSecretCaptures(plan.runbook.prechecks),
    step: indexSecretCaptures(plan.runbook.steps),
    rollback: indexSecretCaptures(plan.runbook.rollback),
  };
  for (const host of Object.values(result.hosts)) {
    for (const record of [...host.prechecks, ...host.steps, ...host.rollback]) {
      secrets.push(...recaptureSecrets(record, secretCaptures[record.section].get(record.id)));
    }
  }
  return normalizeSecrets(secrets);
}

function indexSecretCaptures(steps: ReadonlyArray<{ id: string; capture?: Record<string, Capture> }>): Map<string, Record<string, Capture>> {
  const index = new Map<string, Record<string, Capture>>();
  for (const step of steps) {
    const secret = Object.entries(step.capture ?? {}).filter(([, capture]) => capture.secret === true);
    if (secret.length > 0) index.set(step.id, Object.fromEntries(secret));
  }
  return index;
}

function recaptureSecrets(record: StepRecord, captures: Record<string, Capture> | undefined): string[] {
  if (!captures) return [];
  const wanted = Object.fromEntries(Object.entries(captures).filter(([name]) => record.captured.includes(name)));
  if (Object.keys(wanted).length === 0) return [];
  const { values } = captureValues(wanted, { stdout: record.stdout, stderr: record.stderr, exitCode: record.exitCode, signal: null, durationMs: 0, timedOut: false });
  return Object.values(values);
}
