import { statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { STATE_FOLDER, runFolder } from '../io/journal.js';
import type { FileHooks } from '../run/run-step.js';

/**
 * Where fetch and put steps keep files: fetched files under the run's folder
 * (`.runbook/runs/<run-id>/artifacts/<host>/<name>`, never committed: a configuration backup holds
 * secrets), repository files relative to the repository root and never outside it.
 */
export function createFileHooks(root: string, runId: string): { files: FileHooks } {
  const folder = runFolder(join(root, STATE_FOLDER), runId);
  return {
    files: {
      artifact(host, name) {
        // A host name is the inventory's: keep it one path segment whatever it holds.
        const segment = encodeURIComponent(host);
        return { path: join(folder, 'artifacts', segment, name), label: `artifacts/${segment}/${name}` };
      },
      repositoryFile(file) {
        const path = resolve(root, file);
        const inside = relative(root, path);
        if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return undefined;
        return { path, label: inside.split('\\').join('/'), isFile: statSync(path, { throwIfNoEntry: false })?.isFile() === true };
      },
    },
  };
}
