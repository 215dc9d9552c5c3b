import { createInputError } from '../errors.js';
import { countErrors, type Diagnostic, type DiagnosticCode } from '../load/diagnostic.js';
import { suggestName } from '../load/suggest.js';
import { validateAgainstSchema } from '../load/validate-schema.js';
import { parseYamlSource, type PathSegment, type YamlSource } from '../load/yaml-source.js';
import { parseDuration } from '../run/duration.js';
import type { Collector, FieldMapping, Profile, WhereTest } from '../schema/snapshot.js';
import { UserRegexError, compileUserRegex, type UserRegex } from '../shared/user-regex.js';
import { ELEMENT_SPECS, listFields, type ElementRecord, type ElementType, type FieldSpec, type FieldValue } from './element-model.js';
import { PathSyntaxError, listVariables, parsePath, selectItems, type Bindings, type Item, type JsonPath } from './json-path.js';

export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
export const DEFAULT_CONCURRENCY = 8;

/** Output that does not fit the collector's mapping: the element is then not collected on that host. */
export class MappingError extends Error {}

export interface CompiledCollector {
  element: ElementType;
  /** Absent: every platform. */
  platforms?: readonly string[];
  command: string;
  timeoutMs: number;
  /** Records without `host`; throws MappingError when the output does not fit. */
  parse(stdout: string): ElementRecord[];
}

export interface CompiledProfile {
  name: string;
  concurrency: number;
  collectors: readonly CompiledCollector[];
}

interface Problem {
  code: DiagnosticCode;
  message: string;
  path: PathSegment[];
  at?: 'key' | 'value';
}

/** Context a field reads from: the parsed output, the current item, and the bound keys (or named groups). */
interface ReadContext {
  root: unknown;
  item: unknown;
  bindings: Bindings;
}

type FieldReader = (context: ReadContext) => FieldValue | undefined;

const WHOLE_VARIABLE = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

// ---------------------------------------------------------------- loading

export type LoadedProfile =
  | { ok: true; value: Profile; compiled: CompiledProfile; source: YamlSource; diagnostics: Diagnostic[] }
  | { ok: false; source: YamlSource; diagnostics: Diagnostic[] };

/** Parses, validates and compiles a profile file. Pure: the caller reads the file. */
export function loadProfile(file: string, text: string): LoadedProfile {
  const source = parseYamlSource(file, text);
  if (source.diagnostics.length > 0) return { ok: false, source, diagnostics: source.diagnostics };
  if (source.value === null || source.value === undefined) {
    return { ok: false, source, diagnostics: [source.diagnose('RB1006', 'the file is empty; write a Profile document (`apiVersion: runbook/v1`, `kind: Profile`)', [])] };
  }
  const schemaDiagnostics = validateAgainstSchema(source, 'Profile');
  if (schemaDiagnostics.length > 0) return { ok: false, source, diagnostics: schemaDiagnostics };
  const value = source.value as Profile;
  const { compiled, problems } = compileWithProblems(value);
  const diagnostics = problems.map((p) => source.diagnose(p.code, p.message, p.path, p.at)).sort((a, b) => a.line - b.line || a.col - b.col);
  if (countErrors(diagnostics) > 0) return { ok: false, source, diagnostics };
  return { ok: true, value, compiled, source, diagnostics };
}

/** The rules beyond the schema, in the shape engine/load/load-document.ts expects of a document kind. */
export function checkProfileRules(source: YamlSource): Diagnostic[] {
  // Schema errors are reported by the caller; the rules need a well-formed profile to say anything useful.
  if (validateAgainstSchema(source, 'Profile').length > 0) return [];
  return compileWithProblems(source.value as Profile).problems.map((p) => source.diagnose(p.code, p.message, p.path, p.at));
}

/** Compiles a schema-valid profile; a problem the schema cannot see (bad path, unknown field) is bad input. */
export function compileProfile(profile: Profile): CompiledProfile {
  const { compiled, problems } = compileWithProblems(profile);
  if (problems.length > 0) {
    const where = (p: Problem) => p.path.map(String).join('.');
    throw createInputError(
      problems[0]!.code,
      `profile \`${profile.metadata.name}\` is invalid: ${problems.map((p) => `${where(p)}: ${p.message}`).join('; ')}`,
    );
  }
  return compiled;
}

