import { checkRolesAgainstInventory } from '../load/check-runbook.js';
import { countErrors, formatDiagnostic, type Diagnostic } from '../load/diagnostic.js';
import { DOCUMENT_KINDS, loadDocument, type LoadedDocument } from '../load/load-document.js';
import { resolveHosts, selectTargets } from '../plan/inventory.js';
import { EXIT_CODES, createInputError, type ExitCode } from '../errors.js';
import { collectYamlFiles, displayPath, readText } from '../io/files.js';

const PLURALS: Record<(typeof DOCUMENT_KINDS)[number], string> = { Runbook: 'runbooks', Inventory: 'inventories', Profile: 'profiles' };

export interface ValidateOptions {
  format: 'text' | 'json';
  write: (text: string) => void;
}

export interface ValidateResult {
  files: Array<{ file: string; kind: string | undefined; valid: boolean }>;
  diagnostics: Diagnostic[];
}

/** Loads every file, then checks each runbook's roles against the inventories it targets hosts in. */
export function validateFiles(paths: readonly string[]): ValidateResult {
  const loaded: LoadedDocument[] = collectYamlFiles(paths).map((path) => loadDocument(displayPath(path), readText(path)));
  const inventories = loaded.filter((d) => d.ok && d.kind === 'Inventory');
  for (const doc of loaded) {
    if (!doc.ok || doc.kind !== 'Runbook') continue;
    for (const inventory of inventories) {
      if (!inventory.ok || inventory.kind !== 'Inventory') continue;
      const targets = selectTargets(doc.value.targets, resolveHosts(inventory.value));
      if (targets.length === 0) continue;
      const roles = new Set(targets.flatMap((h) => (h.role ? [h.role] : [])));
      doc.diagnostics.push(...checkRolesAgainstInventory(doc.source, doc.value, inventory.source.file, roles));
    }
  }
  return {
    files: loaded.map((d) => ({ file: d.source.file, kind: d.kind, valid: countErrors(d.diagnostics) === 0 })),
    diagnostics: loaded.flatMap((d) => d.diagnostics),
  };
}

export function runValidate(paths: readonly string[], options: ValidateOptions): ExitCode {
  const result = validateFiles(paths);
  if (result.files.length === 0) {
    throw createInputError('RB1005', `no .yaml or .yml files under ${paths.join(', ')}; name runbook or inventory files or folders holding them`);
  }
  const errors = countErrors(result.diagnostics);
  const invalid = result.files.filter((f) => !f.valid).length;
  if (options.format === 'json') {
    options.write(`${JSON.stringify({ valid: errors === 0, ...result, summary: { files: result.files.length, invalid, errors } }, null, 2)}\n`);
  } else {
    for (const d of result.diagnostics) options.write(`${formatDiagnostic(d)}\n`);
    const counts = DOCUMENT_KINDS.map((kind) => [kind, result.files.filter((f) => f.kind === kind).length] as const)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${n} ${n === 1 ? kind.toLowerCase() : PLURALS[kind]}`);
    options.write(
      errors === 0
        ? `${result.files.length} file(s) valid (${counts.join(', ')})\n`
        : `${errors} error(s) in ${invalid} of ${result.files.length} file(s)\n`,
    );
  }
  return errors === 0 ? EXIT_CODES.ok : EXIT_CODES.badInput;
}
