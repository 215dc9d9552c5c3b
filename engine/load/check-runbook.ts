import semver from 'semver';
import type { Runbook } from '../schema/runbook.js';
import { EXPECT_OPERATORS } from '../schema/vocabulary.js';
import { analyseTemplate, hasTemplate } from '../plan/template.js';
import { describeControlCharacter, findControlCharacter } from '../shared/control-characters.js';
import { ELEMENT_TYPES } from '../snapshot/element-types.js';
import { UserRegexError, compileUserRegex, findUserRegexProblem } from '../shared/user-regex.js';
import type { Diagnostic } from './diagnostic.js';
import { suggestName } from './suggest.js';
import type { PathSegment, YamlSource } from './yaml-source.js';

const SECTIONS = ['prechecks', 'steps', 'rollback'] as const;
const RESERVED_NAMES = new Set(['params', 'host', 'run', 'hop']);

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Rules the schema cannot express. Runs on documents that may also be schema-invalid,
 * so every access is defensive: all problems are reported at once.
 */
export function checkRunbookRules(source: YamlSource): Diagnostic[] {
  const doc = source.value;
  if (!isObject(doc)) return [];
  const out: Diagnostic[] = [];
  const params = isObject(doc.params) ? doc.params : {};
  const declared = Object.keys(params);

  // Set per step: whether it runs once per hop (only then does `{{hop.*}}` name something), and the
  // values captured inside the hops, which each hop has its own of and nothing after the path sees.
  let inHops = false;
  const hopCaptures = new Set<string>();
  const outerCaptures = new Set<string>();
  const checkTemplate = (text: unknown, path: PathSegment[], known: ReadonlySet<string>, own: readonly string[] = []) => {
    if (typeof text !== 'string' || !hasTemplate(text)) return;
    const analysis = analyseTemplate(text);
    for (const ref of analysis.refs) {
      // A broken `hops` is reported once, at `hops`, not again at every step of the path it meant.
      if (ref.scope === 'hop' && !inHops && !(isObject(doc.hops) && hopRange === undefined)) {
        out.push(source.diagnose('RB1243', `\`hop.${ref.name}\` names the hop of a step run once per hop${where(path)}, which is not one; use it in the steps from \`hops.firstStep\` to \`hops.lastStep\``, path));
      }
      if (ref.scope === 'capture' && !inHops && !known.has(ref.name) && hopCaptures.has(ref.name)) {
        out.push(source.diagnose('RB1244', `\`{{${ref.name}}}\` is captured inside the hops${where(path)}: each hop has its own value and none is kept after the path; capture it again after the hops`, path));
      }
    }
    for (const problem of analysis.problems) {
      const code = problem.kind === 'syntax' ? 'RB1204' : problem.kind === 'helper' ? 'RB1211' : 'RB1203';
      out.push(source.diagnose(code, `${problem.message}${where(path)}`, path));
    }
    for (const ref of analysis.refs) {
      if (ref.scope === 'params' && !declared.includes(ref.name.split('.')[0]!)) {
        const suggestion = suggestName(ref.name, declared);
        out.push(
          source.diagnose(
            'RB1202',
            `\`params.${ref.name}\` is not declared${where(path)}; ${suggestion ? `did you mean \`params.${suggestion}\`?` : 'declare it under `params`'}`,
            path,
          ),
        );
      }
      if (ref.scope === 'capture' && !known.has(ref.name) && own.includes(ref.name)) {
        out.push(
          source.diagnose(
            'RB1203',
            `\`{{${ref.name}}}\` is captured from this step's own output${where(path)}, so only its \`expect\` and \`until\` can use it; use it in a later step`,
            path,
          ),
        );
      } else if (ref.scope === 'capture' && !known.has(ref.name) && !(hopCaptures.has(ref.name) && !inHops)) {
        const suggestion = suggestName(ref.name, [...known]);
        out.push(
          source.diagnose(
            'RB1203',
            `\`{{${ref.name}}}\` is not captured by an earlier step${where(path)}; ${suggestion ? `did you mean \`${suggestion}\`?` : 'capture it in a precheck or an earlier step, or use params.* or host.*'}`,
            path,
          ),
        );
      }
    }
  };
  const where = (path: PathSegment[]) => describeStep(doc, path);

  const checkRegex = (pattern: unknown, path: PathSegment[]) => {
    if (typeof pattern !== 'string') return;
    const problem = findUserRegexProblem(pattern);
    if (problem) out.push(source.diagnose(problem.unsupported ? 'RB1214' : 'RB1205', problem.describe(where(path)), path));
  };

  for (const [name, param] of Object.entries(params)) {
    if (!isObject(param)) continue;
    checkRegex(param.pattern, ['params', name, 'pattern']);
    checkParamDefault(source, name, param, declared, out);
  }

  const hopRange = checkHops(source, doc, out);
  const ids = new Map<string, PathSegment[]>();
  const captured = new Set<string>();
  for (const section of SECTIONS) {
    asArray(doc[section]).forEach((step, index) => {
      if (!isObject(step)) return;
      const base: PathSegment[] = [section, index];
      const wasInHops = inHops;
      inHops = section === 'steps' && hopRange !== undefined && index >= hopRange.first && index <= hopRange.last;
      // Leaving the path: its captures are gone (those also made before it stay known).
      if (wasInHops && !inHops) for (const name of hopCaptures) if (!outerCaptures.has(name)) captured.delete(name);
      if (typeof step.id === 'string') {
        if (ids.has(step.id)) {
          const first = ids.get(step.id)!;
          const { line } = source.positionOf(first);
          out.push(source.diagnose('RB1201', `step id \`${step.id}\` is already used on line ${line}; step ids must be unique`, [...base, 'id']));
        } else ids.set(step.id, [...base, 'id']);
      }
      const ownCaptures = isObject(step.capture) ? Object.keys(step.capture) : [];
      // The step's own captures are known to its expectations, not to its command.
      for (const field of ['run', 'when', 'message', 'snapshot', 'note', 'remote', 'artifact', 'file'] as const) checkTemplate(step[field], [...base, field], captured, ownCaptures);
      if (isObject(step.reconnect)) checkTemplate(step.reconnect.check, [...base, 'reconnect', 'check'], captured, ownCaptures);
      // The probe runs before the step (on resume): it knows only the values captured before it.
      if (isObject(step.completedWhen)) {
        checkTemplate(step.completedWhen.run, [...base, 'completedWhen', 'run'], captured, ownCaptures);
        asArray(step.completedWhen.expect).forEach((item, i) => checkExpect(item, [...base, 'completedWhen', 'expect', i], captured));
      }
      const prompts = new Map<unknown, number>();
      asArray(step.answer).forEach((a, i) => {
        if (!isObject(a)) return;
        checkRegex(a.prompt, [...base, 'answer', i, 'prompt']);
        checkTemplate(a.send, [...base, 'answer', i, 'send'], captured);
        // Two rules matching the very same text are never more specific than each other: the prompt would always be ambiguous.
        const first = prompts.get(a.prompt);
        if (typeof a.prompt === 'string' && first !== undefined) {
          const path = [...base, 'answer', i, 'prompt'];
          out.push(source.diagnose('RB1231', `answer[${i}] has the same prompt as answer[${first}]${where(path)}, so neither could ever answer it; remove one`, path));
        } else prompts.set(a.prompt, i);
      });
      const afterCapture = new Set([...captured, ...ownCaptures]);
      // A pre-check's hint is rendered after the check ran: its own captures are known to it.
      if (section === 'prechecks') checkTemplate(step.hint, [...base, 'hint'], afterCapture);
      for (const list of ['expect', 'until'] as const) {
        asArray(step[list]).forEach((item, i) => checkExpect(item, [...base, list, i]));
      }
      function checkExpect(item: unknown, path: PathSegment[], known: ReadonlySet<string> = afterCapture) {
        if (!isObject(item)) return;
        const operators = EXPECT_OPERATORS.filter((op) => op in item);
        if (operators.length !== 1) {
          out.push(
            source.diagnose(
              'RB1206',
              `an expectation needs exactly one operator (${EXPECT_OPERATORS.join(', ')}), found ${operators.length === 0 ? 'none' : operators.join(' and ')}${where(path)}; split it into separate items`,
              path,
            ),
          );
        }
        for (const key of ['match', 'notMatch'] as const) {
          checkRegex(item[key], [...path, key]);
          checkTemplate(item[key], [...path, key], known);
        }
        checkTemplate(item.contains, [...path, 'contains'], known);
        if ('value' in item) checkExpectValue(item, path, known);
        if (isObject(item.json)) {
          checkRegex(item.json.matches, [...path, 'json', 'matches']);
          for (const key of ['equals', 'gte', 'lte'] as const) checkTemplate(item.json[key], [...path, 'json', key], known);
        }
        if (isObject(item.number)) checkTemplate(item.number.value, [...path, 'number', 'value'], known);
        if (isObject(item.semver)) {
          for (const key of ['value', 'gte', 'lt', 'sameMajorAs', 'sameMinorAs'] as const) {
            const value = item.semver[key];
            checkTemplate(value, [...path, 'semver', key], known);
            if (typeof value === 'string' && !hasTemplate(value) && !semver.valid(value)) {
              out.push(source.diagnose('RB1209', `\`${value}\` is not a semantic version like 1.2.3${where(path)}`, [...path, 'semver', key]));
            }
          }
        }
        if (isObject(item.snapshotDiff)) checkSnapshotDiff(item.snapshotDiff, [...path, 'snapshotDiff']);
      }
      function checkExpectValue(item: Loose, path: PathSegment[], known: ReadonlySet<string>) {
        checkTemplate(item.value, [...path, 'value'], known);
        const misfit = ['exitCode', 'json', 'number', 'semver', 'snapshotDiff', 'stream'].filter((key) => key in item);
        if (misfit.length === 0) return;
        out.push(
          source.diagnose(
            'RB1230',
            `\`value\` goes with \`match\`, \`notMatch\` or \`contains\`, not with ${misfit.map((k) => `\`${k}\``).join(' or ')}${where(path)}; ${misfit.includes('stream') ? 'drop `stream`: the value is tested, not an output stream' : 'test the text with `match`, `notMatch` or `contains` (`number` and `semver` take a `value` of their own)'}`,
            [...path, 'value'],
            'key',
          ),
        );
      }
      function checkSnapshotDiff(diff: Loose, path: PathSegment[]) {
        const lists: Array<[string, unknown[]]> = [
          ['noRemoved', asArray(diff.noRemoved)],
          ['noAdded', asArray(diff.noAdded)],
          ['maxChanged', isObject(diff.maxChanged) ? Object.keys(diff.maxChanged) : []],
        ];
        for (const [key, values] of lists) {
          values.forEach((element, i) => {
            if (typeof element === 'string' && !(ELEMENT_TYPES as readonly string[]).includes(element)) {
              const suggestion = suggestName(element, ELEMENT_TYPES);
              const at: PathSegment[] = key === 'maxChanged' ? [...path, key, element] : [...path, key, i];
              out.push(
                source.diagnose(
                  'RB1213',
                  `unknown snapshot element \`${element}\`${where(path)}; ${suggestion ? `did you mean \`${suggestion}\`?` : `use one of ${ELEMENT_TYPES.join(', ')}`}`,
                  at,
                  key === 'maxChanged' ? 'key' : 'value',
                ),
              );
            }
          });
        }
      }
      if (isObject(step.capture)) {
        for (const [name, capture] of Object.entries(step.capture)) {
          const path = [...base, 'capture', name];
          if (RESERVED_NAMES.has(name)) {
            out.push(source.diagnose('RB1203', `\`${name}\` is reserved for the template context; capture under another name${where(path)}`, path, 'key'));
          }
          if (!isObject(capture)) continue;
          const ways = ['regex', 'json'].filter((k) => k in capture);
          if (ways.length !== 1) {
            out.push(source.diagnose('RB1207', `capture \`${name}\` needs exactly one of \`regex\` or \`json\`${where(path)}`, path));
          }
          checkRegex(capture.regex, [...path, 'regex']);
        }
      }
      checkKindFields(source, step, base, out);
      ownCaptures.forEach((name) => {
        captured.add(name);
        (inHops ? hopCaptures : outerCaptures).add(name);
      });
    });
  }
  checkPreviousAttempts(source, doc, ids, out);
  return out;
}