function compileWithProblems(profile: Profile): { compiled: CompiledProfile; problems: Problem[] } {
  const problems: Problem[] = [];
  const defaultTimeout = profile.defaults?.timeout === undefined ? DEFAULT_COMMAND_TIMEOUT_MS : parseDuration(profile.defaults.timeout)!;
  const collectors: CompiledCollector[] = [];
  profile.collectors.forEach((collector, index) => {
    const compiled = compileCollector(collector, ['collectors', index], defaultTimeout, problems);
    if (compiled) collectors.push(compiled);
  });
  return {
    compiled: { name: profile.metadata.name, concurrency: profile.defaults?.concurrency ?? DEFAULT_CONCURRENCY, collectors },
    problems,
  };
}

// ---------------------------------------------------------------- compiling a collector

function compileCollector(collector: Collector, at: PathSegment[], defaultTimeout: number, problems: Problem[]): CompiledCollector | undefined {
  const { element } = collector;
  const before = problems.length;
  if ((collector.json === undefined) === (collector.text === undefined)) {
    problems.push({
      code: 'RB1104',
      message: `collector of \`${element}\` needs exactly one of \`json\` or \`text\` to say how its output is read`,
      path: at,
    });
    return undefined;
  }
  const timeoutMs = collector.timeout === undefined ? defaultTimeout : parseDuration(collector.timeout)!;
  const base = { element, ...(collector.platforms ? { platforms: collector.platforms } : {}), command: collector.command, timeoutMs };

  if (collector.json) {
    const mappingAt = [...at, 'json'];
    const each = compilePath(collector.json.each ?? '@', [...mappingAt, 'each'], problems);
    const bound = new Set(each ? listVariables(each) : []);
    if (each && bound.size !== listVariables(each).length) {
      problems.push({ code: 'RB1104', message: '`each` binds the same name twice; give every `{name}` its own name', path: [...mappingAt, 'each'] });
    }
    const readers = compileFields(element, collector.json.fields, [...mappingAt, 'fields'], bound, problems, 'json');
    checkKeysMapped(element, Object.keys(collector.json.fields), mappingAt, problems, 'json');
    const tests = Object.entries(collector.json.where ?? {}).flatMap(([text, expected]) => {
      const path = compilePath(text, [...mappingAt, 'where', text], problems, 'key');
      const test = compileWhere(expected, [...mappingAt, 'where', text], problems);
      return path && test ? [{ path, test }] : [];
    });
    if (problems.length > before || !each) return undefined;
    return {
      ...base,
      parse(stdout: string) {
        const root = parseJson(stdout);
        const records: ElementRecord[] = [];
        for (const item of selectItems(root, root, each)) {
          if (!tests.every(({ path, test }) => test(selectItems(root, item.value, path, item.bindings).map((found) => found.value)))) continue;
          records.push(buildRecord(element, readers, { root, item: item.value, bindings: item.bindings }, () => describeBindings(item.bindings)));
        }
        return records;
      },
    };
  }

  const text = collector.text!;
  const mappingAt = [...at, 'text'];
  const match = compileRegex(text.match, [...mappingAt, 'match'], problems);
  const ignore = text.ignore === undefined ? undefined : compileRegex(text.ignore, [...mappingAt, 'ignore'], problems);
  const groups = match ? [...match.groupNames] : [];
  if (match && groups.length === 0) {
    problems.push({ code: 'RB1205', message: '`match` has no named group; name the parts that become fields, like `(?P<ifname>\\S+)` or `(?<ifname>\\S+)`', path: [...mappingAt, 'match'] });
  }
  const fieldNames = new Set(listFields(element, ['key', 'compared', 'volatile', 'carried']));
  fieldNames.delete('host');
  const implicit: Record<string, FieldMapping> = Object.fromEntries(groups.filter((g) => fieldNames.has(g)).map((g) => [g, `{${g}}`]));
  const explicit = text.fields ?? {};
  const readers = {
    ...compileFields(element, implicit, [...mappingAt, 'match'], new Set(groups), problems, 'text'),
    ...compileFields(element, explicit, [...mappingAt, 'fields'], new Set(groups), problems, 'text'),
  };
  // A `match` that did not compile has no groups to tell which keys it maps.
  if (match) checkKeysMapped(element, [...Object.keys(implicit), ...Object.keys(explicit)], mappingAt, problems, 'text');
  if (problems.length > before || !match) return undefined;
  return {
    ...base,
    parse(stdout: string) {
      const records: ElementRecord[] = [];
      stdout.split(/\r?\n/).forEach((line, index) => {
        if (line.trim() === '' || ignore?.test(line)) return;
        const found = match.exec(line);
        if (!found) {
          if (text.strict) throw new MappingError(`line ${index + 1} matches neither \`match\` nor \`ignore\`: ${quoteLine(line)}`);
          return;
        }
        const bindings = new Map<string, string>();
        for (const [name, value] of Object.entries(found.named)) if (value !== undefined) bindings.set(name, value);
        const item = Object.fromEntries(bindings);
        records.push(buildRecord(element, readers, { root: item, item, bindings }, () => `line ${index + 1}`));
      });
      return records;
    },
  };
}

