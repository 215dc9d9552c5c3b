import { statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { FileHooks } from '../run/run-step.js';

/** Where put steps find their files: relative to the repository root, and never outside it. */
export function createFileHooks(root: string): { files: FileHooks } {
  return {
    files: {
      repositoryFile(file) {
        const path = resolve(root, file);
        const inside = relative(root, path);
        if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return undefined;
        return { path, label: inside.split('\\').join('/'), isFile: statSync(path, { throwIfNoEntry: false })?.isFile() === true };
      },
    },
  };
}
