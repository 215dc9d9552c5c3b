import { describe, expect, it } from 'vitest';
import { generateFabricHosts, generateFabricUpgradeRunbook, renderFabricInventory } from '../../bench/lib/fabric.js';
import { renderPlanJson } from '../../engine/commands/plan.js';
import { formatDiagnostic } from '../../engine/load/diagnostic.js';
import { loadDocument } from '../../engine/load/load-document.js';
import { computePlanHash, makePlan } from '../../engine/plan/make-plan.js';
import { MARKDOWN_LIMIT, renderPlanMarkdown } from '../../engine/plan/render-plan-markdown.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Plan } from '../../engine/schema/plan.js';
import type { Runbook } from '../../engine/schema/runbook.js';

const HOSTS = 2_000;
const runbookText = generateFabricUpgradeRunbook();
const inventoryText = renderFabricInventory(generateFabricHosts(HOSTS));

function load<T>(file: string, text: string, kind: 'Runbook' | 'Inventory'): T {
  const loaded = loadDocument(file, text, kind);
  if (!loaded.ok) throw new Error(loaded.diagnostics.map(formatDiagnostic).join('\n'));
  return loaded.value as T;
}

/** Loads both texts afresh each time, as two CI runs on the same commit would. */
function planFabric(edit: (runbook: Runbook) => void = () => {}): Plan {
  const runbook = load<Runbook>('runbooks/fabric-upgrade.yaml', runbookText, 'Runbook');
  edit(runbook);
  return makePlan({
    runbook,
    inventory: load<Inventory>('inventories/fabric.yaml', inventoryText, 'Inventory'),
    files: { runbook: { path: 'runbooks/fabric-upgrade.yaml', sha256: 'a'.repeat(64) }, inventory: { path: 'inventories/fabric.yaml', sha256: 'b'.repeat(64) } },
    params: { targetVersion: '4.4.0' },
    commit: 'c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffe',
    engineVersion: '0.1.0',
  });
}

describe(`a plan of ${HOSTS} hosts`, () => {
  it('keeps both peers of every MLAG pair out of the same batch', () => {
    const plan = planFabric();
    const peerOf = new Map(Object.entries(plan.hosts).map(([name, host]) => [name, host.labels.mlagPeer]));
    const batches = plan.stages.flatMap((s) => s.batches);
    expect(batches.flat()).toHaveLength(HOSTS);
    expect(batches.filter((batch) => batch.some((name) => batch.includes(peerOf.get(name) ?? '')))).toEqual([]);
    expect(plan.checks.filter((c) => c.severity === 'error')).toEqual([]);
  });

  it('renders Markdown under the comment limit with the header, the checks, the stages and a note of the hosts left out', () => {
    // A role in `order` that no host has: a warning, so that the checks table has a row at this size too.
    const plan = planFabric((runbook) => {
      runbook.strategy = { ...runbook.strategy, order: ['spine', 'leaf', 'superspine'] };
    });
    const markdown = renderPlanMarkdown(plan);
    const batches = plan.stages.reduce((n, s) => n + s.batches.length, 0);

    expect(markdown.length).toBeLessThan(MARKDOWN_LIMIT);
    expect(markdown.startsWith('## Plan: fabric-upgrade 1.3.0\n')).toBe(true);
    expect(markdown).toContain(`| Plan hash | \`${plan.hash}\` |`);
    expect(markdown).toContain(`| Hosts | ${HOSTS} in 2 stage(s), ${batches} batch(es) of up to 2 |`);

    expect(markdown).toContain('### Checks');
    expect(markdown).toMatch(/\| ⚠️ warning \| RB2102 \| no targeted host has role `superspine`/);

    expect(markdown).toContain('### Stages and batches');
    expect(markdown).toContain('| spine | 1 of 40 | p001-spine1, p001-spine2 |');
    expect(markdown).toContain(`| … | … | ${batches - 40} more batch(es) |`);
    const leafBatches = plan.stages.find((s) => s.name === 'leaf')!.batches;
    expect(markdown).toContain(`| leaf | ${leafBatches.length} of ${leafBatches.length} | ${leafBatches.at(-1)!.join(', ')} |`);

    const shown = markdown.match(/<details><summary>/g)?.length ?? 0;
    expect(shown).toBeGreaterThan(0);
    expect(markdown).toContain('<details><summary><b>p001-spine1</b> (spine, 10.0.1.1:22, cumulus)');
    const note = /_(\d+) more host\(s\) not shown to keep this comment under 60,000 characters/.exec(markdown);
    expect(Number(note?.[1])).toBe(HOSTS - shown);
  });

  it('gives the same JSON and the same hash when planned twice, and the hash matches the JSON it is written in', () => {
    const first = planFabric();
    const second = planFabric();
    expect(second.hash).toBe(first.hash);
    expect(first.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const json = renderPlanJson(first);
    expect(renderPlanJson(second)).toBe(json);
    expect(computePlanHash(JSON.parse(json) as Plan)).toBe(first.hash);
  });
});
