import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DOCUMENT_KINDS, loadDocument } from '../../engine/load/load-document.js';
import { findPrecompiledValidator, validateAgainstSchema, type SchemaName } from '../../engine/load/validate-schema.js';
import { parseYamlSource } from '../../engine/load/yaml-source.js';
import { makePlan } from '../../engine/plan/make-plan.js';
import { HINT } from '../../engine/schema/vocabulary.js';
import * as generated from '../../engine/schema/generated/validators.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { PRECOMPILED_SCHEMAS } from '../../scripts/render-validators.js';

const ROOT = join(import.meta.dirname, '..', '..');
const FOLDERS = ['runbooks', 'inventories', 'profiles', 'test/fixtures/valid', 'test/fixtures/runbooks', 'test/fixtures/invalid'];

interface Document {
  file: string;
  value: unknown;
}

/** Every shipped and fixture YAML file that parses, whatever its kind or validity. */
const documents: Document[] = FOLDERS.flatMap((folder) =>
  readdirSync(join(ROOT, folder))
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => `${folder}/${name}`)
    .map((file) => ({ file, source: parseYamlSource(file, readFileSync(join(ROOT, file), 'utf8')) }))
    .filter(({ source }) => source.diagnostics.length === 0 && source.value !== undefined && source.value !== null)
    .map(({ file, source }) => ({ file, value: source.value })),
);

// The shipped runbooks planned against the lab inventory, as `runbook plan --out` writes them: plan files `apply` reads.
const SHIPPED_PARAMS: Record<string, Record<string, string>> = {
  'fabric-upgrade': { targetVersion: '4.4.0' },
  'network-snapshot': { name: 'baseline' },
  'storage-upgrade': { targetVersion: '7.2.0' },
  'ha-pair-upgrade': { targetVersion: '6.2.3', fromVersion: '6.1.4' },
  'chassis-hitless-upgrade': { targetVersion: '31.7.2.3', allowIoModuleReset: 'true' },
};

function loadValue<T>(file: string): T {
  const loaded = loadDocument(file, readFileSync(join(ROOT, file), 'utf8'));
  if (!loaded.ok) throw new Error(`${file} does not load`);
  return loaded.value as T;
}

const inventory = loadValue<Inventory>('inventories/lab.yaml');
const plans: Document[] = Object.entries(SHIPPED_PARAMS).map(([name, params]) => {
  const plan = makePlan({
    runbook: loadValue<Runbook>(`runbooks/${name}.yaml`),
    inventory,
    files: { runbook: { path: `runbooks/${name}.yaml`, sha256: '0'.repeat(64) }, inventory: { path: 'inventories/lab.yaml', sha256: '0'.repeat(64) } },
    params,
    commit: null,
    engineVersion: '0.0.0',
  });
  return { file: `plan of ${name}`, value: JSON.parse(JSON.stringify(plan)) as unknown };
});

const schemas = Object.entries(PRECOMPILED_SCHEMAS).map(([name, { schema }]) => ({ name: name as SchemaName, schema }));

// The validator engine/load/validate-schema.ts falls back to, compiled the same way, straight from the TypeBox schema.
const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
ajv.addKeyword({ keyword: HINT, schemaType: 'string' });
const full = new Map<TSchema, ValidateFunction>(schemas.map(({ schema }) => [schema, ajv.compile(schema)]));

function compare(name: SchemaName, schema: TSchema, value: unknown): { precompiled: boolean; full: boolean } {
  return { precompiled: findPrecompiledValidator(name)(value), full: full.get(schema)!(value) };
}

describe('the precompiled validators', () => {
  it('are wired to the schemas they were generated from, one per export of the generated module', () => {
    expect(Object.keys(generated).filter((key) => key !== 'schemas').sort()).toEqual(schemas.map((s) => s.name).sort());
    for (const { name } of schemas) expect(findPrecompiledValidator(name), name).toBe(generated[name]);
  });

  it('come with each schema as the TypeBox object is, so that a refusal is explained with the same paths', () => {
    expect(Object.keys(generated.schemas).sort()).toEqual(schemas.map((s) => s.name).sort());
    for (const { name, schema } of schemas) expect(generated.schemas[name], name).toEqual(JSON.parse(JSON.stringify(schema)));
  });

  it('cover every kind loadDocument reads, and plan files', () => {
    expect(schemas.map((s) => s.name)).toEqual(expect.arrayContaining([...DOCUMENT_KINDS, 'Plan']));
  });

  it('see shipped and fixture files of every kind, valid and invalid', () => {
    const kinds = new Set(documents.map((d) => (d.value as { kind?: unknown }).kind));
    expect([...kinds]).toEqual(expect.arrayContaining(['Runbook', 'Inventory', 'Profile']));
    const valid = documents.filter((d) => schemas.some(({ schema }) => full.get(schema)!(d.value)));
    expect(valid.length).toBeGreaterThan(10);
    expect(documents.length - valid.length).toBeGreaterThan(10);
  });

  describe.each(schemas)('$name', ({ name, schema }) => {
    it.each([...documents, ...plans].map((d) => [d.file, d.value] as const))('answers as the full validator for %s', (_file, value) => {
      const answers = compare(name, schema, value);
      expect(answers.precompiled).toBe(answers.full);
    });
  });

  it('accept the plans of the shipped runbooks', () => {
    const plan = schemas.find((s) => s.name === 'Plan')!.schema;
    for (const { file, value } of plans) expect(compare('Plan', plan, value), file).toEqual({ precompiled: true, full: true });
  });
});

