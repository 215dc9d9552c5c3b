import type { RunEvent, StepRecord } from './events.js';

export const REDACTED = '***';
/** Shorter values would redact ordinary words and digits; a secret is never that short in practice. */
const MIN_SECRET_LENGTH = 4;

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

/** Replaces each of `secrets` (normalized: longest first, so one holding another is hidden whole) by `***`. */
export function replaceSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** Replaces secret values (passwords, secret captures) wherever they would be shown or stored. */
export function createRedactor(initial: readonly string[]) {
  let secrets: string[] = [];
  const add = (value: string) => {
    if (value.length >= MIN_SECRET_LENGTH) secrets = normalizeSecrets([...secrets, value]);
  };
  initial.forEach(add);
  const redact = (text: string): string => replaceSecrets(text, secrets);
  const redactOptional = (text: string | undefined) => (text === undefined ? undefined : redact(text));
  const redactRecord = (record: StepRecord): StepRecord =>
    secrets.length === 0
      ? record
      : { ...record, stdout: redact(record.stdout), stderr: redact(record.stderr), message: redactOptional(record.message), command: redactOptional(record.command) };
  const redactEvent = (event: RunEvent): RunEvent => {
    if (secrets.length === 0) return event;
    switch (event.type) {
      case 'output':
        return { ...event, line: redact(event.line) };
      case 'step.started':
        return { ...event, command: redactOptional(event.command) };
      case 'step.retried':
        return { ...event, reason: redact(event.reason) };
      case 'step.finished':
        return { ...event, record: redactRecord(event.record) };
      case 'host.finished':
      case 'run.finished':
      case 'phase.finished':
        return { ...event, message: redactOptional(event.message) };
      case 'step.decided':
      case 'run.interrupted':
        return { ...event, reason: redact(event.reason) };
      default:
        return event;
    }
  };
  return { add, redact, redactRecord, redactEvent };
}
