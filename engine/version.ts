import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The nearest package.json: engine/ when run from source, dist/engine/ when built.
function readPackageVersion(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(folder, 'package.json'))) {
    const parent = dirname(folder);
    if (parent === folder) return '0.0.0';
    folder = parent;
  }
  return (JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Part of every plan hash: a new engine version makes older plans stale. */
export const ENGINE_VERSION = readPackageVersion();
