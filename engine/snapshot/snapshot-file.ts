import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { createInputError } from '../errors.js';
import { HINT } from '../schema/vocabulary.js';
import { Snapshot } from '../schema/snapshot.js';
import { ELEMENT_TYPES } from './element-model.js';

let validator: ValidateFunction | undefined;

function validateSnapshot(value: unknown): readonly ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true });
    ajv.addKeyword({ keyword: HINT, schemaType: 'string' });
    validator = ajv.compile(Snapshot);
  }
  return validator(value) ? [] : (validator.errors ?? []);
}

/** Reads snapshot JSON and checks it against the schema; `file` names it in errors. */
export function parseSnapshot(text: string, file: string): Snapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw createInputError('RB1504', `${file}: not a snapshot, the JSON does not parse (${(error as Error).message})`);
  }
  const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
  if (kind !== 'Snapshot') {
    throw createInputError('RB1504', `${file}: not a snapshot (\`kind\` is ${kind === undefined ? 'missing' : `\`${String(kind)}\``}); pass a file written by \`runbook snapshot create\``);
  }
  const errors = validateSnapshot(value);
  if (errors.length > 0) {
    const first = errors[0]!;
    throw createInputError('RB1504', `${file}: not a valid snapshot: ${first.instancePath || '/'} ${first.message ?? 'is invalid'}`);
  }
  return value as Snapshot;
}

/**
 * The snapshot as JSON text, in pieces: one record per line, so a committed snapshot diffs line by
 * line in git and a large one never has to be one string.
 */
export function* serializeSnapshot(snapshot: Snapshot): Generator<string> {
  const { elements, ...head } = snapshot;
  const headText = JSON.stringify(head, null, 2);
  yield `${headText.slice(0, -2)},\n  "elements": {\n`;
  const types = ELEMENT_TYPES.filter((type) => elements[type] !== undefined);
  for (let t = 0; t < types.length; t++) {
    const type = types[t]!;
    const { records, ...rest } = elements[type];
    yield `    ${JSON.stringify(type)}: {\n`;
    yield `      "status": ${JSON.stringify(rest.status)},\n`;
    yield `      "hosts": ${JSON.stringify(rest.hosts)},\n`;
    if (records.length === 0) yield '      "records": []\n';
    else {
      yield '      "records": [\n';
      const chunk: string[] = [];
      for (let i = 0; i < records.length; i++) {
        chunk.push(`        ${JSON.stringify(records[i])}${i === records.length - 1 ? '' : ','}\n`);
        if (chunk.length === 1000) yield chunk.splice(0).join('');
      }
      if (chunk.length > 0) yield chunk.join('');
      yield '      ]\n';
    }
    yield `    }${t === types.length - 1 ? '' : ','}\n`;
  }
  yield '  }\n}\n';
}

export function serializeSnapshotText(snapshot: Snapshot): string {
  return [...serializeSnapshot(snapshot)].join('');
}
