import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { PUBLISHED_SCHEMAS, renderSchemaJson } from '../engine/schema/index.js';
import { VALIDATORS_FILE, renderValidatorsModule } from '../scripts/render-validators.js';

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(import.meta.dirname, 'fixtures');
const published = Object.entries(PUBLISHED_SCHEMAS).map(([file, schema]) => ({ file, schema }));

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function readPublished(file: string): JsonObject {
  return JSON.parse(readFileSync(join(ROOT, 'schemas', file), 'utf8')) as JsonObject;
}

/**
 * Every sub-schema with its JSON pointer, and whether it must carry a description: the root, each
 * `$defs` entry, each property and each `patternProperties` value (a union in those places is
 * described on itself, not only on its branches). Array items and union branches need not be.
 */
function listSubSchemas(root: JsonObject): Array<{ pointer: string; node: JsonObject; described: boolean }> {
  const found: Array<{ pointer: string; node: JsonObject; described: boolean }> = [];
  const walk = (node: unknown, pointer: string, described: boolean) => {
    if (!isObject(node)) return;
    found.push({ pointer, node, described });
    for (const key of ['properties', 'patternProperties', '$defs'] as const) {
      if (isObject(node[key])) for (const [name, child] of Object.entries(node[key])) walk(child, `${pointer}/${key}/${name}`, true);
    }
    for (const key of ['anyOf', 'oneOf', 'allOf', 'prefixItems'] as const) {
      if (Array.isArray(node[key])) node[key].forEach((child, i) => walk(child, `${pointer}/${key}/${i}`, false));
    }
    for (const key of ['items', 'additionalProperties', 'not', 'if', 'then', 'else'] as const) walk(node[key], `${pointer}/${key}`, false);
  };
  walk(root, '#', true);
  return found;
}

describe.each(published)('schemas/$file', ({ file, schema }) => {
  const rendered = renderSchemaJson(schema);

  it('is what engine/schema generates', () => {
    const onDisk = readFileSync(join(ROOT, 'schemas', file), 'utf8');
    expect(onDisk, `schemas/${file} differs from engine/schema: run \`npm run schemas\``).toBe(rendered);
  });

  it('is pinned by a snapshot, so a change to the published format is deliberate', async () => {
    // On a deliberate change to the format: `npm run schemas`, then `npx vitest run test/schemas.test.ts -u`.
    await expect(rendered).toMatchFileSnapshot(`./__snapshots__/${file}`);
  });

  it('describes every property, definition and map value', () => {
    const undescribed = listSubSchemas(readPublished(file))
      .filter(({ node, described }) => described && !('$ref' in node))
      .filter(({ node }) => typeof node.description !== 'string' || node.description.trim() === '')
      .map(({ pointer }) => pointer);
    expect(undescribed).toEqual([]);
  });

  it('rejects unknown fields in every object', () => {
    const objects = listSubSchemas(readPublished(file)).filter(
      ({ node }) => node.type === 'object' || 'properties' in node || 'patternProperties' in node,
    );
    expect(objects.length).toBeGreaterThan(5);
    const open = objects.filter(({ node }) => node.additionalProperties !== false).map(({ pointer }) => pointer);
    expect(open).toEqual([]);
  });

  it('resolves every $ref to a definition in the file', () => {
    const root = readPublished(file);
    const defs = isObject(root.$defs) ? Object.keys(root.$defs) : [];
    const refs = listSubSchemas(root).flatMap(({ node }) => (typeof node.$ref === 'string' ? [node.$ref] : []));
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(defs.map((name) => `#/$defs/${name}`)).toContain(ref);
  });
});

describe(VALIDATORS_FILE, () => {
  it('is what engine/schema generates', () => {
    const onDisk = readFileSync(join(ROOT, VALIDATORS_FILE), 'utf8').split('\n');
    const rendered = renderValidatorsModule().split('\n');
    // Half a megabyte of generated code: name the first line that differs rather than print both.
    const line = rendered.findIndex((text, i) => text !== onDisk[i]);
    const drift = line === -1 && onDisk.length === rendered.length ? undefined : `line ${(line === -1 ? rendered.length : line) + 1}`;
    expect(drift, `${VALIDATORS_FILE} differs from engine/schema at this line: run \`npm run schemas\``).toBeUndefined();
  });
});

describe('the published schemas in a plain JSON Schema validator', () => {
  // What an editor or another tool does with the file: no x-hint keyword, no TypeBox.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validateRunbook = ajv.compile(readPublished('runbook.schema.json'));
  const validateInventory = ajv.compile(readPublished('inventory.schema.json'));
  const load = (path: string) => parse(readFileSync(join(FIXTURES, path), 'utf8')) as unknown;

  it.each(['valid/fabric-upgrade.yaml', 'valid/storage-upgrade.yaml'])('accept the valid runbook %s', (path) => {
    expect(validateRunbook(load(path)), JSON.stringify(validateRunbook.errors)).toBe(true);
  });

  it('accept the valid inventory', () => {
    expect(validateInventory(load('valid/fabric.inventory.yaml')), JSON.stringify(validateInventory.errors)).toBe(true);
  });

  it('reject an invalid runbook, pointing at the mistake', () => {
    expect(validateRunbook(load('invalid/unknown-field-retires.yaml'))).toBe(false);
    expect(validateRunbook.errors).toContainEqual(
      expect.objectContaining({ keyword: 'additionalProperties', instancePath: '/steps/0', params: { additionalProperty: 'retires' } }),
    );
  });

  it('reject an invalid inventory, pointing at the mistake', () => {
    expect(validateInventory(load('invalid/inventory-port-out-of-range.yaml'))).toBe(false);
    expect(validateInventory.errors).toContainEqual(expect.objectContaining({ keyword: 'maximum', instancePath: '/hosts/spine01/port' }));
  });

  it('reject a runbook given to the inventory schema', () => {
    expect(validateInventory(load('valid/fabric-upgrade.yaml'))).toBe(false);
  });
});
