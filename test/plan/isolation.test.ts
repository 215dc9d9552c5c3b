import { describe, expect, it } from 'vitest';
import { makePlan, type PlanInputs } from '../../engine/plan/make-plan.js';
import { renderPlanMarkdown } from '../../engine/plan/render-plan-markdown.js';
import type { Topology } from '../../engine/plan/isolation.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Runbook } from '../../engine/schema/runbook.js';

// The document's "switch order" pre-check (shared/seeds/000_4b255f1ae4f79528.txt, Cumulus Linux
// Upgrade, pre-check table): a batch must not cut a switch off from every neighbour it depends on.

const inventory: Inventory = {
  apiVersion: 'runbook/v1',
  kind: 'Inventory',
  defaults: { user: 'cumulus', auth: { passwordEnv: 'FABRIC_PASSWORD' }, groups: ['fabric'], platform: 'cumulus' },
  hosts: {
    spine01: { address: '10.0.0.1', role: 'spine' },
    spine02: { address: '10.0.0.2', role: 'spine' },
    spine03: { address: '10.0.0.3', role: 'spine' },
    leaf01: { address: '10.0.1.1', role: 'leaf', labels: { mlagPeer: 'leaf02' } },
    leaf02: { address: '10.0.1.2', role: 'leaf', labels: { mlagPeer: 'leaf01' } },
    leaf05: { address: '10.0.1.5', role: 'leaf' },
  },
};

function createRunbook(isolation: 'error' | 'warning' | undefined, steps: Runbook['steps'] = [{ id: 'install', kind: 'install', run: 'onie-install -a -i x' }]): Runbook {
  return {
    apiVersion: 'runbook/v1',
    kind: 'Runbook',
    metadata: { name: 'fabric-upgrade', version: '1.0.0' },
    targets: { group: 'fabric' },
    strategy: { order: ['spine', 'leaf'], batchSize: 2, ...(isolation ? { isolation } : {}) },
    steps,
  };
}

const fullMesh: Topology = {
  source: { snapshot: 'baseline', createdAt: '2026-12-01T10:00:00.000Z' },
  links: [
    ['leaf01', 'spine01'],
    ['leaf01', 'spine02'],
    ['leaf02', 'spine01'],
    ['leaf02', 'spine02'],
    ['leaf01', 'leaf02'],
  ],
};

function plan(runbook: Runbook, topology?: Topology, targets?: string[]) {
  const hosts = targets ? Object.fromEntries(Object.entries(inventory.hosts).filter(([name]) => targets.includes(name))) : inventory.hosts;
  const inputs: PlanInputs = {
    runbook,
    inventory: { ...inventory, hosts },
    files: { runbook: { path: 'runbooks/r.yaml', sha256: 'a'.repeat(64) }, inventory: { path: 'inventories/i.yaml', sha256: 'b'.repeat(64) } },
    params: {},
    commit: 'c0ffee',
    engineVersion: '0.1.0',
    ...(topology ? { topology } : {}),
  };
  return makePlan(inputs);
}

const noSpine03 = ['spine01', 'spine02', 'leaf01', 'leaf02'];

