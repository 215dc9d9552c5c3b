import type { TSchema } from '@sinclair/typebox';
import { Auth, Host, Inventory } from './inventory.js';
import { Approval, OutputExcerpt, ReportHost, ReportStep, RunReport } from './report.js';
import { Expect, Precheck, Runbook, Step } from './runbook.js';
import { Collector, ELEMENT_RECORD_SCHEMAS, ElementDiff, FieldMapping, HostCollection, Profile, RecordChange, Snapshot, SnapshotDiff } from './snapshot.js';

const DRAFT = 'https://json-schema.org/draft/2020-12/schema';

interface Published {
  schema: TSchema;
  /** Sub-schemas written once under `$defs` and referenced, so the file stays readable. */
  defs: Record<string, TSchema>;
}

/** The published schemas, by file name under `schemas/`. Generated from the TypeBox definitions, never edited by hand. */
export const PUBLISHED_SCHEMAS: Record<string, Published> = {
  'runbook.schema.json': { schema: Runbook, defs: { Step, Precheck, Expect } },
  'inventory.schema.json': { schema: Inventory, defs: { Host, Auth } },
  'report.schema.json': { schema: RunReport, defs: { ReportHost, ReportStep, OutputExcerpt, Approval } },
  'snapshot.schema.json': {
    schema: Snapshot,
    defs: {
      HostCollection,
      ...Object.fromEntries(Object.entries(ELEMENT_RECORD_SCHEMAS).map(([type, schema]) => [`${type[0]!.toUpperCase()}${type.slice(1)}Record`, schema])),
    },
  },
  'profile.schema.json': { schema: Profile, defs: { Collector, FieldMapping } },
  'snapshot-diff.schema.json': { schema: SnapshotDiff, defs: { ElementDiff, RecordChange } },
};

export function renderSchemaJson({ schema, defs }: Published): string {
  const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
  const byText = new Map(Object.entries(defs).map(([name, def]) => [JSON.stringify(plain(def)), name]));
  const replace = (node: unknown, isDefRoot = false): unknown => {
    if (Array.isArray(node)) return node.map((item) => replace(item));
    if (node === null || typeof node !== 'object') return node;
    const name = isDefRoot ? undefined : byText.get(JSON.stringify(node));
    if (name) return { $ref: `#/$defs/${name}` };
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, replace(value)]));
  };
  const $defs = Object.fromEntries(Object.entries(defs).map(([name, def]) => [name, replace(plain(def), true)]));
  return `${JSON.stringify({ $schema: DRAFT, ...(replace(plain(schema)) as object), $defs }, null, 2)}\n`;
}
