import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ELEMENT_SPECS, ELEMENT_TYPES, type ElementRecord, type ElementType, type FieldSpec } from '../snapshot/element-model.js';
import { ApiVersion, NAME_PATTERN, defineDuration, defineMap, defineObject } from './common.js';
import { HINT } from './vocabulary.js';

/** Snapshot names double as file names under reports/snapshots/. */
export const SNAPSHOT_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

const ElementName = Type.Union(
  ELEMENT_TYPES.map((type) => Type.Literal(type)),
  { description: 'An element type.' },
);

// ---------------------------------------------------------------- snapshot

function fieldSchema(spec: FieldSpec): TSchema {
  const description = spec.description;
  switch (spec.type) {
    case 'string':
      return Type.String({ description });
    case 'integer':
      return Type.Integer({ description });
    case 'number':
      return Type.Number({ description });
    case 'boolean':
      return Type.Boolean({ description });
    case 'list':
      return Type.Array(Type.String(), { description: `${description} Sorted.` });
  }
}

function recordSchema(type: ElementType): TSchema {
  const spec = ELEMENT_SPECS[type];
  const properties: Record<string, TSchema> = {};
  for (const [name, field] of Object.entries(spec.fields)) {
    properties[name] = spec.key.includes(name) ? fieldSchema(field) : Type.Optional(fieldSchema(field));
  }
  return defineObject(properties, {
    description: `${spec.title}: ${spec.description} Identity: ${spec.key.join(', ')}.`,
  });
}

/** The record schema of each element, generated from the element model. */
export const ELEMENT_RECORD_SCHEMAS = Object.fromEntries(ELEMENT_TYPES.map((type) => [type, recordSchema(type)])) as Record<
  ElementType,
  TSchema
>;

export const NOT_COLLECTED_CAUSES = ['noCollector', 'commandFailed', 'timeout', 'unparseable', 'transportError', 'skipped'] as const;
export type NotCollectedCause = (typeof NOT_COLLECTED_CAUSES)[number];

export const HostCollected = defineObject(
  {
    status: Type.Literal('collected', { description: 'Every collector of the element ran and parsed on this host.' }),
    records: Type.Integer({ minimum: 0, description: 'How many records this host gave.' }),
  },
  { description: 'The element was collected on this host.' },
);

export const HostNotCollected = defineObject(
  {
    status: Type.Literal('notCollected', { description: 'The element is unknown on this host: not the same as empty.' }),
    cause: Type.Union(
      NOT_COLLECTED_CAUSES.map((cause) => Type.Literal(cause)),
      {
        description:
          'noCollector: the profile has none for the platform; commandFailed: non-zero exit; timeout; unparseable: output did not fit the mapping; transportError: the command could not be run; skipped: an earlier transport error on the host.',
      },
    ),
    reason: Type.String({ description: 'What went wrong, for people.' }),
  },
  { description: 'The element was not collected on this host.' },
);

export const HostCollection = Type.Union([HostCollected, HostNotCollected], {
  description: 'How collecting one element went on one host.',
});

function elementEntrySchema(type: ElementType): TSchema {
  return defineObject(
    {
      status: Type.Union([Type.Literal('collected'), Type.Literal('partial'), Type.Literal('notCollected')], {
        description: 'collected: on every host; partial: on some; notCollected: on none. See `hosts` for each.',
      }),
      hosts: defineMap(HostCollection, {
        keyPattern: '^.+$',
        description: 'Per host: collected with a record count, or not collected with the cause.',
      }),
      records: Type.Array(ELEMENT_RECORD_SCHEMAS[type], {
        description: 'The records of the hosts that collected the element, sorted by identity.',
      }),
    },
    { description: `${ELEMENT_SPECS[type].title} records.` },
  );
}

export const SnapshotHost = defineObject(
  {
    name: Type.String({ description: 'The inventory host name.' }),
    platform: Type.Optional(Type.String({ description: 'The platform the profile chose commands by.' })),
  },
  { description: 'A host the snapshot covers.' },
);

