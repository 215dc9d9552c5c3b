// Regenerates schemas/*.schema.json from engine/schema; test/schemas.test.ts fails when they drift.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PUBLISHED_SCHEMAS, renderSchemaJson } from '../engine/schema/index.js';

const folder = join(import.meta.dirname, '..', 'schemas');
for (const [file, schema] of Object.entries(PUBLISHED_SCHEMAS)) {
  writeFileSync(join(folder, file), renderSchemaJson(schema));
  console.log(`wrote schemas/${file}`);
}