function checkKeysMapped(element: ElementType, mapped: readonly string[], at: PathSegment[], problems: Problem[], mode: 'json' | 'text') {
  const missing = ELEMENT_SPECS[element].key.filter((k) => k !== 'host' && !mapped.includes(k));
  if (missing.length === 0) return;
  const how = mode === 'json' ? 'under `fields`' : 'as a named group of `match` or under `fields`';
  problems.push({
    code: 'RB1102',
    message: `the collector of \`${element}\` does not map the key field(s) ${missing.map((k) => `\`${k}\``).join(', ')}; records are matched by ${ELEMENT_SPECS[element].key.join(', ')}: map ${missing.length > 1 ? 'them' : 'it'} ${how}`,
    path: at,
  });
}

function compileFields(
  element: ElementType,
  fields: Record<string, FieldMapping>,
  at: PathSegment[],
  bound: ReadonlySet<string>,
  problems: Problem[],
  mode: 'json' | 'text',
): Record<string, FieldReader> {
  const spec = ELEMENT_SPECS[element];
  const known = Object.keys(spec.fields).filter((f) => f !== 'host');
  const readers: Record<string, FieldReader> = {};
  for (const [name, mapping] of Object.entries(fields)) {
    const fieldAt = [...at, name];
    if (name === 'host') {
      problems.push({ code: 'RB1104', message: '`host` is set by capture to the inventory host name; remove it', path: fieldAt, at: 'key' });
      continue;
    }
    const field = spec.fields[name];
    if (!field) {
      const suggestion = suggestName(name, known);
      problems.push({
        code: 'RB1101',
        message: `\`${name}\` is not a field of \`${element}\`; ${suggestion ? `did you mean \`${suggestion}\`?` : `its fields: ${known.join(', ')}`}`,
        path: fieldAt,
        at: 'key',
      });
      continue;
    }
    const reader = compileField(name, field, mapping, fieldAt, bound, problems, mode);
    if (reader) readers[name] = reader;
  }
  return readers;
}

function compileField(
  name: string,
  field: FieldSpec,
  mapping: FieldMapping,
  at: PathSegment[],
  bound: ReadonlySet<string>,
  problems: Problem[],
  mode: 'json' | 'text',
): FieldReader | undefined {
  const options = typeof mapping === 'string' ? { path: mapping } : mapping;
  const before = problems.length;
  const fail = (message: string, path = at) => problems.push({ code: 'RB1104', message: `field \`${name}\`: ${message}`, path });

  if (options.path !== undefined && options.value !== undefined) fail('give `path` or `value`, not both');
  if (options.path === undefined && options.value === undefined && options.format === undefined) fail('needs `path`, `value` or `format`');
  if (options.split !== undefined && field.type !== 'list') fail('`split` is for list fields only', [...at, 'split']);
  if (options.scale !== undefined && field.type !== 'integer' && field.type !== 'number') fail('`scale` is for number fields only', [...at, 'scale']);

  // The source: a constant, or the first of the paths that finds anything.
  let source: ((context: ReadContext) => Item[]) | undefined;
  let fansOut = false;
  if (options.value !== undefined) {
    const constant = options.value;
    source = ({ bindings }) => [{ value: constant, bindings }];
  } else if (options.path !== undefined) {
    const texts = typeof options.path === 'string' ? [options.path] : options.path;
    const readers = texts.flatMap((text, index) => {
      const pathAt = typeof mapping === 'string' ? at : typeof options.path === 'string' ? [...at, 'path'] : [...at, 'path', index];
      const compiled = compileSource(text, pathAt, bound, problems, mode, (message) => fail(message, pathAt));
      if (compiled?.fansOut) fansOut = true;
      return compiled ? [compiled.read] : [];
    });
    source = (context) => {
      for (const read of readers) {
        const found = read(context);
        if (found.length > 0) return found;
      }
      return [];
    };
  }
  if (fansOut && field.type !== 'list' && options.regex === undefined) {
    fail(`the path can find several values, but \`${name}\` holds one ${field.type}; use an index like [0], or a \`regex\` that keeps one`);
  }

  const format = options.format === undefined ? undefined : compileFormat(options.format, [...at, 'format'], problems);
  const regex = options.regex === undefined ? undefined : compileRegex(options.regex, [...at, 'regex'], problems);
  if (problems.length > before) return undefined;

  const read = source ?? (({ item, bindings }: ReadContext) => [{ value: item, bindings }]);
  const translate = options.map;
  const { scale } = options;
  return (context) => {
    const items = read(context);
    let values: unknown[] = format ? items.flatMap((found) => format(found.value, found.bindings)) : items.map((found) => found.value);
    if (regex) {
      values = values.flatMap((value) => {
        const match = regex.exec(scalarText(value, name));
        return match ? [match.groups[1] ?? match.groups[0]!] : [];
      });
    }
    if (translate) values = values.map((value) => translateValue(value, translate));
    if (values.length === 0 && options.default !== undefined) values = [options.default];
    if (scale !== undefined) values = values.map((value) => scaleValue(value, scale, field, name));
    return coerce(name, field, values, options.split);
  };
}

