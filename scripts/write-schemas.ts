// Regenerates schemas/*.schema.json and the precompiled validators from engine/schema; test/schemas.test.ts fails when they drift.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PUBLISHED_SCHEMAS, renderSchemaJson } from '../engine/schema/index.js';
import { VALIDATORS_FILE, renderValidatorsModule } from './render-validators.js';

const root = join(import.meta.dirname, '..');
for (const [file, schema] of Object.entries(PUBLISHED_SCHEMAS)) {
  writeFileSync(join(root, 'schemas', file), renderSchemaJson(schema));
  console.log(`wrote schemas/${file}`);
}
mkdirSync(dirname(join(root, VALIDATORS_FILE)), { recursive: true });
writeFileSync(join(root, VALIDATORS_FILE), renderValidatorsModule());
console.log(`wrote ${VALIDATORS_FILE}`);
