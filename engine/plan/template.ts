import Handlebars from 'handlebars';
import semver from 'semver';
import { showEscaped } from '../shared/control-characters.js';
import { compareLooseVersions, parseLooseVersion } from '../shared/versions.js';

/** Characters a value may hold to be interpolated bare into a shell command; anything else needs `{{quote x}}`. */
const SHELL_SAFE = /^[A-Za-z0-9_./:=@%+,-]*$/;

export const HOST_FIELDS = ['name', 'address', 'port', 'user', 'role', 'platform', 'labels'] as const;
export const RUN_FIELDS = ['id'] as const;
/** `{{hop.value}}`, `{{hop.index}}`, `{{hop.count}}`: the hop a step of `hops` runs in. */
export const HOP_FIELDS = ['value', 'index', 'count'] as const;

/** Shell-quotes a value for POSIX sh: bare when it is already safe, else single-quoted. */
export function quoteShell(value: unknown): string {
  const text = value === undefined || value === null ? '' : String(value);
  if (text !== '' && SHELL_SAFE.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function isShellSafe(value: string): boolean {
  return SHELL_SAFE.test(value);
}

const toVersion = (v: unknown) => semver.coerce(String(v))?.version ?? '0.0.0';
const ZERO = parseLooseVersion('0.0.0')!;
const compareVersions = (a: unknown, b: unknown) => compareLooseVersions(parseLooseVersion(String(a)) ?? ZERO, parseLooseVersion(String(b)) ?? ZERO);

/** A value known only at run time (a capture, the run id): renders as a visible `{{placeholder}}` in plans. */
export class RuntimeValue {
  constructor(readonly expression: string) {}
  toString(): string {
    return `{{${this.expression}}}`;
  }
}

const describeArg = (value: unknown): string =>
  value instanceof RuntimeValue ? (value.expression.includes(' ') ? `(${value.expression})` : value.expression) : JSON.stringify(value);

// Handlebars passes its options object last; helpers drop it. A helper given a run-time value stays a placeholder.
type HelperArgs = unknown[];
function defineHelper(name: string, body: (...values: unknown[]) => unknown) {
  return (...all: HelperArgs) => {
    const values = all.slice(0, -1);
    if (values.some((v) => v instanceof RuntimeValue)) return new RuntimeValue(`${name} ${values.map(describeArg).join(' ')}`);
    return body(...values);
  };
}

/** The helpers a template may call, besides the built-in `if` and `unless`. */
export const TEMPLATE_HELPERS = {
  quote: defineHelper('quote', (value) => quoteShell(value)),
  default: defineHelper('default', (value, fallback) => (value === undefined || value === null || value === '' ? fallback : value)),
  semverMajor: defineHelper('semverMajor', (v) => semver.major(toVersion(v))),
  semverMinor: defineHelper('semverMinor', (v) => semver.minor(toVersion(v))),
  semverLt: defineHelper('semverLt', (a, b) => compareVersions(a, b) < 0),
  semverLte: defineHelper('semverLte', (a, b) => compareVersions(a, b) <= 0),
  semverGt: defineHelper('semverGt', (a, b) => compareVersions(a, b) > 0),
  semverGte: defineHelper('semverGte', (a, b) => compareVersions(a, b) >= 0),
  eq: defineHelper('eq', (a, b) => String(a) === String(b)),
  ne: defineHelper('ne', (a, b) => String(a) !== String(b)),
  and: defineHelper('and', (...values) => values.every(Boolean)),
  or: defineHelper('or', (...values) => values.some(Boolean)),
  not: defineHelper('not', (value) => !value),
  escapeRegex: defineHelper('escapeRegex', (value) => String(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
} as const;

/** Helpers whose result holds the text of an argument: what they return is as unsafe as what they are given. */
const PASS_THROUGH_HELPERS = new Set<string>(['default', 'escapeRegex']);

const BLOCK_HELPERS = ['if', 'unless'] as const;
const ALLOWED_HELPERS = new Set<string>([...Object.keys(TEMPLATE_HELPERS), ...BLOCK_HELPERS]);

const handlebars = Handlebars.create();
for (const [name, helper] of Object.entries(TEMPLATE_HELPERS)) handlebars.registerHelper(name, helper);
// A block whose condition is known only at run time shows both branches in a plan, undecided.
for (const name of BLOCK_HELPERS) {
  const builtin = handlebars.helpers[name] as Handlebars.HelperDelegate;
  handlebars.registerHelper(name, function (this: unknown, condition: unknown, options: Handlebars.HelperOptions) {
    if (!(condition instanceof RuntimeValue)) return builtin.call(this, condition, options);
    const otherwise = options.inverse(this);
    return `{{#${name} ${describeArg(condition)}}}${options.fn(this)}${otherwise ? `{{else}}${otherwise}` : ''}{{/${name}}}`;
  });
}

export type TemplateRef =
  | { scope: 'params'; name: string; bare: boolean }
  | { scope: 'host'; name: string; bare: boolean }
  | { scope: 'run'; name: string; bare: boolean }
  | { scope: 'hop'; name: string; bare: boolean }
  | { scope: 'capture'; name: string; bare: boolean };

export interface TemplateProblem {
  kind: 'syntax' | 'helper' | 'variable';
  message: string;
}

export interface TemplateAnalysis {
  refs: TemplateRef[];
  problems: TemplateProblem[];
}

type AstNode = hbs.AST.Node & Record<string, unknown>;

/** Parses a template and lists what it refers to, without rendering it. */
export function analyseTemplate(source: string): TemplateAnalysis {
  let program: hbs.AST.Program;
  try {
    program = handlebars.parse(source);
  } catch (error) {
    return { refs: [], problems: [{ kind: 'syntax', message: firstLine((error as Error).message) }] };
  }
  const refs: TemplateRef[] = [];
  const problems: TemplateProblem[] = [];

  const visitPath = (path: hbs.AST.PathExpression, bare: boolean) => {
    if (path.data || path.depth > 0 || path.parts.length === 0 || path.original.startsWith('this')) {
      problems.push({ kind: 'variable', message: `\`${path.original}\` is not allowed: use params.*, host.* or a captured name` });
      return;
    }
    const [head, ...rest] = path.parts as [string, ...string[]];
    if (head === 'params' || head === 'host' || head === 'run' || head === 'hop') {
      const name = rest.join('.');
      const fields: readonly string[] = head === 'host' ? HOST_FIELDS : head === 'run' ? RUN_FIELDS : head === 'hop' ? HOP_FIELDS : [];
      if (!name || (head !== 'params' && !fields.includes(rest[0]!))) {
        problems.push({
          kind: 'variable',
          message: `\`${path.original}\` is not a known field; ${head} has ${head === 'params' ? 'the declared params' : fields.join(', ')}`,
        });
        return;
      }
      refs.push({ scope: head, name, bare });
      return;
    }
    if (rest.length > 0) {
      problems.push({ kind: 'variable', message: `\`${path.original}\`: a captured value has no fields; capture the field itself` });
      return;
    }
    refs.push({ scope: 'capture', name: head, bare });
  };

  // `bare`: the value reaches the output unquoted, as in `{{x}}` or `{{default x "y"}}`.
  const visitExpression = (node: hbs.AST.Expression, bare: boolean) => {
    if (node.type === 'PathExpression') visitPath(node as hbs.AST.PathExpression, bare);
    else if (node.type === 'SubExpression') visitCall(node as unknown as AstNode, bare);
  };

  const visitCall = (node: AstNode, outputBare: boolean) => {
    const path = node.path as hbs.AST.PathExpression;
    const params = (node.params as hbs.AST.Expression[]) ?? [];
    const hash = node.hash as hbs.AST.Hash | undefined;
    const isHelperCall = params.length > 0 || (hash?.pairs.length ?? 0) > 0 || node.type === 'BlockStatement' || node.type === 'SubExpression';
    if (path.type !== 'PathExpression') return;
    if (isHelperCall) {
      if (!ALLOWED_HELPERS.has(path.original)) {
        problems.push({
          kind: 'helper',
          message: `helper \`${path.original}\` is not available; use one of ${[...ALLOWED_HELPERS].join(', ')}`,
        });
      }
      const argumentsBare = outputBare && PASS_THROUGH_HELPERS.has(path.original);
      params.forEach((param) => visitExpression(param, argumentsBare));
      hash?.pairs.forEach((pair) => visitExpression(pair.value, argumentsBare));
    } else if (!ALLOWED_HELPERS.has(path.original)) {
      // A mustache with no arguments interpolates its value as is: the shell-safety check applies.
      visitPath(path, outputBare);
    }
  };

  const visitProgram = (p: hbs.AST.Program | undefined) => {
    for (const statement of p?.body ?? []) {
      const node = statement as unknown as AstNode;
      if (node.type === 'MustacheStatement') visitCall(node, true);
      else if (node.type === 'BlockStatement') {
        visitCall(node, false);
        visitProgram(node.program as hbs.AST.Program);
        visitProgram(node.inverse as hbs.AST.Program | undefined);
      } else if (node.type === 'PartialStatement' || node.type === 'PartialBlockStatement' || node.type === 'DecoratorBlock' || node.type === 'Decorator') {
        problems.push({ kind: 'helper', message: 'partials and decorators are not available in runbook templates' });
      }
    }
  };
  visitProgram(program);
  return { refs, problems };
}

export function hasTemplate(source: string): boolean {
  return source.includes('{{');
}

export interface TemplateContext {
  params: Record<string, unknown>;
  host: Record<string, unknown>;
  run: Record<string, unknown>;
  captures: Record<string, unknown>;
  /** In a step of `hops`: the hop it runs in. */
  hop?: Record<string, unknown>;
}

/** A template refers to a value that is not there (a capture its step never made). */
export class MissingValueError extends Error {
  constructor(readonly variable: string) {
    super(`\`{{${variable}}}\` has no value: the step that captures it did not run or captured nothing`);
  }
}

/** A bare `{{x}}` in a command would interpolate shell metacharacters. */
export class UnsafeValueError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string,
  ) {
    super(
      `\`{{${variable}}}\` holds shell metacharacters (${JSON.stringify(value)}); write \`{{quote ${variable}}}\` to pass it as one quoted argument, or change the value`,
    );
  }
}

/** A command would hold a NUL, which no process argument (nor a remote shell) can carry: quoting cannot help. */
export class NulInCommandError extends UnsafeValueError {
  constructor(variable: string | undefined, value: string) {
    super(variable ?? '', value);
    this.message =
      variable === undefined
        ? 'the command holds a NUL character (U+0000), which no command can carry; remove it'
        : `\`{{${variable}}}\` holds a NUL character (U+0000 in ${showEscaped(value)}), which no command can carry, quoted or not; change the value`;
  }
}

/** Own properties only: `{{params.constructor}}` must not find Object's constructor. */
function lookup(context: TemplateContext, ref: TemplateRef): unknown {
  const root: unknown = ref.scope === 'capture' ? context.captures : ref.scope === 'hop' ? context.hop : context[ref.scope];
  let value: unknown = root;
  for (const part of ref.scope === 'capture' ? [ref.name] : ref.name.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * What Handlebars renders from: objects without a prototype, holding only the context's own
 * properties, so a name like `constructor` or `toString` is either the value given or nothing
 * (Handlebars' own guard against prototype access would also print a warning on the console).
 */
function toTemplateData(context: TemplateContext): Record<string, unknown> {
  const data: Record<string, unknown> = Object.create(null);
  Object.assign(data, withoutPrototype(context.captures));
  data.params = withoutPrototype(context.params);
  data.host = withoutPrototype(context.host);
  data.run = withoutPrototype(context.run);
  if (context.hop !== undefined) data.hop = withoutPrototype(context.hop);
  return data;
}

function withoutPrototype(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof RuntimeValue) return value;
  if (Object.getPrototypeOf(value) === null) return value;
  const copy: Record<string, unknown> = Object.create(null);
  for (const [key, item] of Object.entries(value)) copy[key] = withoutPrototype(item);
  return copy;
}

// Plans render the same few templates for thousands of hosts: parse and compile each once.
const preparedTemplates = new Map<string, { analysis: TemplateAnalysis; template: HandlebarsTemplateDelegate }>();

function prepareTemplate(source: string) {
  let prepared = preparedTemplates.get(source);
  if (!prepared) {
    prepared = { analysis: analyseTemplate(source), template: handlebars.compile(source, { noEscape: true }) };
    preparedTemplates.set(source, prepared);
  }
  return prepared;
}

/** `analyseTemplate`, parsed once per distinct source; the result is shared, so callers must not change it. */
export function analyseTemplateOnce(source: string): Readonly<TemplateAnalysis> {
  return prepareTemplate(source).analysis;
}

/**
 * Renders a template over the allow-listed context, without HTML escaping (the output is a command or plain text).
 * With `shell`, a bare `{{x}}` whose known value holds shell metacharacters is refused.
 */
export function renderTemplate(source: string, context: TemplateContext, options: { shell?: boolean } = {}): string {
  if (!hasTemplate(source)) {
    if (options.shell && source.includes('\0')) throw new NulInCommandError(undefined, source);
    return source;
  }
  const prepared = prepareTemplate(source);
  const { refs } = prepared.analysis;
  for (const ref of refs) {
    const value = lookup(context, ref);
    if (ref.scope === 'capture' && value === undefined) throw new MissingValueError(ref.name);
    if (!options.shell || value === undefined || value instanceof RuntimeValue) continue;
    const variable = ref.scope === 'capture' ? ref.name : `${ref.scope}.${ref.name}`;
    if (String(value).includes('\0')) throw new NulInCommandError(variable, String(value));
    if (ref.bare && !isShellSafe(String(value))) throw new UnsafeValueError(variable, String(value));
  }
  const rendered = prepared.template(toTemplateData(context));
  if (options.shell && rendered.includes('\0')) throw new NulInCommandError(undefined, rendered);
  return rendered;
}

/** Handlebars' parse errors span lines (with a code excerpt); keep the location and what it expected. */
function firstLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const expecting = lines.find((l) => l.startsWith('Expecting'));
  return [lines[0] ?? message, expecting].filter(Boolean).join(' ').replace(/:$/, '');
}