export const Snapshot = defineObject(
  {
    apiVersion: ApiVersion,
    kind: Type.Literal('Snapshot', { description: 'Always `Snapshot`.' }),
    name: Type.String({
      pattern: SNAPSHOT_NAME_PATTERN,
      description: 'The snapshot name; also its file name under reports/snapshots/.',
      [HINT]: 'must start with a letter or digit and hold only letters, digits, dots, dashes and underscores',
    }),
    createdAt: Type.String({
      pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$',
      description: 'When the capture started, ISO 8601 in UTC.',
    }),
    durationMs: Type.Integer({ minimum: 0, description: 'How long the capture took.' }),
    note: Type.Optional(Type.String({ minLength: 1, description: 'What the snapshot is for (`snapshot create --note`).' })),
    engineVersion: Type.String({ description: 'The engine version that captured it.' }),
    profile: Type.String({ description: 'The name of the collection profile.' }),
    hosts: Type.Array(SnapshotHost, { description: 'The hosts the snapshot covers, in inventory order.' }),
    elements: defineObject(
      Object.fromEntries(ELEMENT_TYPES.map((type) => [type, elementEntrySchema(type)])),
      { description: 'Every element type, collected or not.' },
    ),
  },
  {
    $id: 'https://runbook.dev/schemas/snapshot.schema.json',
    title: 'Snapshot',
    description: 'The state of a set of hosts at one time, per element type, as a profile collected it.',
  },
);

export type SnapshotHost = Static<typeof SnapshotHost>;
export type HostCollection = Static<typeof HostCollection>;

/** One element of a snapshot; the generated record schemas are too dynamic for Static, so the type is spelt out. */
export interface SnapshotElement {
  status: 'collected' | 'partial' | 'notCollected';
  hosts: Record<string, HostCollection>;
  records: ElementRecord[];
}

export type Snapshot = Omit<Static<typeof Snapshot>, 'elements'> & { elements: Record<ElementType, SnapshotElement> };

// ---------------------------------------------------------------- profile

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

const PATH_DESCRIPTION =
  'A path: dot-separated keys, `[n]` for an array index, `[*]` or `*` for every item, `["a.b"]` for a key with dots; `{name}` inserts a bound key; a leading `$` starts from the root of the output instead of the item.';

const PathText = Type.String({ description: `JSON: ${PATH_DESCRIPTION} Text: a named group as \`{name}\`.`, minLength: 1 });

export const FieldMappingObject = defineObject(
  {
    path: Type.Optional(
      Type.Union([PathText, Type.Array(PathText, { minItems: 1, description: 'Alternatives: the first path that finds anything is used.' })], {
        description: 'Where the value is; a list gives alternatives for outputs of more than one shape.',
      }),
    ),
    value: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()], { description: 'A constant value instead of a path.' })),
    default: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()], { description: 'The value when the path finds nothing.' })),
    map: Type.Optional(
      defineMap(Type.Union([Type.String(), Type.Number(), Type.Boolean()], { description: 'The record value it becomes.' }), {
        keyPattern: '^.*$',
        description: 'Translate values: output value (as text) to record value; the key `*` catches every value not listed. Without `*`, values not listed pass unchanged.',
        examples: [{ UP: 'up', DN: 'down' }],
      }),
    ),
    regex: Type.Optional(
      Type.String({
        description: 'Keep the first group (or the whole match) of this regular expression on each value; values that do not match are dropped.',
        minLength: 1,
      }),
    ),
    split: Type.Optional(Type.String({ description: 'For list fields: split a text value on this separator.', minLength: 1 })),
    scale: Type.Optional(Type.Number({ description: 'Multiply a number by this, e.g. 0.001 for milliseconds to seconds; integer fields round down.' })),
    format: Type.Optional(
      Type.String({
        description:
          'Build the value from each object found at `path` (or the item): `{p}` is a bound name or a path inside the object; a section in [brackets] is dropped when a placeholder in it finds nothing.',
        examples: ['[via {gateway} ]dev {dev}'],
      }),
    ),
  },
  { description: 'How one record field is read.', examples: [{ path: 'linkstate', map: { UP: 'up', DN: 'down' } }] },
);

