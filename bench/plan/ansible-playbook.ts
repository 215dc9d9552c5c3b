// The Ansible equivalent of a runbook, for the baseline of the planner benchmark: one play per stage
// (`serial` = batch size), the steps as shell tasks with `register`, `failed_when`, `until`/`retries`,
// and the rollback in a `block`/`rescue`. Only meant to be listed (`--list-hosts --list-tasks`), never run.
import { stringify } from 'yaml';
import type { ParamValue } from '../../engine/plan/params.js';
import { parseDuration } from '../../engine/run/duration.js';
import type { Expect, HostSelector, Precheck, Runbook, Step } from '../../engine/schema/runbook.js';

type Task = Record<string, unknown>;

/** A playbook listing the same work as the runbook on an inventory whose groups are the roles and which has `target` as a group. */
export function renderAnsiblePlaybook(runbook: Runbook, params: Record<string, ParamValue>): string {
  const strategy = runbook.strategy ?? {};
  const target = runbook.targets.group ?? 'all';
  const plays = (strategy.order ?? []).map((role) => {
    const steps = runbook.steps.flatMap((step) => renderStep(step, 'step'));
    const rollback = (runbook.rollback ?? []).flatMap((step) => renderStep(step, 'rollback'));
    const upgrade: Task = { name: `${runbook.metadata.name}: steps`, block: steps };
    if (strategy.rollbackOnFailure && rollback.length > 0) {
      upgrade.rescue = [...rollback, { name: 'rolled back: fail this host', 'ansible.builtin.fail': { msg: 'the upgrade failed and was rolled back' } }];
    }
    return {
      name: `${runbook.metadata.name} ${runbook.metadata.version}: ${role}`,
      hosts: `${target}:&${role}`,
      serial: strategy.batchSize ?? 1,
      gather_facts: false,
      ...(strategy.maxFailures === undefined || strategy.maxFailures === 0 ? { any_errors_fatal: true } : {}),
      vars: { ...params, run_id: "{{ lookup('ansible.builtin.pipe', 'date +%Y%m%dT%H%M%S') }}" },
      pre_tasks: (runbook.prechecks ?? []).flatMap((check) => renderStep(check, 'precheck')),
      tasks: [upgrade],
    };
  });
  return stringify(plays, { lineWidth: 0, aliasDuplicateObjects: false });
}

