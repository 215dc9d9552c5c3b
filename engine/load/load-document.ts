import type { Inventory } from '../schema/inventory.js';
import type { Runbook } from '../schema/runbook.js';
import type { Profile } from '../schema/snapshot.js';
import { checkProfileRules } from '../snapshot/profile.js';
import { checkInventoryRules } from './check-inventory.js';
import { checkRunbookRules } from './check-runbook.js';
import { countErrors, type Diagnostic } from './diagnostic.js';
import { validateAgainstSchema } from './validate-schema.js';
import { parseYamlSource, type YamlSource } from './yaml-source.js';

export const DOCUMENT_KINDS = ['Runbook', 'Inventory', 'Profile'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

const RULES: Record<DocumentKind, (source: YamlSource) => Diagnostic[]> = {
  Runbook: checkRunbookRules,
  Inventory: checkInventoryRules,
  Profile: checkProfileRules,
};

export type LoadedDocument =
  | { ok: true; kind: 'Runbook'; value: Runbook; source: YamlSource; diagnostics: Diagnostic[] }
  | { ok: true; kind: 'Inventory'; value: Inventory; source: YamlSource; diagnostics: Diagnostic[] }
  | { ok: true; kind: 'Profile'; value: Profile; source: YamlSource; diagnostics: Diagnostic[] }
  | { ok: false; kind: DocumentKind | undefined; source: YamlSource; diagnostics: Diagnostic[] };

/** Parses, validates and checks one document. Pure: the caller reads the file. */
export function loadDocument(file: string, text: string, expected?: DocumentKind): LoadedDocument {
  const source = parseYamlSource(file, text);
  if (source.diagnostics.length > 0) return { ok: false, kind: expected, source, diagnostics: source.diagnostics };
  const value = source.value;
  if (value === null || value === undefined) {
    return { ok: false, kind: expected, source, diagnostics: [source.diagnose('RB1006', `the file is empty; write a ${expected ?? 'Runbook or Inventory'} document`, [])] };
  }
  const declared = typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>).kind : undefined;
  const kind = DOCUMENT_KINDS.find((k) => k === declared);
  if (!kind || (expected && kind !== expected)) {
    const wanted = expected ?? `${DOCUMENT_KINDS.slice(0, -1).join(', ')} or ${DOCUMENT_KINDS.at(-1)}`;
    const message =
      declared === undefined
        ? `no \`kind\` field; add \`kind: ${expected ?? DOCUMENT_KINDS[0]}\` (with \`apiVersion: runbook/v1\`)`
        : `\`kind: ${String(declared)}\` is not ${expected ? `${/^[AEIOU]/.test(wanted) ? 'an' : 'a'} ${wanted}` : `one of ${wanted}`} here; ${expected ? `pass a file of kind ${expected}` : 'fix the kind'}`;
    return { ok: false, kind: expected, source, diagnostics: [source.diagnose('RB1003', message, declared === undefined ? [] : ['kind'])] };
  }
  const diagnostics = [...validateAgainstSchema(source, kind), ...RULES[kind](source)].sort(
    (a, b) => a.line - b.line || a.col - b.col,
  );
  if (countErrors(diagnostics) > 0) return { ok: false, kind, source, diagnostics };
  switch (kind) {
    case 'Runbook':
      return { ok: true, kind, value: value as Runbook, source, diagnostics };
    case 'Inventory':
      return { ok: true, kind, value: value as Inventory, source, diagnostics };
    case 'Profile':
      return { ok: true, kind, value: value as Profile, source, diagnostics };
  }
}