/** A `previousAttempts` pre-check reads history instead of running a command, and names steps this runbook has. */
function checkPreviousAttempts(source: YamlSource, doc: Loose, ids: ReadonlyMap<string, PathSegment[]>, out: Diagnostic[]) {
  asArray(doc.prechecks).forEach((step, index) => {
    if (!isObject(step) || !isObject(step.previousAttempts)) return;
    const base: PathSegment[] = ['prechecks', index];
    if ('run' in step) out.push(source.diagnose('RB1251', 'a `previousAttempts` pre-check reads the committed run reports and runs no command; remove `run`', [...base, 'run'], 'key'));
    asArray(step.previousAttempts.steps).forEach((id, i) => {
      const at = ids.get(String(id));
      if (typeof id === 'string' && (at === undefined || at[0] === 'prechecks')) {
        out.push(source.diagnose('RB1251', `\`previousAttempts\` names \`${id}\`, which is not a step or rollback step of this runbook`, [...base, 'previousAttempts', 'steps', i]));
      }
    });
  });
}

/**
 * `hops`: both ends name steps under `steps`, in order; the list is known at plan time (params
 * only); the description names params and the hop. Returns the index range of the hop's steps.
 */
function checkHops(source: YamlSource, doc: Loose, out: Diagnostic[]): { first: number; last: number } | undefined {
  const hops = doc.hops;
  if (!isObject(hops)) return undefined;
  const ids = asArray(doc.steps).map((step) => (isObject(step) && typeof step.id === 'string' ? step.id : undefined));
  const known = ids.filter((id): id is string => id !== undefined);
  const declared = isObject(doc.params) ? Object.keys(doc.params) : [];
  const indexOf = (field: 'firstStep' | 'lastStep'): number | undefined => {
    const id = hops[field];
    if (typeof id !== 'string') return undefined;
    const index = ids.indexOf(id);
    if (index >= 0) return index;
    const suggestion = suggestName(id, known);
    out.push(source.diagnose('RB1240', `\`hops.${field}\` names step \`${id}\`, which is not under \`steps\`; ${suggestion ? `did you mean \`${suggestion}\`?` : `name one of ${known.join(', ')}`}`, ['hops', field]));
    return undefined;
  };
  const first = indexOf('firstStep');
  const last = indexOf('lastStep');
  if (first !== undefined && last !== undefined && last < first) {
    out.push(source.diagnose('RB1241', `\`hops.lastStep\` (\`${ids[last]}\`) comes before \`hops.firstStep\` (\`${ids[first]}\`) under \`steps\`; the hop runs the steps from the first to the last, in order`, ['hops', 'lastStep']));
  }
  const checkPlanTime = (text: unknown, field: 'over' | 'description', allowHop: boolean) => {
    if (typeof text !== 'string' || !hasTemplate(text)) return;
    const analysis = analyseTemplate(text);
    for (const problem of analysis.problems) {
      out.push(source.diagnose(problem.kind === 'syntax' ? 'RB1204' : problem.kind === 'helper' ? 'RB1211' : 'RB1203', `${problem.message} in \`hops.${field}\``, ['hops', field]));
    }
    for (const ref of analysis.refs) {
      if (ref.scope === 'params' && !declared.includes(ref.name.split('.')[0]!)) {
        const suggestion = suggestName(ref.name, declared);
        out.push(source.diagnose('RB1202', `\`params.${ref.name}\` is not declared in \`hops.${field}\`; ${suggestion ? `did you mean \`params.${suggestion}\`?` : 'declare it under `params`'}`, ['hops', field]));
      } else if (ref.scope !== 'params' && !(allowHop && ref.scope === 'hop')) {
        const name = ref.scope === 'capture' ? ref.name : `${ref.scope}.${ref.name}`;
        out.push(source.diagnose('RB1242', `\`hops.${field}\` is rendered at plan time, once for the whole run, so it may name only params${allowHop ? ' and `hop.*`' : ''}, not \`${name}\``, ['hops', field]));
      }
    }
  };
  checkPlanTime(hops.over, 'over', false);
  checkPlanTime(hops.description, 'description', true);
  asArray(hops.over).forEach((value, i) => {
    if (typeof value !== 'string') return;
    const control = findControlCharacter(value);
    if (control) out.push(source.diagnose('RB1245', `hop ${i + 1} of \`hops.over\` ${describeControlCharacter(value, control)}; a hop is one line of text without control characters`, ['hops', 'over', i]));
  });
  return first !== undefined && last !== undefined && last >= first ? { first, last } : undefined;
}