function renderStep(step: Step | Precheck, section: 'precheck' | 'step' | 'rollback'): Task[] {
  const result = `r_${step.id.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const kind = step.kind ?? (section === 'precheck' ? 'check' : 'command');
  const task: Task = { name: `${section} ${step.id}${step.description ? `: ${step.description}` : ''}` };
  const conditions = [...selectorConditions(step.on), ...(step.when ? [toJinjaCondition(step.when)] : [])];

  if (kind === 'approval') {
    task['ansible.builtin.pause'] = { prompt: toJinjaText(step.message ?? `approve ${step.id}`) };
  } else if (step.answer && step.run) {
    task['ansible.builtin.expect'] = {
      command: `/bin/sh -c ${toJinjaText(quoteForShell(step.run))}`,
      responses: Object.fromEntries(step.answer.map((a) => [a.prompt, a.send])),
    };
  } else if (step.run) {
    task['ansible.builtin.shell'] = toJinjaText(step.run);
  } else {
    task['ansible.builtin.meta'] = 'noop';
  }
  task.register = result;
  if (conditions.length > 0) task.when = conditions;
  const captures = Object.entries(step.capture ?? {});
  // Expectations over captured values can only be checked after the captures: an assert task, as Ansible users write it.
  if (step.expect?.length && captures.length === 0) task.failed_when = `not (${step.expect.map((e) => holds(e, result)).join(' and ')})`;
  if (step.until?.length) {
    const interval = (parseDuration(step.interval) ?? 10_000) / 1000;
    task.until = step.until.map((e) => holds(e, result)).join(' and ');
    task.retries = Math.max(1, Math.ceil((parseDuration(step.timeout) ?? 300_000) / 1000 / interval));
    task.delay = interval;
  } else {
    if (step.timeout !== undefined) task.timeout = Math.ceil(parseDuration(step.timeout)! / 1000);
    if (step.retries) {
      task.retries = step.retries;
      task.delay = Math.ceil((parseDuration(step.backoff) ?? 5_000) / 1000);
      task.until = `${result} is succeeded`;
    }
  }
  if (kind === 'check' || kind === 'verify' || kind === 'wait' || kind === 'snapshot') task.changed_when = false;
  if ((section === 'precheck' && (step as Precheck).severity === 'warning') || step.onFailure === 'continue') task.ignore_errors = true;
  if (kind === 'reboot') {
    task.async = 1;
    task.poll = 0;
  }

  const tasks: Task[] = [task];
  const when = conditions.length ? { when: conditions } : {};
  for (const [name, capture] of captures) {
    const output = `${result}.${capture.stream === 'stderr' ? 'stderr' : 'stdout'}`;
    const value = capture.json
      ? `(${output} | from_json)${jsonPath(capture.json)}`
      : `${output} | regex_search(${jinjaString(capture.regex ?? '.*')}${/\((?!\?)/.test(capture.regex ?? '') ? ", '\\\\1') | first" : ')'} | default('')`;
    tasks.push({ name: `capture ${name}`, 'ansible.builtin.set_fact': { [name]: `{{ ${value} }}` }, ...when });
  }
  if (step.expect?.length && captures.length > 0) {
    tasks.push({
      name: `${section} ${step.id}: expect`,
      'ansible.builtin.assert': {
        that: step.expect.map((e) => holds(e, result)),
        ...('hint' in step && step.hint ? { fail_msg: step.hint } : {}),
      },
      ...when,
      ...(task.ignore_errors ? { ignore_errors: true } : {}),
    });
  }
  if (kind === 'reboot') {
    const reconnect = step.reconnect ?? {};
    tasks.push({
      name: `${section} ${step.id}: wait for the host to come back`,
      'ansible.builtin.wait_for_connection': {
        delay: (parseDuration(reconnect.delay) ?? 0) / 1000,
        sleep: (parseDuration(reconnect.interval) ?? 5_000) / 1000,
        timeout: (parseDuration(reconnect.timeout) ?? 600_000) / 1000,
      },
      ...when,
    });
    if (reconnect.check) tasks.push({ name: `${section} ${step.id}: check`, 'ansible.builtin.shell': toJinjaText(reconnect.check), changed_when: false });
  }
  return tasks;
}

function selectorConditions(selector: HostSelector | undefined): string[] {
  if (!selector) return [];
  const out: string[] = [];
  if (selector.role !== undefined) out.push(`${jinjaString(selector.role)} in group_names`);
  if (selector.hosts !== undefined) out.push(`inventory_hostname in [${selector.hosts.map(jinjaString).join(', ')}]`);
  for (const [key, value] of Object.entries(selector.labels ?? {})) out.push(`${hostVar(key)} == ${jinjaString(value)}`);
  return out;
}

/** A Jinja expression that is true when the expectation holds for the registered result. */
function holds(expect: Expect, result: string): string {
  const output = `${result}.${expect.stream === 'stderr' ? 'stderr' : 'stdout'}`;
  if (expect.exitCode !== undefined) {
    return Array.isArray(expect.exitCode) ? `${result}.rc in [${expect.exitCode.join(', ')}]` : `${result}.rc == ${expect.exitCode}`;
  }
  if (expect.match !== undefined) {
    return expect.everyLine
      ? `(${output}_lines | reject('equalto', '') | reject('search', ${jinjaString(expect.match)}) | list | length == 0)`
      : `${output} is search(${jinjaString(expect.match)}, multiline=True)`;
  }
  if (expect.notMatch !== undefined) {
    return expect.everyLine
      ? `(${output}_lines | select('search', ${jinjaString(expect.notMatch)}) | list | length == 0)`
      : `${output} is not search(${jinjaString(expect.notMatch)}, multiline=True)`;
  }
  if (expect.contains !== undefined) return `(${toJinjaExpression(expect.contains)}) in ${output}`;
  if (expect.json) {
    const { path, equals, in: oneOf, matches, gte, lte } = expect.json;
    const value = `(${output} | from_json)${jsonPath(path)}`;
    if (equals !== undefined) return `${value} == ${jinjaLiteral(equals)}`;
    if (oneOf !== undefined) return `${value} in [${oneOf.map(jinjaLiteral).join(', ')}]`;
    if (matches !== undefined) return `${value} is search(${jinjaString(matches)})`;
    return [gte !== undefined && `${value} | float >= ${Number(gte)}`, lte !== undefined && `${value} | float <= ${Number(lte)}`].filter(Boolean).join(' and ') || 'true';
  }
  if (expect.number) {
    const value = `((${expect.number.value === undefined ? output : toJinjaExpression(expect.number.value)}) | float)`;
    const { gte, lte, between } = expect.number;
    const parts = [
      gte !== undefined && `${value} >= ${gte}`,
      lte !== undefined && `${value} <= ${lte}`,
      between !== undefined && `${value} >= ${between[0]} and ${value} <= ${between[1]}`,
    ].filter(Boolean);
    return parts.join(' and ') || 'true';
  }
  if (expect.semver) {
    const value = `(${toJinjaExpression(expect.semver.value)})`;
    const { gte, lt, sameMajorAs, sameMinorAs } = expect.semver;
    const part = (n: number, v: string) => `${v}.split('.')[:${n}]`;
    const parts = [
      gte !== undefined && `${value} is version(${toJinjaExpression(gte)}, '>=')`,
      lt !== undefined && `${value} is version(${toJinjaExpression(lt)}, '<')`,
      sameMajorAs !== undefined && `${part(1, value)} == ${part(1, `(${toJinjaExpression(sameMajorAs)})`)}`,
      sameMinorAs !== undefined && `${part(2, value)} == ${part(2, `(${toJinjaExpression(sameMinorAs)})`)}`,
    ].filter(Boolean);
    return parts.join(' and ') || 'true';
  }
  // A snapshot comparison has no Ansible counterpart; it is the engine's own.
  return 'true';
}

const MUSTACHE = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** A Handlebars template as text with Jinja placeholders. */
function toJinjaText(template: string): string {
  return template.replace(MUSTACHE, (_, inner: string) => `{{ ${translateExpression(inner)} }}`);
}

/** A Handlebars template as one Jinja string expression (literal parts joined with `~`). */
function toJinjaExpression(template: string): string {
  const parts: string[] = [];
  let last = 0;
  for (const match of template.matchAll(MUSTACHE)) {
    if (match.index > last) parts.push(jinjaString(template.slice(last, match.index)));
    parts.push(`(${translateExpression(match[1]!)})`);
    last = match.index + match[0].length;
  }
  if (last < template.length || parts.length === 0) parts.push(jinjaString(template.slice(last)));
  return parts.join(' ~ ');
}

function toJinjaCondition(template: string): string {
  const single = /^\s*\{\{\s*([^{}]*?)\s*\}\}\s*$/.exec(template);
  return single ? translateExpression(single[1]!) : `(${toJinjaExpression(template)}) | bool`;
}

const VERSION_TESTS: Record<string, string> = { semverLt: '<', semverLte: '<=', semverGt: '>', semverGte: '>=' };

/** One mustache: a path, or a helper call over paths and literals (no sub-expressions in the runbooks benchmarked). */
function translateExpression(inner: string): string {
  const tokens = inner.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
  const [head, ...args] = tokens.map(translateToken);
  const name = tokens[0] ?? '';
  if (args.length === 0) return head ?? "''";
  if (name === 'quote') return `${args[0]} | quote`;
  if (name === 'default') return `${args[0]} | default(${args[1]}, true)`;
  if (name === 'semverMajor') return `${args[0]}.split('.')[0] | int`;
  if (name === 'semverMinor') return `${args[0]}.split('.')[1] | int`;
  if (name in VERSION_TESTS) return `${args[0]} is version(${args[1]}, '${VERSION_TESTS[name]}')`;
  if (name === 'eq') return `${args[0]} | string == ${args[1]} | string`;
  if (name === 'ne') return `${args[0]} | string != ${args[1]} | string`;
  if (name === 'and' || name === 'or') return args.map((a) => `(${a})`).join(` ${name} `);
  if (name === 'not') return `not ${args[0]}`;
  return `${name}(${args.join(', ')})`;
}

const HOST_VARS: Record<string, string> = {
  name: 'inventory_hostname',
  address: 'ansible_host',
  port: 'ansible_port | default(22)',
  user: 'ansible_user',
  role: 'role',
  platform: 'platform',
};

function translateToken(token: string): string {
  if (/^["']/.test(token)) return jinjaString(token.slice(1, -1));
  if (/^-?\d+(\.\d+)?$/.test(token) || token === 'true' || token === 'false') return token;
  const [head, ...rest] = token.split('.');
  if (head === 'params') return rest.join('_');
  if (head === 'run') return 'run_id';
  if (head === 'host') return rest[0] === 'labels' ? hostVar(rest.slice(1).join('.')) : (HOST_VARS[rest[0] ?? ''] ?? 'inventory_hostname');
  return token;
}

/** Inventory labels are host vars, camelCase turned to snake_case as Ansible inventories spell them. */
function hostVar(label: string): string {
  return label.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, '_');
}

function jsonPath(path: string): string {
  return path
    .split('.')
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `[${jinjaString(part)}]`))
    .join('');
}

function jinjaString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function jinjaLiteral(value: string | number | boolean | null): string {
  if (value === null) return 'none';
  if (typeof value === 'string') return jinjaString(value);
  return typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value);
}

function quoteForShell(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
