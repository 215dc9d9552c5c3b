import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file below `folder`, walked depth first: what a secrets search reads. */
export function filesUnder(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