function checkParamDefault(source: YamlSource, name: string, param: Loose, declared: string[], out: Diagnostic[]) {
  const value = param.default;
  const path: PathSegment[] = ['params', name, 'default'];
  if (value === undefined) return;
  const control = typeof value === 'string' ? findControlCharacter(value) : undefined;
  if (control) {
    out.push(source.diagnose('RB1212', `the default of param \`${name}\` ${describeControlCharacter(value as string, control)}; a param is one line of text without control characters (a tab is allowed)`, path));
    return;
  }
  if (typeof value === 'string' && hasTemplate(value)) {
    const analysis = analyseTemplate(value);
    for (const problem of analysis.problems) out.push(source.diagnose('RB1204', `${problem.message} in param \`${name}\``, path));
    for (const ref of analysis.refs) {
      if (ref.scope !== 'params' || !declared.includes(ref.name) || ref.name === name) {
        out.push(
          source.diagnose(
            'RB1212',
            `the default of param \`${name}\` may refer only to other declared params, not \`${ref.scope === 'params' ? `params.${ref.name}` : ref.name}\``,
            path,
          ),
        );
      }
    }
    return;
  }
  const type = typeof param.type === 'string' ? param.type : 'string';
  const typeOk =
    type === 'integer' ? Number.isInteger(value) : type === 'number' ? typeof value === 'number' : typeof value === type;
  if (!typeOk) {
    out.push(source.diagnose('RB1212', `the default of param \`${name}\` must be ${type === 'integer' ? 'an' : 'a'} ${type}`, path));
    return;
  }
  if (typeof value === 'string' && typeof param.pattern === 'string') {
    try {
      if (!compileUserRegex(param.pattern).test(value)) {
        out.push(source.diagnose('RB1212', `the default \`${value}\` of param \`${name}\` does not match its pattern ${param.pattern}`, path));
      }
    } catch (error) {
      // An invalid pattern is reported by the regex rule.
      if (!(error instanceof UserRegexError)) throw error;
    }
  }
}

