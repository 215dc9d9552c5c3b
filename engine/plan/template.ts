import Handlebars from 'handlebars';
import semver from 'semver';

/** Characters a value may hold to be interpolated bare into a shell command; anything else needs `{{quote x}}`. */
const SHELL_SAFE = /^[A-Za-z0-9_./:=@%+,-]*$/;

export const HOST_FIELDS = ['name', 'address', 'port', 'user', 'role', 'platform', 'labels'] as const;
export const RUN_FIELDS = ['id'] as const;

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
const compareVersions = (a: unknown, b: unknown) => semver.compare(toVersion(a), toVersion(b));

// Handlebars passes its options object last; helpers drop it.
type HelperArgs = unknown[];
const args = (all: HelperArgs) => all.slice(0, -1);

/** The helpers a template may call, besides the built-in `if` and `unless`. */
export const TEMPLATE_HELPERS = {
  quote: (...all: HelperArgs) => quoteShell(args(all)[0]),
  default: (...all: HelperArgs) => {
    const [value, fallback] = args(all);
    return value === undefined || value === null || value === '' ? fallback : value;
  },
  semverMajor: (...all: HelperArgs) => semver.major(toVersion(args(all)[0])),
  semverMinor: (...all: HelperArgs) => semver.minor(toVersion(args(all)[0])),
  semverLt: (...all: HelperArgs) => compareVersions(args(all)[0], args(all)[1]) < 0,
  semverLte: (...all: HelperArgs) => compareVersions(args(all)[0], args(all)[1]) <= 0,
  semverGt: (...all: HelperArgs) => compareVersions(args(all)[0], args(all)[1]) > 0,
  semverGte: (...all: HelperArgs) => compareVersions(args(all)[0], args(all)[1]) >= 0,
  eq: (...all: HelperArgs) => String(args(all)[0]) === String(args(all)[1]),
  ne: (...all: HelperArgs) => String(args(all)[0]) !== String(args(all)[1]),
  and: (...all: HelperArgs) => args(all).every(Boolean),
  or: (...all: HelperArgs) => args(all).some(Boolean),
  not: (...all: HelperArgs) => !args(all)[0],
} as const;

const BLOCK_HELPERS = ['if', 'unless'] as const;
const ALLOWED_HELPERS = new Set<string>([...Object.keys(TEMPLATE_HELPERS), ...BLOCK_HELPERS]);

const handlebars = Handlebars.create();
for (const [name, helper] of Object.entries(TEMPLATE_HELPERS)) handlebars.registerHelper(name, helper);

export type TemplateRef =
  | { scope: 'params'; name: string; bare: boolean }
  | { scope: 'host'; name: string; bare: boolean }
  | { scope: 'run'; name: string; bare: boolean }
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
    if (head === 'params' || head === 'host' || head === 'run') {
      const name = rest.join('.');
      const fields: readonly string[] = head === 'host' ? HOST_FIELDS : head === 'run' ? RUN_FIELDS : [];
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

  const visitExpression = (node: hbs.AST.Expression) => {
    if (node.type === 'PathExpression') visitPath(node as hbs.AST.PathExpression, false);
    else if (node.type === 'SubExpression') visitCall(node as unknown as AstNode);
  };

  const visitCall = (node: AstNode) => {
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
      params.forEach(visitExpression);
      hash?.pairs.forEach((pair) => visitExpression(pair.value));
    } else if (!ALLOWED_HELPERS.has(path.original)) {
      // A mustache with no arguments interpolates its value as is: the shell-safety check applies.
      visitPath(path, node.type === 'MustacheStatement');
    }
  };

  const visitProgram = (p: hbs.AST.Program | undefined) => {
    for (const statement of p?.body ?? []) {
      const node = statement as unknown as AstNode;
      if (node.type === 'MustacheStatement') visitCall(node);
      else if (node.type === 'BlockStatement') {
        visitCall(node);
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
}

/** Renders a template over the allow-listed context. No HTML escaping: the output is a command or plain text. */
export function renderTemplate(source: string, context: TemplateContext): string {
  const template = handlebars.compile(source, { noEscape: true, strict: false, knownHelpersOnly: false });
  return template({ ...context.captures, params: context.params, host: context.host, run: context.run });
}

function firstLine(message: string): string {
  return message.split('\n').filter((l) => l.trim() !== '' && !/^-*\^$/.test(l.trim()))[0] ?? message;
}