describe('strategy.isolation', () => {
  it('without it both spines share a batch (the leaves lose every uplink) and nothing is said', () => {
    const result = plan(createRunbook(undefined), fullMesh, noSpine03);
    expect(result.stages[0]).toEqual({ name: 'spine', batches: [['spine01', 'spine02']] });
    expect(result.checks).toEqual([]);
  });

  it('splits a batch that would take both spines of a leaf down, and the plan Markdown names the topology', () => {
    const result = plan(createRunbook('error'), fullMesh, noSpine03);
    expect(result.stages).toEqual([
      { name: 'spine', batches: [['spine01'], ['spine02']] },
      { name: 'leaf', batches: [['leaf01'], ['leaf02']] },
    ]);
    expect(result.checks).toEqual([]);
    expect(result.topology).toEqual({ snapshot: 'baseline', createdAt: '2026-12-01T10:00:00.000Z', links: 5 });
    const markdown = renderPlanMarkdown(result);
    expect(markdown).toContain('LLDP of snapshot `baseline` taken 2026-12-01T10:00:00.000Z (5 links)');
    expect(markdown).toContain('spine01');
  });

  it('keeps spines together where a third one still serves every leaf', () => {
    const topology: Topology = { ...fullMesh, links: [...fullMesh.links, ['leaf01', 'spine03'], ['leaf02', 'spine03']] };
    const result = plan(createRunbook('error'), topology, ['spine01', 'spine02', 'spine03', 'leaf01', 'leaf02']);
    expect(result.stages[0]).toEqual({ name: 'spine', batches: [['spine01', 'spine02'], ['spine03']] });
  });

  it('reports a leaf with a single uplink as an error with a hint, naming both switches', () => {
    const topology: Topology = { ...fullMesh, links: [...fullMesh.links, ['leaf05', 'spine01']] };
    const result = plan(createRunbook('error'), topology, ['spine01', 'spine02', 'leaf01', 'leaf02', 'leaf05']);
    const found = result.checks.filter((c) => c.code === 'RB2050');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'error', hosts: ['spine01', 'leaf05'] });
    expect(found[0]!.message).toContain('`spine01` cannot be changed without isolating `leaf05`');
    expect(found[0]!.hint).toContain('redundant link');
    expect(renderPlanMarkdown(result)).toContain('RB2050');
  });

  it('reports it as a warning when the runbook says so', () => {
    const topology: Topology = { ...fullMesh, links: [...fullMesh.links, ['leaf05', 'spine01']] };
    const result = plan(createRunbook('warning'), topology, ['spine01', 'spine02', 'leaf01', 'leaf02', 'leaf05']);
    expect(result.checks.filter((c) => c.code === 'RB2050').map((c) => c.severity)).toEqual(['warning']);
  });

  it('warns when no topology is available, and the Markdown says batches were not checked', () => {
    const result = plan(createRunbook('error'), { source: null, links: [] }, noSpine03);
    expect(result.stages[0]).toEqual({ name: 'spine', batches: [['spine01', 'spine02']] });
    expect(result.checks.map((c) => [c.code, c.severity])).toEqual([['RB2051', 'warning']]);
    expect(result.topology).toEqual({ snapshot: null });
    expect(renderPlanMarkdown(result)).toContain('none available: batches not checked for isolated neighbours (RB2051)');
  });

  it('packs the first spine of every pod into one batch and the second spines into the next, not a batch per spine', () => {
    const hosts: Inventory['hosts'] = {};
    const links: Array<[string, string]> = [];
    for (const pod of [1, 2, 3]) {
      for (const spine of [1, 2]) hosts[`p${pod}-spine${spine}`] = { address: '10.0.0.1', role: 'spine' };
      for (const leaf of [1, 2]) {
        hosts[`p${pod}-leaf${leaf}`] = { address: '10.0.1.1', role: 'leaf' };
        for (const spine of [1, 2]) links.push([`p${pod}-leaf${leaf}`, `p${pod}-spine${spine}`]);
      }
    }
    const result = makePlan({
      runbook: { ...createRunbook('error'), strategy: { order: ['spine', 'leaf'], batchSize: 4, isolation: 'error' } },
      inventory: { ...inventory, hosts },
      files: { runbook: { path: 'r.yaml', sha256: 'a'.repeat(64) }, inventory: { path: 'i.yaml', sha256: 'b'.repeat(64) } },
      params: {},
      commit: null,
      engineVersion: '0.1.0',
      topology: { source: { snapshot: 'pods', createdAt: '2026-12-01T10:00:00.000Z' }, links },
    });
    expect(result.stages[0]).toEqual({
      name: 'spine',
      batches: [
        ['p1-spine1', 'p2-spine1', 'p3-spine1'],
        ['p1-spine2', 'p2-spine2', 'p3-spine2'],
      ],
    });
    expect(result.checks).toEqual([]);
  });

  it('does not apply to a runbook that changes nothing', () => {
    const result = plan(createRunbook('error', [{ id: 'look', kind: 'check', run: 'hostname' }]), fullMesh, noSpine03);
    expect(result.stages[0]).toEqual({ name: 'spine', batches: [['spine01', 'spine02']] });
    expect(result.topology).toBeUndefined();
  });
});