export const FieldMapping = Type.Union(
  [
    Type.String({ description: `${PATH_DESCRIPTION} Text output: \`{group}\` names a group of the regex.`, minLength: 1 }),
    FieldMappingObject,
  ],
  { description: 'A field: a path (or `{name}`), or an object with `path`/`value` and transformations.' },
);

export const WhereTest = defineObject(
  {
    matches: Type.Optional(Type.String({ minLength: 1, description: 'The value, as text, matches this regular expression.' })),
    exists: Type.Optional(Type.Boolean({ description: 'The path finds a value (true) or nothing (false).' })),
  },
  { description: 'A test on the value at the path.', minProperties: 1, examples: [{ exists: true }] },
);

export const JsonMapping = defineObject(
  {
    each: Type.Optional(
      Type.String({
        description: `Where the records are: ${PATH_DESCRIPTION} \`{name}\` here iterates over a map's keys (or an array's indexes) and binds each to \`name\`. Absent: the whole output is one record.`,
        examples: ['{vrf}.peers.{peer}', '[*]', '[{i}].addr_info[*]'],
      }),
    ),
    where: Type.Optional(
      defineMap(
        Type.Union([Scalar, Type.Array(Scalar, { minItems: 1 }), WhereTest], {
          description: 'A value to equal, a list of values one of which to equal, or a test.',
        }),
        {
          keyPattern: '^.+$',
          description: 'Keep only the items that pass every test: the key is a path into the item, the value what it must hold.',
          examples: [{ selected: true }, { sysMac: { exists: true } }, { type: { exists: false } }],
        },
      ),
    ),
    fields: defineMap(FieldMapping, { description: 'Record field to how it is read. `host` is set by capture.' }),
  },
  { description: 'Parse the output as JSON and map items to records.' },
);

export const TextMapping = defineObject(
  {
    match: Type.String({
      minLength: 1,
      description: 'A regular expression (RE2 dialect) applied to each line; named groups, `(?P<name>...)` or `(?<name>...)`, become the fields of the same name.',
      examples: ['^(?<name>\\S+)\\.service\\s+(?<enabled>\\S+)$'],
    }),
    ignore: Type.Optional(Type.String({ minLength: 1, description: 'Lines matching this are skipped (headers, separators).' })),
    strict: Type.Optional(
      Type.Boolean({ description: 'Every non-empty line must match `match` or `ignore`, else the output is unparseable (default false).' }),
    ),
    fields: Type.Optional(defineMap(FieldMapping, { description: 'Extra or transformed fields: constants, `{group}` with `map`, `regex`, `split`.' })),
  },
  { description: 'Parse the output line by line with a regular expression.' },
);

export const Collector = defineObject(
  {
    element: ElementName,
    description: Type.Optional(Type.String({ description: 'What the collector reads.' })),
    platforms: Type.Optional(
      Type.Array(Type.String(), {
        minItems: 1,
        description: 'Platforms (inventory `platform`) this collector serves; absent: every platform.',
        examples: [['cumulus']],
      }),
    ),
    command: Type.String({ minLength: 1, description: 'The read-only command to run; run once per host even when several collectors share it.' }),
    timeout: Type.Optional(defineDuration('How long the command may take')),
    json: Type.Optional(JsonMapping),
    text: Type.Optional(TextMapping),
  },
  {
    description: 'One command and how its output becomes records of one element. Needs exactly one of `json` or `text`.',
    examples: [{ element: 'bgp', platforms: ['cumulus'], command: 'show bgp json', json: { each: '{vrf}.peers.{peer}', fields: { vrf: '{vrf}' } } }],
  },
);

