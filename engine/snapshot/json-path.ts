/**
 * The small path language of profiles: `a.b[0]`, `[*]` or `*` for every item, `["a.b"]` for a key
 * holding dots, `{name}` binding a key or index (in `each`) or inserting a bound one (in fields),
 * `$` to start from the root, `@` for the item itself.
 */

export type PathSegment =
  | { kind: 'key'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'var'; name: string };

export interface JsonPath {
  text: string;
  fromRoot: boolean;
  segments: PathSegment[];
  /** The path holds `*`: it can find several values (so can a `{name}` not bound yet). */
  fansOut: boolean;
}

export type Bindings = ReadonlyMap<string, string | number>;

const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class PathSyntaxError extends Error {}

export function parsePath(text: string): JsonPath {
  let rest = text.trim();
  let fromRoot = false;
  if (rest.startsWith('$')) {
    fromRoot = true;
    rest = rest.slice(1);
    if (rest.startsWith('.')) rest = rest.slice(1);
  } else if (rest === '@') {
    rest = '';
  }
  const segments: PathSegment[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new PathSyntaxError(`path \`${text}\`: ${why}`);
  };
  let expectSegment = rest.length > 0;
  while (i < rest.length) {
    const c = rest[i]!;
    if (c === '[') {
      const close = findClosingBracket(rest, i);
      if (close < 0) fail('`[` without `]`');
      const inner = rest.slice(i + 1, close).trim();
      if (inner === '*') segments.push({ kind: 'all' });
      else if (/^\d+$/.test(inner)) segments.push({ kind: 'index', index: Number(inner) });
      else if (/^\{.*\}$/.test(inner)) segments.push(parseVariable(inner, fail));
      else if (/^(".*"|'.*')$/.test(inner)) segments.push({ kind: 'key', name: inner.slice(1, -1) });
      else fail(`\`[${inner}]\` must be an index, \`[*]\`, \`[{name}]\` or a quoted key`);
      i = close + 1;
      expectSegment = false;
    } else if (c === '.') {
      if (expectSegment) fail('empty segment');
      expectSegment = true;
      i++;
    } else {
      if (!expectSegment && segments.length > 0) fail(`expected \`.\` or \`[\` before \`${rest.slice(i)}\``);
      let end = i;
      while (end < rest.length && rest[end] !== '.' && rest[end] !== '[') end++;
      const token = rest.slice(i, end);
      if (token === '*') segments.push({ kind: 'all' });
      else if (token.startsWith('{')) segments.push(parseVariable(token, fail));
      else segments.push({ kind: 'key', name: token });
      i = end;
      expectSegment = false;
    }
  }
  if (expectSegment && rest.length > 0) fail('ends with `.`');
  return { text, fromRoot, segments, fansOut: segments.some((s) => s.kind === 'all') };
}

function findClosingBracket(text: string, open: number): number {
  const quote = text[open + 1] === '"' || text[open + 1] === "'" ? text[open + 1] : undefined;
  if (quote) {
    const end = text.indexOf(quote, open + 2);
    return end < 0 ? -1 : text.indexOf(']', end);
  }
  return text.indexOf(']', open);
}

function parseVariable(token: string, fail: (why: string) => never): PathSegment {
  const name = token.slice(1, -1);
  if (!token.endsWith('}') || !VARIABLE.test(name)) fail(`\`${token}\` must be \`{name}\` with a name of letters, digits and _`);
  return { kind: 'var', name };
}

/** The variables a path refers to (fields) or binds (each). */
export function listVariables(path: JsonPath): string[] {
  return path.segments.flatMap((s) => (s.kind === 'var' ? [s.name] : []));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function childrenOf(node: unknown): Array<[string | number, unknown]> {
  if (Array.isArray(node)) return node.map((item, index) => [index, item]);
  if (isObject(node)) return Object.entries(node);
  return [];
}

function step(node: unknown, key: string | number): unknown {
  if (Array.isArray(node)) return typeof key === 'number' || /^\d+$/.test(key) ? node[Number(key)] : undefined;
  if (isObject(node) && Object.hasOwn(node, String(key))) return node[String(key)];
  return undefined;
}

export interface Item {
  value: unknown;
  bindings: Bindings;
}

/**
 * Every value the path reaches from the item (or the root, for `$` paths). A `{name}` segment
 * inserts the bound key or index when `name` is bound, else iterates and binds it, as `each` does.
 * Missing parts and nulls find nothing.
 */
export function selectItems(root: unknown, item: unknown, path: JsonPath, bindings: Bindings = new Map()): Item[] {
  let items: Item[] = [{ value: path.fromRoot ? root : item, bindings }];
  for (const segment of path.segments) {
    const next: Item[] = [];
    for (const current of items) {
      const { value } = current;
      switch (segment.kind) {
        case 'key':
        case 'index': {
          const child = step(value, segment.kind === 'key' ? segment.name : segment.index);
          if (child !== undefined) next.push({ value: child, bindings: current.bindings });
          break;
        }
        case 'all':
          for (const [, child] of childrenOf(value)) next.push({ value: child, bindings: current.bindings });
          break;
        case 'var': {
          const bound = current.bindings.get(segment.name);
          if (bound !== undefined) {
            const child = step(value, bound);
            if (child !== undefined) next.push({ value: child, bindings: current.bindings });
          } else {
            for (const [key, child] of childrenOf(value)) next.push({ value: child, bindings: new Map(current.bindings).set(segment.name, key) });
          }
          break;
        }
      }
    }
    items = next;
  }
  return items.filter((found) => found.value !== null && found.value !== undefined);
}
