import { normalizeSecrets, replaceSecrets } from '../run/redact.js';
import type { Plan } from '../schema/plan.js';

/** Replaces every occurrence of each secret value, in its raw, base64 and URL-encoded forms, by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  return replaceSecrets(text, secrets);
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