/** Fields that only make sense for some kinds; a misplaced one is almost always a mistake in the procedure. */
function checkKindFields(source: YamlSource, step: Loose, base: PathSegment[], out: Diagnostic[]) {
  const kind = typeof step.kind === 'string' ? step.kind : base[0] === 'prechecks' ? 'check' : 'command';
  const id = typeof step.id === 'string' ? `\`${step.id}\`` : String(Number(base[1]) + 1);
  const fail = (field: string, message: string) =>
    out.push(source.diagnose('RB1210', `step ${id}: ${message}`, field in step ? [...base, field] : base, field in step ? 'key' : 'value'));
  const needsRun = !['approval', 'snapshot', 'fetch', 'put'].includes(kind) && !('previousAttempts' in step);
  if (needsRun && typeof step.run !== 'string') fail('run', `a \`${kind}\` step needs \`run\`, the command to run`);
  checkTransferFields(source, step, base, kind, id, out);
  if (kind === 'approval' && 'run' in step) fail('run', 'an approval step runs no command; remove `run` and say what to approve in `message`');
  if (kind === 'approval' && typeof step.message !== 'string') fail('message', 'an approval step needs `message`, what the operator is asked');
  if (kind !== 'approval' && 'message' in step) fail('message', '`message` belongs to approval steps');
  if (kind !== 'reboot' && kind !== 'failover' && 'reconnect' in step) fail('reconnect', '`reconnect` belongs to reboot and failover steps');
  if (['check', 'verify', 'snapshot', 'wait', 'approval'].includes(kind) && 'completedWhen' in step) {
    fail('completedWhen', `\`completedWhen\` tells whether a changing step cut off by a crash completed; a \`${kind}\` step is simply run again`);
  }
  if (kind === 'snapshot' && base[0] !== 'steps') fail('kind', 'snapshot steps belong under `steps` (strategy.snapshot takes snapshots around the run)');
  if (kind !== 'snapshot' && ('profile' in step || 'snapshot' in step || 'note' in step)) {
    fail('profile' in step ? 'profile' : 'snapshot' in step ? 'snapshot' : 'note', '`profile`, `snapshot` and `note` belong to snapshot steps');
  }
  if ('interval' in step && !('until' in step)) fail('interval', '`interval` needs `until`, the condition to poll for');
  if (base[0] !== 'prechecks' && 'severity' in step && !['check', 'verify', 'wait'].includes(kind)) {
    out.push(
      source.diagnose(
        'RB1250',
        `step ${id}: \`severity\` is for pre-checks and read-only steps (check, verify, wait); a failed \`${kind}\` step must fail its host`,
        [...base, 'severity'],
        'key',
      ),
    );
  }
  if (base[0] !== 'prechecks' && 'hint' in step && !('severity' in step)) fail('hint', '`hint` goes with `severity` on a step (and on every pre-check)');
}

