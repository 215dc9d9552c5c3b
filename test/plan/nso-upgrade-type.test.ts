import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDocument } from '../../engine/load/load-document.js';
import { makePlan } from '../../engine/plan/make-plan.js';
import { renderPlanMarkdown } from '../../engine/plan/render-plan-markdown.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Runbook } from '../../engine/schema/runbook.js';

// Seed 002, "Preparing for Upgrade": the same first two numbers of x.y.z is a maintenance upgrade,
// another first or second number a major one. The NSO runbooks derive it from the two versions, so
// the plan (a PR comment) says which one will run before anything does.

const ROOT = join(import.meta.dirname, '..', '..');

function load<T>(file: string): T {
  const loaded = loadDocument(file, readFileSync(join(ROOT, file), 'utf8'));
  if (!loaded.ok) throw new Error(`${file} does not load`);
  return loaded.value as T;
}

const inventory = load<Inventory>('inventories/lab.yaml');
const planOf = (runbook: string, fromVersion: string, targetVersion: string) =>
  makePlan({
    runbook: load<Runbook>(`runbooks/${runbook}.yaml`),
    inventory,
    files: { runbook: { path: `runbooks/${runbook}.yaml`, sha256: '0'.repeat(64) }, inventory: { path: 'inventories/lab.yaml', sha256: '0'.repeat(64) } },
    params: { fromVersion, targetVersion },
    commit: null,
    engineVersion: '0.0.0',
  });

describe.each(['nso-upgrade', 'ha-pair-upgrade'])('%s: maintenance or major, in the plan', (runbook) => {
  it.each([
    ['6.1.4', '6.1.7', 'maintenance'],
    ['6.0.1', '6.0.2', 'maintenance'],
    ['6.0.1', '6.1', 'major'],
    ['6.1.4', '6.2.3', 'major'],
    ['5.8.6', '6.1.4', 'major'],
  ])('%s -> %s is %s', (from, to, kind) => {
    const plan = planOf(runbook, from, to);
    expect(plan.params.upgrade).toBe(kind);
    expect(renderPlanMarkdown(plan)).toContain(`\`upgrade=${kind}\``);
  });
});
