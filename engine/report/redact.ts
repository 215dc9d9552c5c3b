import { REDACTED } from '../run/redact.js';
import type { Plan } from '../schema/plan.js';

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
 * The values a report must not show that the run's records may still hold: the passwords of the
 * `passwordEnv` variables the plan's hosts name. (The executor redacts secret captures itself, as
 * they are made; see engine/run/redact.ts.)
 */
export function collectSecrets(plan: Plan, env: Readonly<Record<string, string | undefined>>): string[] {
  const secrets: string[] = [];
  for (const host of Object.values(plan.hosts)) {
    const name = host.auth?.passwordEnv;
    const value = name === undefined ? undefined : env[name];
    if (value) secrets.push(value);
  }
  return normalizeSecrets(secrets);
}