/**
 * A fetch or put moves a file over SFTP: it needs `remote`, a put exactly one source, and neither
 * runs a command; elsewhere these fields are mistakes.
 */
function checkTransferFields(source: YamlSource, step: Loose, base: PathSegment[], kind: string, id: string, out: Diagnostic[]) {
  // RB1246 for put steps (and `remote`, `file` elsewhere), RB1252 for fetch steps (and `artifact` elsewhere).
  const diagnose = (field: string, message: string) => {
    const code = kind === 'fetch' || (kind !== 'put' && field === 'artifact') ? 'RB1252' : 'RB1246';
    out.push(source.diagnose(code, `step ${id}: ${message}`, field in step ? [...base, field] : base, field in step ? 'key' : 'value'));
  };
  if (kind !== 'fetch' && kind !== 'put') {
    for (const field of ['remote', 'artifact', 'file']) if (field in step) diagnose(field, `\`${field}\` belongs to put steps (a file sent over SFTP) and fetch steps`);
    return;
  }
  if (kind === 'put' && base[0] === 'prechecks') diagnose('kind', 'a put step changes the host; it belongs under `steps`');
  if ('run' in step) diagnose('run', `a ${kind} step ${kind === 'put' ? 'sends' : 'copies'} a file over SFTP and runs no command; remove \`run\``);
  if (typeof step.remote !== 'string') diagnose('remote', `a ${kind} step needs \`remote\`, the absolute path of the file on the host`);
  if (kind === 'fetch' && 'file' in step) diagnose('file', 'a fetch saves into the run\'s artifacts; `file` (a repository file) is for put steps');
  if (kind === 'put' && !('artifact' in step) && !('file' in step)) {
    diagnose('file', 'a put step needs `file`, the repository file to send, or `artifact`, a file fetched earlier in the run');
  }
  if (kind === 'put' && 'artifact' in step && 'file' in step) diagnose('file', 'a put step sends one file: `artifact` (fetched earlier in the run) or `file` (in the repository), not both');
  for (const field of ['until', 'answer', 'capture', 'expect', 'reconnect'] as const) {
    if (field in step) diagnose(field, `\`${field}\` goes with a command; a ${kind} step succeeds when the file ${kind === 'put' ? 'reads back as it was sent' : 'is copied whole'}`);
  }
}