export const Profile = defineObject(
  {
    $schema: Type.Optional(Type.String({ description: 'The JSON Schema of this file, for editors.' })),
    apiVersion: ApiVersion,
    kind: Type.Literal('Profile', { description: 'Always `Profile`.' }),
    metadata: defineObject(
      {
        name: Type.String({ pattern: NAME_PATTERN, description: 'The profile name, as `--profile` and runbooks name it.', examples: ['fabric'] }),
        description: Type.Optional(Type.String({ description: 'What the profile collects.' })),
      },
      { description: 'Name and description.' },
    ),
    defaults: Type.Optional(
      defineObject(
        {
          timeout: Type.Optional(defineDuration('How long each command may take (default 30s)')),
          concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, description: 'Hosts collected at once (default 8).' })),
        },
        { description: 'Defaults for every collector.' },
      ),
    ),
    collectors: Type.Array(Collector, { minItems: 1, description: 'The collectors; several may fill the same element, their records add up.' }),
  },
  {
    $id: 'https://runbook.dev/schemas/profile.schema.json',
    title: 'Snapshot profile',
    description: 'Which commands collect which snapshot elements on which platform, and how their output maps to records.',
  },
);

export type Profile = Static<typeof Profile>;
export type Collector = Static<typeof Collector>;
export type FieldMapping = Static<typeof FieldMapping>;
export type JsonMapping = Static<typeof JsonMapping>;
export type TextMapping = Static<typeof TextMapping>;
export type WhereTest = Static<typeof WhereTest>;

// ---------------------------------------------------------------- diff

const RecordValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Array(Type.String())], {
  description: 'A field value.',
});
const AnyRecord = defineMap(RecordValue, { keyPattern: '^.+$', description: 'An element record, or its key fields.' });
const Side = Type.Union([Type.Literal('before'), Type.Literal('after')], { description: 'Which snapshot.' });

export const FieldChange = defineObject(
  {
    field: Type.String({ description: 'The field.' }),
    before: Type.Union([RecordValue, Type.Null()], { description: 'The value before; null when absent.' }),
    after: Type.Union([RecordValue, Type.Null()], { description: 'The value after; null when absent.' }),
  },
  { description: 'One changed field.' },
);

export const RecordChange = defineObject(
  {
    key: AnyRecord,
    fields: Type.Array(FieldChange, { minItems: 1, description: 'The fields that differ.' }),
  },
  { description: 'A record present in both snapshots whose compared fields differ.' },
);

export const NotCompared = defineObject(
  {
    host: Type.String({ description: 'The host.' }),
    reason: Type.String({ description: 'Why its records of this element were left out of the comparison.' }),
  },
  { description: 'A host whose records of an element could not be compared.' },
);

export const DuplicateKey = defineObject(
  {
    side: Side,
    key: AnyRecord,
    count: Type.Integer({ minimum: 2, description: 'How many records share the key.' }),
  },
  { description: 'Records sharing one identity key within one snapshot; left out of added, removed and changed.' },
);

export const ElementDiff = defineObject(
  {
    status: Type.Union([Type.Literal('compared'), Type.Literal('partial'), Type.Literal('notCollected')], {
      description: 'compared: on every host; partial: on the hosts both snapshots collected; notCollected: on none.',
    }),
    counts: defineObject(
      {
        before: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Records before; null when not collected on any host.' }),
        after: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Records after; null when not collected on any host.' }),
        added: Type.Integer({ minimum: 0, description: 'Records only after.' }),
        removed: Type.Integer({ minimum: 0, description: 'Records only before.' }),
        changed: Type.Integer({ minimum: 0, description: 'Records in both whose compared fields differ.' }),
        unchanged: Type.Integer({ minimum: 0, description: 'Records in both, equal (within tolerance).' }),
        tolerated: Type.Integer({ minimum: 0, description: 'Of the unchanged, records equal only thanks to a tolerance.' }),
      },
      { description: 'Counts.' },
    ),
    excluded: Type.Array(Type.String(), { description: 'Fields left out of the comparison.' }),
    added: Type.Array(AnyRecord, { description: 'Records only after.' }),
    removed: Type.Array(AnyRecord, { description: 'Records only before.' }),
    changed: Type.Array(RecordChange, { description: 'Changed records.' }),
    notCompared: Type.Array(NotCompared, { description: 'Hosts left out of the comparison of this element.' }),
    duplicates: Type.Array(DuplicateKey, { description: 'Identity keys held by more than one record.' }),
  },
  { description: 'The comparison of one element type.' },
);