type Path = Array<string | number>;

/** Every path to a value in the document, the root included. */
function listPaths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([key, child]) => listPaths(child, [...prefix, key]))];
}

const valueAt = (root: unknown, path: Path): unknown => path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], root);
const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Every property name the schema knows, so an added field is often one that is allowed somewhere. */
function listPropertyNames(schema: unknown, found = new Set<string>()): string[] {
  if (Array.isArray(schema)) for (const item of schema) listPropertyNames(item, found);
  else if (isRecord(schema)) {
    if (isRecord(schema.properties)) for (const name of Object.keys(schema.properties)) found.add(name);
    for (const child of Object.values(schema)) listPropertyNames(child, found);
  }
  return [...found].sort();
}

type Mutation = { op: 'set'; value: unknown } | { op: 'delete' } | { op: 'add'; key: string; value: unknown };

/** The document with one change at `path`, sharing what the change does not touch; the original is untouched. */
function mutate(node: unknown, path: Path, mutation: Mutation): unknown {
  if (path.length === 0) {
    if (mutation.op === 'set') return mutation.value;
    return mutation.op === 'add' ? { ...(node as object), [mutation.key]: mutation.value } : undefined;
  }
  const [head, ...rest] = path as [string | number, ...Path];
  if (Array.isArray(node)) {
    if (rest.length === 0 && mutation.op === 'delete') return node.filter((_, i) => i !== head);
    return node.map((item, i) => (i === head ? mutate(item, rest, mutation) : item));
  }
  const record = node as Record<string, unknown>;
  if (rest.length === 0 && mutation.op === 'delete') return Object.fromEntries(Object.entries(record).filter(([key]) => key !== head));
  return { ...record, [head]: mutate(record[head], rest, mutation) };
}

// Values near what the schemas admit: wrong types, empty, out of range, patterns almost met.
const NEAR_VALUES: unknown[] = ['', 'x', '30s', '20 minutes', '1.2.3', 'v1', 'runbook/v1', 'Runbook', 'check', 'install', 0, -1, 1.5, 6, 22, 65536, true, null, [], [''], {}, { x: 1 }];

/** Values near the one in place: one more, one less, the string edited, the item or field dropped. */
function nearby(current: unknown): unknown[] {
  const candidates = (): unknown[] => {
    if (typeof current === 'number') return [current + 1, current - 1, current + 0.5, -current, String(current)];
    if (typeof current === 'string') return [`${current}!`, current.slice(1), current.toUpperCase(), ` ${current}`, Number(current)];
    if (Array.isArray(current)) return [current.slice(1), [...current, ...current.slice(0, 1)], current[0]];
    if (isRecord(current)) return [Object.fromEntries(Object.entries(current).slice(1)), Object.values(current)[0]];
    return [];
  };
  // Only what survives JSON, since the random changes below are read back from JSON text.
  return candidates().filter((v) => v !== undefined && !(typeof v === 'number' && !Number.isFinite(v)));
}

function mutationsOf(document: unknown, fieldNames: readonly string[]): fc.Arbitrary<{ path: Path; mutation: Mutation }> {
  const paths = listPaths(document);
  const objects = paths.filter((path) => isRecord(valueAt(document, path)));
  const values = (path: Path) => fc.oneof(fc.constantFrom(...NEAR_VALUES, ...nearby(valueAt(document, path))), fc.jsonValue({ maxDepth: 2 }));
  return fc.oneof(
    fc.constantFrom(...paths).chain((path) => values(path).map((value) => ({ path, mutation: { op: 'set' as const, value } }))),
    fc.constantFrom(...paths.filter((path) => path.length > 0)).map((path) => ({ path, mutation: { op: 'delete' as const } })),
    fc
      .tuple(fc.constantFrom(...objects), fc.constantFrom(...fieldNames, 'retires', 'password'), fc.constantFrom(...NEAR_VALUES))
      .map(([path, key, value]) => ({ path, mutation: { op: 'add' as const, key, value } })),
  );
}