function describeStep(doc: Loose, path: PathSegment[]): string {
  const [section, index] = path;
  if (typeof section !== 'string' || typeof index !== 'number') return '';
  const step = asArray(doc[section])[index];
  const id = isObject(step) && typeof step.id === 'string' ? `\`${step.id}\`` : String(index + 1);
  const label = section === 'prechecks' ? 'precheck' : section === 'rollback' ? 'rollback step' : 'step';
  return ` in ${label} ${id}`;
}

/** Roles named by `strategy.order` and `on.role` that no targeted host of the inventory has. */
export function checkRolesAgainstInventory(
  source: YamlSource,
  runbook: Runbook,
  inventoryName: string,
  roles: ReadonlySet<string>,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (role: string, path: PathSegment[]) => {
    const suggestion = suggestName(role, [...roles]);
    out.push(
      source.diagnose(
        'RB1208',
        `role \`${role}\` is held by no targeted host of inventory \`${inventoryName}\`; ${suggestion ? `did you mean \`${suggestion}\`?` : `roles there: ${[...roles].join(', ') || 'none'}`}`,
        path,
      ),
    );
  };
  runbook.strategy?.order?.forEach((role, i) => {
    if (!roles.has(role)) report(role, ['strategy', 'order', i]);
  });
  /** Roles like none there: no typo but nodes this inventory does not have (an optional third HA node, say). */
  const optional = new Map<string, { steps: string[]; path: PathSegment[] }>();
  for (const section of SECTIONS) {
    runbook[section]?.forEach((step, i) => {
      const role = step.on?.role;
      if (role === undefined || roles.has(role)) return;
      const path = [section, i, 'on', 'role'];
      if (suggestName(role, [...roles]) !== undefined) report(role, path);
      else if (optional.has(role)) optional.get(role)!.steps.push(step.id);
      else optional.set(role, { steps: [step.id], path });
    });
  }
  for (const [role, { steps, path }] of optional) {
    const which = steps.length === 1 ? `step \`${steps[0]}\`` : `${steps.length} steps from \`${steps[0]}\` on`;
    const message = `role \`${role}\` is held by no targeted host of inventory \`${inventoryName}\` (roles there: ${[...roles].join(', ') || 'none'}): ${which} will not run with it`;
    out.push({ ...source.diagnose('RB1220', message, path), severity: 'warning' });
  }
  return out;
}
