import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { TSchema } from '@sinclair/typebox';
import { HINT } from '../schema/common.js';
import type { Diagnostic } from './diagnostic.js';
import { suggestName } from './suggest.js';
import type { PathSegment, YamlSource } from './yaml-source.js';

/** Field names that would hold a credential in clear; the formats take references only. */
const LITERAL_CREDENTIALS = new Set(['password', 'passphrase', 'privateKey', 'key', 'secret', 'token']);

const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
ajv.addKeyword({ keyword: HINT, schemaType: 'string' });
const compiled = new WeakMap<TSchema, ValidateFunction>();

function compile(schema: TSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Validates the source's value against a schema and maps each problem to a positioned, readable diagnostic. */
export function validateAgainstSchema(source: YamlSource, schema: TSchema): Diagnostic[] {
  const validate = compile(schema);
  if (validate(source.value)) return [];
  return describeErrors(source, validate.errors ?? []);
}

function describeErrors(source: YamlSource, errors: readonly ErrorObject[]): Diagnostic[] {
  // A failed anyOf reports each branch too; speak of the union once, at its own path.
  const unions = errors.filter((e) => e.keyword === 'anyOf');
  const isInsideUnion = (e: ErrorObject) =>
    unions.some((u) => u !== e && e.schemaPath.startsWith(`${u.schemaPath}/`) && e.instancePath === u.instancePath);
  const hinted = new Set<string>();
  const out: Diagnostic[] = [];
  for (const error of errors) {
    if (isInsideUnion(error)) continue;
    const path = parsePointer(error.instancePath);
    const hint = hintOf(error);
    if (hint) {
      if (hinted.has(error.instancePath)) continue;
      hinted.add(error.instancePath);
      out.push(source.diagnose('RB1104', `${describeField(source.value, path)}${describeContext(source.value, path)} ${hint}`, path));
      continue;
    }
    out.push(describeError(source, error, path));
  }
  return out;
}

function hintOf(error: ErrorObject): string | undefined {
  // The hint lives on the schema of the failing value: the parent for keyword errors inside it.
  const schema = ['anyOf', 'pattern', 'type'].includes(error.keyword) ? error.parentSchema : undefined;
  const hint = (schema as Record<string, unknown> | undefined)?.[HINT];
  return typeof hint === 'string' ? hint : undefined;
}

function describeError(source: YamlSource, error: ErrorObject, path: PathSegment[]): Diagnostic {
  const field = describeField(source.value, path);
  const where = describeContext(source.value, path);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const keyPath = [...path, name];
      if (LITERAL_CREDENTIALS.has(name)) {
        return source.diagnose(
          'RB1106',
          `literal credential \`${name}\`${describeContext(source.value, keyPath)} is not allowed: put it in an environment variable and use \`passwordEnv\`, or use \`keyFile\` or \`agent\``,
          keyPath,
          'key',
        );
      }
      const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const suggestion = suggestName(name, allowed);
      const advice = suggestion
        ? `did you mean \`${suggestion}\`?`
        : allowed.length > 0
          ? `allowed fields: ${allowed.join(', ')}`
          : 'remove it';
      return source.diagnose('RB1101', `unknown field \`${name}\`${describeContext(source.value, keyPath)}; ${advice}`, keyPath, 'key');
    }
    case 'required': {
      const name = String(params.missingProperty);
      return source.diagnose('RB1102', `missing field \`${name}\`${describeHolder(source.value, path)}; add it`, path);
    }
    case 'type':
      return source.diagnose('RB1103', `${field}${where} must be ${article(String(params.type))}`, path);
    case 'const':
      return source.diagnose('RB1104', `${field}${where} must be \`${String(params.allowedValue)}\``, path);
    case 'enum':
      return source.diagnose('RB1104', `${field}${where} must be one of ${(params.allowedValues as unknown[]).join(', ')}`, path);
    case 'anyOf':
      return source.diagnose('RB1104', `${field}${where} ${describeUnion(error, valueAt(source.value, path))}`, path);
    case 'pattern':
      return source.diagnose('RB1104', `${field}${where} must match the pattern ${String(params.pattern)}`, path);
    case 'minimum':
      return source.diagnose('RB1105', `${field}${where} must be at least ${String(params.limit)}`, path);
    case 'maximum':
      return source.diagnose('RB1105', `${field}${where} must be at most ${String(params.limit)}`, path);
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return source.diagnose('RB1105', `${field}${where} ${error.message ?? 'is out of range'}`, path);
    case 'minItems':
      return source.diagnose('RB1105', `${field}${where} must have at least ${count(params.limit, 'item')}`, path);
    case 'maxItems':
      return source.diagnose('RB1105', `${field}${where} must have at most ${count(params.limit, 'item')}`, path);
    case 'minProperties':
      return source.diagnose('RB1105', `${field}${where} must have at least ${count(params.limit, 'field')}`, path);
    case 'minLength':
      return source.diagnose('RB1105', `${field}${where} must not be empty`, path);
    default:
      return source.diagnose('RB1104', `${field}${where} ${error.message ?? 'is invalid'}`, path);
  }
}