/** One path of a field: `{name}` alone is the bound name (or named group) itself, anything else a path. */
function compileSource(
  text: string,
  at: PathSegment[],
  bound: ReadonlySet<string>,
  problems: Problem[],
  mode: 'json' | 'text',
  fail: (message: string) => void,
): { read: (context: ReadContext) => Item[]; fansOut: boolean } | undefined {
  const whole = WHOLE_VARIABLE.exec(text.trim());
  if (whole) {
    const variable = whole[1]!;
    if (!bound.has(variable)) {
      fail(
        mode === 'json'
          ? `\`{${variable}}\` is not bound by \`each\`${bound.size > 0 ? `; bound: ${[...bound].map((b) => `{${b}}`).join(', ')}` : ''}`
          : `\`{${variable}}\` is not a named group of \`match\``,
      );
      return undefined;
    }
    return { read: ({ bindings }) => (bindings.has(variable) ? [{ value: bindings.get(variable), bindings }] : []), fansOut: false };
  }
  if (mode === 'text') {
    fail('in text output a field names a group as `{name}`, or uses `value` or `format`');
    return undefined;
  }
  const path = compilePath(text, at, problems);
  if (!path) return undefined;
  // A name `each` did not bind iterates here, binding it for `format`.
  const fansOut = path.fansOut || listVariables(path).some((v) => !bound.has(v));
  return { read: ({ root, item, bindings }) => selectItems(root, item, path, bindings), fansOut };
}

function translateValue(value: unknown, translate: Readonly<Record<string, string | number | boolean>>): unknown {
  if (!isScalar(value)) return value;
  const text = String(value);
  if (Object.hasOwn(translate, text)) return translate[text];
  return Object.hasOwn(translate, '*') ? translate['*'] : value;
}

function scaleValue(value: unknown, scale: number, field: FieldSpec, name: string): unknown {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(number)) throw new MappingError(`field \`${name}\`: ${describeType(value)} is not a number to scale`);
  const scaled = number * scale;
  return field.type === 'integer' ? Math.floor(scaled + 1e-9) : scaled;
}

function compileWhere(expected: string | number | boolean | Array<string | number | boolean> | WhereTest, at: PathSegment[], problems: Problem[]): ((values: unknown[]) => boolean) | undefined {
  if (typeof expected === 'object' && !Array.isArray(expected)) {
    const regex = expected.matches === undefined ? undefined : compileRegex(expected.matches, [...at, 'matches'], problems);
    if (expected.matches !== undefined && !regex) return undefined;
    return (values) =>
      (expected.exists === undefined || expected.exists === values.length > 0) &&
      (regex === undefined || values.some((v) => isScalar(v) && regex.test(String(v))));
  }
  const allowed = (Array.isArray(expected) ? expected : [expected]).map(String);
  return (values) => values.some((v) => isScalar(v) && allowed.includes(String(v)));
}

function compilePath(text: string, at: PathSegment[], problems: Problem[], position: 'key' | 'value' = 'value'): JsonPath | undefined {
  try {
    return parsePath(text);
  } catch (error) {
    if (!(error instanceof PathSyntaxError)) throw error;
    problems.push({ code: 'RB1104', message: `${error.message}; see the \`path\` syntax in schemas/profile.schema.json`, path: at, at: position });
    return undefined;
  }
}

function compileRegex(pattern: string, at: PathSegment[], problems: Problem[]): UserRegex | undefined {
  try {
    return compileUserRegex(pattern);
  } catch (error) {
    if (!(error instanceof UserRegexError)) throw error;
    problems.push({ code: error.unsupported ? 'RB1214' : 'RB1205', message: error.message, path: at });
    return undefined;
  }
}

type FormatPiece = { literal: string } | { name: string; path: JsonPath };