// A few values of each type, at the edges the schemas draw (retries 0-5, ports to 65535).
const EDGE_VALUES: unknown[] = ['', 'x', -1, 6, 65536, 1.5, null, true, [], {}];

describe('on every single-field change of a valid document, the precompiled and the full validator agree', () => {
  const ofKind = (name: string) => (d: Document) => (d.value as { kind?: unknown }).kind === name;
  const small = (d: Document) => JSON.stringify(d.value).length < 200_000;

  // Every host of a plan has the same shape: one says as much as all, at a fraction of the cost.
  const firstHost = (plan: Document): Document => {
    const value = plan.value as Record<string, Record<string, unknown>>;
    const keepOne = (map: Record<string, unknown>) => Object.fromEntries(Object.entries(map).slice(0, 1));
    return { file: plan.file, value: { ...value, hosts: keepOne(value.hosts!), hostPlans: keepOne(value.hostPlans!) } };
  };

  it.each(schemas)('$name', ({ name, schema }) => {
    const valid = [...documents, ...plans.map(firstHost)].filter(ofKind(name)).filter(small).filter((d) => full.get(schema)!(d.value));
    expect(valid.length).toBeGreaterThan(0);
    const disagreements: string[] = [];
    const outcomes = { accepted: 0, refused: 0 };
    for (const d of valid) {
      for (const path of listPaths(d.value)) {
        const current = valueAt(d.value, path);
        const changes: Mutation[] = [...new Set([...nearby(current), ...EDGE_VALUES])].map((value) => ({ op: 'set', value }));
        if (path.length > 0) changes.push({ op: 'delete' });
        if (isRecord(current)) changes.push({ op: 'add', key: 'retires', value: 1 }, { op: 'add', key: 'retries', value: 6 });
        for (const mutation of changes) {
          const answers = compare(name, schema, mutate(d.value, path, mutation));
          outcomes[answers.full ? 'accepted' : 'refused']++;
          if (answers.precompiled !== answers.full) disagreements.push(`${d.file} at /${path.join('/')}: ${JSON.stringify(mutation)} (full: ${answers.full})`);
        }
      }
    }
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(outcomes.accepted).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
    // Tens of thousands of validations (a plan of the 50-step HA runbook alone gives over ten thousand): minutes on a loaded machine.
  }, 300_000);
});

describe('on random changes of valid documents, the precompiled validator and validateAgainstSchema agree with the full validator', () => {
  // The ten-thousand-host inventories stay out: the same shapes, at a hundred times the cost.
  const small = [...documents, ...plans].filter((d) => JSON.stringify(d.value).length < 200_000);

  it.each(schemas)('$name', ({ name, schema }) => {
    const valid = small.filter((d) => full.get(schema)!(d.value));
    expect(valid.length).toBeGreaterThan(0);
    const fieldNames = listPropertyNames(schema);
    const outcomes = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.constantFrom(...valid).chain((d) => fc.tuple(fc.constant(d), mutationsOf(d.value, fieldNames))),
        ([d, { path, mutation }]) => {
          // Read back from text, as the loader would, so both sides see the very same value.
          const source = parseYamlSource('mutated.json', JSON.stringify(mutate(d.value, path, mutation)));
          const answers = compare(name, schema, source.value);
          outcomes[answers.full ? 'accepted' : 'refused']++;
          expect(answers.precompiled, `${d.file} at /${path.join('/')}: ${JSON.stringify(mutation)}`).toBe(answers.full);
          // And through the loader's own entry point: no diagnostics exactly when the document is valid.
          expect(validateAgainstSchema(source, name).length === 0).toBe(answers.full);
        },
      ),
      { numRuns: 300 },
    );
    // Both answers were put to the test, not only one.
    expect(outcomes.accepted).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});

describe('validateAgainstSchema', () => {
  it('explains a refusal from the generated schema, naming the field and where it is missing', () => {
    const diagnostics = validateAgainstSchema(parseYamlSource('plan.json', '{"apiVersion": "runbook/v1", "kind": "Plan"}'), 'Plan');
    expect(diagnostics.map((d) => [d.code, d.line, d.col])).toContainEqual(['RB1102', 1, 1]);
    expect(diagnostics.map((d) => d.message)).toContain('missing field `hash` at the top level; add it');
  });
});