/** "must be one of check, backup, ...; did you mean `install`?" for unions of literals, else the branch types. */
function describeUnion(error: ErrorObject, value: unknown): string {
  const branches = ((error.schema as unknown[]) ?? []) as Array<Record<string, unknown>>;
  const constants = branches.filter((b) => 'const' in b).map((b) => String(b.const));
  if (constants.length === branches.length && constants.length > 0) {
    const suggestion = typeof value === 'string' ? suggestName(value, constants) : undefined;
    return `must be one of ${constants.join(', ')}${suggestion ? `; did you mean \`${suggestion}\`?` : ''}`;
  }
  const types = [...new Set(branches.map((b) => (typeof b.type === 'string' ? b.type : 'other')))];
  return `must be ${types.map(article).join(' or ')}`;
}

function count(limit: unknown, noun: string): string {
  return `${String(limit)} ${noun}${limit === 1 ? '' : 's'}`;
}

function article(type: string): string {
  return type === 'array' || type === 'object' || type === 'integer' ? `an ${type}` : `a ${type}`;
}

function parsePointer(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[String(segment)];
  }
  return node;
}

function describeField(root: unknown, path: readonly PathSegment[]): string {
  const last = [...path].reverse().find((s) => typeof s === 'string');
  if (last === undefined) return path.length === 0 ? 'the document' : `item ${String(path[path.length - 1])}`;
  const index = path[path.length - 1];
  return typeof index === 'number' ? `item ${index + 1} of \`${last}\`` : `\`${last}\``;
}

/** " in `metadata`", " in step `install`" or " at the top level": the object a field is missing from. */
function describeHolder(root: unknown, path: readonly PathSegment[]): string {
  if (path.length === 0) return ' at the top level';
  // A step or a named entry (host, param, group) names itself; anything else is named by its field and what holds it.
  const container = String(path[path.length - 2]);
  const last = path[path.length - 1];
  const namesItself =
    (typeof last === 'number' && STEP_SECTIONS.includes(container)) || (typeof last === 'string' && Object.hasOwn(NAMED_MAPS, container));
  return namesItself ? describeContext(root, [...path, '']) : ` in ${describeField(root, path)}${describeContext(root, path)}`;
}

const NAMED_MAPS: Record<string, string> = { hosts: 'host', params: 'param', groups: 'group' };
const STEP_SECTIONS = ['steps', 'prechecks', 'rollback'];

/** " in step `install`" or " in host `leaf01`": the nearest named thing that holds the path. */
export function describeContext(root: unknown, path: readonly PathSegment[]): string {
  for (let i = path.length - 2; i >= 0; i--) {
    const container = path[i];
    const key = path[i + 1];
    if ((container === 'steps' || container === 'prechecks' || container === 'rollback') && typeof key === 'number') {
      const id = valueAt(root, [...path.slice(0, i + 2), 'id']);
      const label = container === 'prechecks' ? 'precheck' : container === 'rollback' ? 'rollback step' : 'step';
      return typeof id === 'string' ? ` in ${label} \`${id}\`` : ` in ${label} ${key + 1}`;
    }
    const describesItself = i + 1 === path.length - 1;
    const label = NAMED_MAPS[String(container)];
    if (label && typeof key === 'string' && !describesItself) return ` in ${label} \`${key}\``;
  }
  return '';
}