/** `[via {ip} ]dev {interfaceName}`: sections in brackets drop out when a placeholder in them finds nothing. */
function compileFormat(template: string, at: PathSegment[], problems: Problem[]): ((value: unknown, bindings: Bindings) => string[]) | undefined {
  const sections: Array<{ optional: boolean; pieces: FormatPiece[] }> = [];
  const pattern = /\[([^\]]*)\]|([^[]+)/g;
  for (const part of template.matchAll(pattern)) {
    const optional = part[1] !== undefined;
    const body = part[1] ?? part[2]!;
    const pieces: FormatPiece[] = [];
    let last = 0;
    for (const placeholder of body.matchAll(/\{([^{}]+)\}/g)) {
      if (placeholder.index > last) pieces.push({ literal: body.slice(last, placeholder.index) });
      const path = compilePath(placeholder[1]!, at, problems);
      if (!path) return undefined;
      pieces.push({ name: placeholder[1]!.trim(), path });
      last = placeholder.index + placeholder[0].length;
    }
    if (last < body.length) pieces.push({ literal: body.slice(last) });
    sections.push({ optional, pieces });
  }
  return (value, bindings) => {
    let out = '';
    for (const section of sections) {
      let text = '';
      let complete = true;
      for (const piece of section.pieces) {
        if ('literal' in piece) {
          text += piece.literal;
          continue;
        }
        const found = bindings.has(piece.name) ? [bindings.get(piece.name)] : selectItems(value, value, piece.path, bindings).map((f) => f.value);
        if (found.length === 0 || !isScalar(found[0])) {
          complete = false;
          break;
        }
        text += String(found[0]);
      }
      if (complete) out += text;
      else if (!section.optional) return [];
    }
    return [out];
  };
}

// ---------------------------------------------------------------- reading output

function parseJson(stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch (error) {
    const text = stdout.trim();
    throw new MappingError(text === '' ? 'the output is empty, not JSON' : `the output is not JSON (${(error as Error).message}): ${quoteLine(text)}`);
  }
}

function buildRecord(element: ElementType, readers: Record<string, FieldReader>, context: ReadContext, where: () => string): ElementRecord {
  const record: ElementRecord = {};
  for (const [name, read] of Object.entries(readers)) {
    let value: FieldValue | undefined;
    try {
      value = read(context);
    } catch (error) {
      if (error instanceof MappingError) throw new MappingError(`${where()}: ${error.message}`);
      throw error;
    }
    if (value !== undefined) record[name] = value;
  }
  const missing = ELEMENT_SPECS[element].key.filter((k) => k !== 'host' && record[k] === undefined);
  if (missing.length > 0) {
    throw new MappingError(`${where()}: key field(s) ${missing.map((k) => `\`${k}\``).join(', ')} found nothing; the output does not fit the profile`);
  }
  return record;
}

function describeBindings(bindings: Bindings): string {
  return bindings.size === 0 ? 'the output' : `item ${[...bindings].map(([k, v]) => `${k}=${v}`).join(' ')}`;
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function scalarText(value: unknown, field: string): string {
  if (isScalar(value)) return String(value);
  throw new MappingError(`field \`${field}\`: expected a value, found ${describeType(value)}`);
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `\`${String(value)}\``;
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

function coerce(name: string, field: FieldSpec, values: unknown[], split: string | undefined): FieldValue | undefined {
  if (field.type === 'list') {
    const flat = values.flatMap((value) => (Array.isArray(value) ? value : [value]));
    const items = flat.flatMap((value) => {
      const text = scalarText(value, name);
      return split === undefined ? [text] : text.split(split).map((s) => s.trim()).filter((s) => s !== '');
    });
    return values.length === 0 ? undefined : items.sort();
  }
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new MappingError(`field \`${name}\`: found ${values.length} values, expected one`);
  const value = values[0];
  const fail = (what: string): never => {
    throw new MappingError(`field \`${name}\`: ${describeType(value)} is not ${what}`);
  };
  switch (field.type) {
    case 'string':
      return scalarText(value, name);
    case 'integer': {
      const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
      return Number.isSafeInteger(number) ? number : fail('an integer');
    }
    case 'number': {
      const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      return Number.isFinite(number) ? number : fail('a number');
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      const word = isScalar(value) ? String(value).trim().toLowerCase() : '';
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      return fail('true or false (use `map` to translate it)');
    }
  }
}

function quoteLine(text: string): string {
  const line = text.split('\n')[0]!;
  return `\`${line.length > 80 ? `${line.slice(0, 80)}...` : line}\``;
}
