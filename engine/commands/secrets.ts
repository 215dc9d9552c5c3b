import { createInputError } from '../errors.js';
import { MIN_SECRET_LENGTH, createRedactor } from '../run/redact.js';
import type { Plan } from '../schema/plan.js';

/**
 * Refuses (exit 2, before anything is written or run) a plan whose passwords could not be hidden or
 * whose params would show one: a password from `passwordEnv` shorter than MIN_SECRET_LENGTH, and a
 * param holding a password (raw, base64 or URL-encoded), since params are written to the plan file,
 * the plan Markdown and the report. Errors name the variable and the param, never the value.
 */
export function checkPlanSecrets(plan: Plan, env: Readonly<Record<string, string | undefined>>): void {
  const passwords = collectPasswordVariables(plan, env);
  for (const [variable, { value, hosts }] of passwords) {
    if (value.trim().length < MIN_SECRET_LENGTH) {
      throw createInputError(
        'RB2010',
        `the password in $${variable} (passwordEnv of ${describeHosts(hosts)}) is shorter than ${MIN_SECRET_LENGTH} characters: too short to be hidden in outputs, journals and reports; use a longer password`,
      );
    }
  }
  for (const [variable, { value, hosts }] of passwords) {
    const redactor = createRedactor([value]);
    for (const [name, param] of Object.entries(plan.params)) {
      if (redactor.reveals(String(param))) {
        throw createInputError(
          'RB2008',
          `param \`${name}\` holds the password in $${variable} (passwordEnv of ${describeHosts(hosts)}); params are written to the plan and the report: pass secrets through passwordEnv or a capture marked \`secret: true\`, never as a param`,
        );
      }
    }
  }
}

function collectPasswordVariables(plan: Plan, env: Readonly<Record<string, string | undefined>>): Map<string, { value: string; hosts: string[] }> {
  const variables = new Map<string, { value: string; hosts: string[] }>();
  for (const [host, planned] of Object.entries(plan.hosts)) {
    const variable = planned.auth?.passwordEnv;
    const value = variable === undefined ? undefined : env[variable];
    if (variable === undefined || !value) continue;
    const known = variables.get(variable);
    if (known) known.hosts.push(host);
    else variables.set(variable, { value, hosts: [host] });
  }
  return variables;
}

function describeHosts(hosts: readonly string[]): string {
  const named = hosts.slice(0, 3).map((h) => `\`${h}\``).join(', ');
  const more = hosts.length > 3 ? ` and ${hosts.length - 3} more` : '';
  return `${hosts.length === 1 ? 'host' : 'hosts'} ${named}${more}`;
}