const SnapshotRef = defineObject(
  {
    name: Type.String({ description: 'The snapshot name.' }),
    createdAt: Type.String({ description: 'When it was captured.' }),
    note: Type.Optional(Type.String({ description: 'Its note, when it has one.' })),
    commit: Type.Optional(Type.String({ description: 'The commit it was read from, for a snapshot found in git history (`NAME@TIME`, `@TIME`).' })),
    live: Type.Optional(Type.Boolean({ description: 'Captured for this comparison, not stored (`live`).' })),
  },
  { description: 'A compared snapshot.' },
);

export const SnapshotDiff = defineObject(
  {
    apiVersion: ApiVersion,
    kind: Type.Literal('SnapshotDiff', { description: 'Always `SnapshotDiff`.' }),
    before: SnapshotRef,
    after: SnapshotRef,
    options: defineObject(
      {
        defaultExclusions: Type.Boolean({ description: 'Volatile fields were left out.' }),
        exclude: Type.Array(Type.String(), { description: 'Extra exclusions, `field` or `element.field`.' }),
        tolerances: defineMap(Type.Array(Type.String(), { description: 'The rules, e.g. `10%`, `+5`.' }), {
          keyPattern: '^.+$',
          description: '`element.field` to its numeric tolerance rules.',
        }),
        filter: Type.Optional(
          defineObject(
            {
              only: Type.Array(Type.Union([Type.Literal('added'), Type.Literal('removed'), Type.Literal('changed')]), {
                description: 'The kinds of difference kept.',
              }),
              hosts: Type.Optional(Type.Array(Type.String(), { description: 'The hosts whose records were kept.' })),
            },
            { description: 'Present when the comparison was narrowed (`diff --only`, `--host`): added, removed and changed count what is left.' },
          ),
        ),
      },
      { description: 'How the snapshots were compared.' },
    ),
    elements: defineObject(Object.fromEntries(ELEMENT_TYPES.map((type) => [type, Type.Optional(ElementDiff)])), {
      description: 'Element type to its comparison, in model order; only the compared elements are present.',
    }),
    totals: defineObject(
      {
        added: Type.Integer({ minimum: 0, description: 'Records added, all elements.' }),
        removed: Type.Integer({ minimum: 0, description: 'Records removed, all elements.' }),
        changed: Type.Integer({ minimum: 0, description: 'Records changed, all elements.' }),
        notCollected: Type.Array(Type.String(), { description: 'Elements not compared on every host.' }),
        duplicates: Type.Integer({ minimum: 0, description: 'Duplicate identity keys, all elements.' }),
      },
      { description: 'Totals.' },
    ),
  },
  {
    $id: 'https://runbook.dev/schemas/snapshot-diff.schema.json',
    title: 'Snapshot comparison',
    description: 'The differences between a snapshot before (A) and after (B), matched by identity key.',
  },
);

export type FieldChange = Static<typeof FieldChange>;
export type RecordChange = Static<typeof RecordChange>;
export type NotCompared = Static<typeof NotCompared>;
export type DuplicateKey = Static<typeof DuplicateKey>;
export type ElementDiff = Static<typeof ElementDiff>;
/** The generated per-element properties are too dynamic for Static, so `elements` is spelt out. */
export type SnapshotDiff = Omit<Static<typeof SnapshotDiff>, 'elements'> & { elements: Partial<Record<ElementType, ElementDiff>> };
