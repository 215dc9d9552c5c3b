import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { toCanonicalJson } from '../../engine/plan/canonical-json.js';
import { makePlan, makePlanDocument, type PlanInputs } from '../../engine/plan/make-plan.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { RunbookError } from '../../engine/errors.js';

function createInventory(overrides: Partial<Inventory> = {}): Inventory {
  return {
    apiVersion: 'runbook/v1',
    kind: 'Inventory',
    defaults: { user: 'cumulus', auth: { passwordEnv: 'FABRIC_PASSWORD' }, groups: ['fabric'], platform: 'cumulus' },
    hosts: {
      spine01: { address: '10.0.0.1', role: 'spine' },
      spine02: { address: '10.0.0.2', role: 'spine' },
      leaf01: { address: '10.0.1.1', role: 'leaf', labels: { mlagPeer: 'leaf02' } },
      leaf02: { address: '10.0.1.2', role: 'leaf', labels: { mlagPeer: 'leaf01' } },
      leaf03: { address: '10.0.1.3', role: 'leaf', labels: { mlagPeer: 'leaf04' } },
      leaf04: { address: '10.0.1.4', role: 'leaf', labels: { mlagPeer: 'leaf03' } },
      border01: { address: '10.0.2.1' },
    },
    ...overrides,
  };
}

function createRunbook(overrides: Partial<Runbook> = {}): Runbook {
  return {
    apiVersion: 'runbook/v1',
    kind: 'Runbook',
    metadata: { name: 'fabric-upgrade', version: '1.3.0' },
    params: {
      targetVersion: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+$', required: true },
      image: { type: 'string', default: 'cumulus-linux-{{params.targetVersion}}.bin' },
    },
    targets: { group: 'fabric' },
    strategy: { order: ['spine', 'leaf'], batchSize: 2 },
    prechecks: [
      { id: 'release', run: 'cat /etc/lsb-release', capture: { current: { regex: 'DISTRIB_RELEASE=(\\S+)' } } },
    ],
    steps: [
      { id: 'install', kind: 'install', run: 'onie-install -a -i /var/images/{{params.image}}' },
      { id: 'peer-check', kind: 'verify', run: 'net show clag json', on: { role: 'leaf' } },
      { id: 'report', kind: 'check', run: 'echo {{host.name}} was {{current}}' },
    ],
    rollback: [{ id: 'restore', run: 'onie-install -a -i /var/images/cumulus-linux-{{current}}.bin' }],
    ...overrides,
  };
}

function plan(runbook: Runbook, inventory = createInventory(), params: Record<string, string> = { targetVersion: '4.4.0' }) {
  const inputs: PlanInputs = {
    runbook,
    inventory,
    files: { runbook: { path: 'runbooks/r.yaml', sha256: 'a'.repeat(64) }, inventory: { path: 'inventories/i.yaml', sha256: 'b'.repeat(64) } },
    params,
    commit: 'c0ffee',
    engineVersion: '0.1.0',
  };
  return makePlan(inputs);
}

function planError(fn: () => unknown): RunbookError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RunbookError) return error;
    throw error;
  }
  throw new Error('expected a RunbookError');
}

describe('makePlan', () => {
  it('orders stages by role, keeps MLAG peers apart and puts hosts without a listed role last', () => {
    const result = plan(createRunbook());
    expect(result.stages).toEqual([
      { name: 'spine', batches: [['spine01', 'spine02']] },
      { name: 'leaf', batches: [['leaf01', 'leaf03'], ['leaf02', 'leaf04']] },
      { name: '(no role)', batches: [['border01']] },
    ]);
    expect(result.checks).toEqual([]);
  });

  it('targets by host list and by labels', () => {
    expect(Object.keys(plan(createRunbook({ targets: { hosts: ['leaf02', 'spine01'] } })).hosts)).toEqual(['spine01', 'leaf02']);
    const inventory = createInventory();
    inventory.hosts.leaf03!.labels = { mlagPeer: 'leaf04', site: 'ams' };
    expect(Object.keys(plan(createRunbook({ targets: { labels: { site: 'ams' } } }), inventory).hosts)).toEqual(['leaf03']);
  });

  it('filters steps by `on` and renders commands with params, host fields and run-time placeholders', () => {
    const result = plan(createRunbook());
    expect(result.hostPlans.spine01!.steps.map((s) => s.id)).toEqual(['install', 'report']);
    expect(result.hostPlans.leaf01!.steps.map((s) => s.id)).toEqual(['install', 'peer-check', 'report']);
    expect(result.hostPlans.leaf01!.steps[0]!.command).toBe('onie-install -a -i /var/images/cumulus-linux-4.4.0.bin');
    expect(result.hostPlans.leaf01!.steps[2]!.command).toBe('echo leaf01 was {{current}}');
    expect(result.hostPlans.leaf01!.rollback[0]!.command).toBe('onie-install -a -i /var/images/cumulus-linux-{{current}}.bin');
    expect(result.hostPlans.leaf01!.steps[0]!.mutating).toBe(true);
    expect(result.hostPlans.leaf01!.steps[1]!.mutating).toBe(false);
    expect(result.params).toEqual({ targetVersion: '4.4.0', image: 'cumulus-linux-4.4.0.bin' });
  });

  it('keeps helper calls on run-time values visible', () => {
    const runbook = createRunbook({ steps: [{ id: 's', kind: 'install', run: 'install {{quote current}} major {{semverMajor current}}' }] });
    expect(plan(runbook).hostPlans.spine01!.steps[0]!.command).toBe('install {{quote current}} major {{semverMajor current}}');
  });

  it('shows a block whose condition is known only at run time with both branches, undecided', () => {
    const runbook = createRunbook({
      steps: [{ id: 'commit', kind: 'install', run: "commit{{#if (eq kind 'PLATFORM')}} --rolling{{else}} --now{{/if}}" }],
      prechecks: [{ id: 'k', run: 'true', capture: { kind: { regex: '(.*)' } } }],
      rollback: [],
    });
    expect(plan(runbook).hostPlans.spine01!.steps[0]!.command).toBe('commit{{#if (eq kind "PLATFORM")}} --rolling{{else}} --now{{/if}}');
  });

  it('refuses a missing required param, an unknown one and one that fails its pattern', () => {
    expect(planError(() => plan(createRunbook(), createInventory(), {})).code).toBe('RB2002');
    const unknown = planError(() => plan(createRunbook(), createInventory(), { targetVersion: '4.4.0', targetVerison: '1' }));
    expect(unknown.code).toBe('RB2001');
    expect(unknown.message).toContain('did you mean `targetVersion`');
    const pattern = planError(() => plan(createRunbook(), createInventory(), { targetVersion: 'latest' }));
    expect(pattern.code).toBe('RB2003');
    expect(pattern.exitCode).toBe(2);
  });

  it('refuses a bare value with shell metacharacters, naming the step, host and value', () => {
    const runbook = createRunbook({
      params: { note: { type: 'string' } },
      prechecks: [],
      rollback: [],
      steps: [{ id: 'announce', kind: 'command', run: 'logger {{params.note}}' }],
    });
    const error = planError(() => plan(runbook, createInventory(), { note: 'hi; rm -rf /' }));
    expect(error.code).toBe('RB2004');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('step `announce` on host `spine01`');
    expect(error.message).toContain('params.note');
    expect(error.message).toContain('hi; rm -rf /');
    const quoted = createRunbook({ ...runbook, steps: [{ id: 'announce', kind: 'command', run: 'logger {{quote params.note}}' }] });
    expect(plan(quoted, createInventory(), { note: "it's $(x)" }).hostPlans.spine01!.steps[0]!.command).toBe(`logger 'it'\\''s $(x)'`);
  });

  it('reports hosts with no address or credentials, and roles in `order` that no host has', () => {
    const inventory = createInventory({ defaults: { groups: ['fabric'] } });
    delete inventory.hosts.border01!.address;
    const result = plan(createRunbook({ strategy: { order: ['spine', 'leaf', 'superspine'] } }), inventory);
    const codes = Object.fromEntries(result.checks.map((c) => [c.code, c]));
    expect(codes.RB2101?.hosts).toEqual(['border01']);
    expect(codes.RB2101?.severity).toBe('error');
    expect(codes.RB2104?.hosts).toHaveLength(7);
    expect(codes.RB2102?.message).toContain('superspine');
    expect(codes.RB2102?.severity).toBe('warning');
  });

  it('never puts both peers of an MLAG pair in one batch, closing a batch early if it must', () => {
    const result = plan(createRunbook({ targets: { hosts: ['leaf01', 'leaf02'] }, strategy: { batchSize: 2 } }));
    expect(result.stages).toEqual([{ name: '(no role)', batches: [['leaf01'], ['leaf02']] }]);
  });

  it('reports MLAG labels that disagree and a peer left out of the run', () => {
    const inventory = createInventory();
    inventory.hosts.leaf03!.labels = { mlagPeer: 'leaf01' };
    const result = plan(createRunbook({ strategy: { order: ['spine', 'leaf'], batchSize: 4 } }), inventory);
    expect(result.checks.filter((c) => c.code === 'RB2103').map((c) => c.message)).toEqual([
      'MLAG labels disagree: `leaf03` names `leaf01` as its peer, `leaf01` names `leaf02`',
      'MLAG labels disagree: `leaf04` names `leaf03` as its peer, `leaf03` names `leaf01`',
    ]);
    for (const batch of result.stages.flatMap((s) => s.batches)) {
      for (const name of batch) expect(batch).not.toContain(inventory.hosts[name]!.labels?.mlagPeer);
    }
    const partial = plan(createRunbook({ targets: { hosts: ['leaf01'] } }));
    expect(partial.checks.map((c) => c.code)).toEqual(['RB2102', 'RB2105']);
    expect(partial.checks[0]!.message).toContain('hosts with it exist but are not targeted');
  });

  it('refuses targets that name unknown hosts or select nothing', () => {
    expect(planError(() => plan(createRunbook({ targets: { hosts: ['leaf09'] } }))).message).toContain('leaf09');
    expect(planError(() => plan(createRunbook({ targets: { group: 'storage' } }))).code).toBe('RB2005');
  });

  it('gives the same hash for the same inputs and a different one for any change', () => {
    const base = plan(createRunbook());
    expect(plan(createRunbook()).hash).toBe(base.hash);
    expect(base.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(plan(createRunbook(), createInventory(), { targetVersion: '4.4.1' }).hash).not.toBe(base.hash);
    const inventory = createInventory();
    inventory.hosts.leaf04!.address = '10.0.1.40';
    expect(plan(createRunbook(), inventory).hash).not.toBe(base.hash);
    expect(plan(createRunbook({ metadata: { name: 'fabric-upgrade', version: '1.3.1' } })).hash).not.toBe(base.hash);
    const inputs = {
      runbook: createRunbook(),
      inventory: createInventory(),
      files: { runbook: { path: 'runbooks/r.yaml', sha256: 'a'.repeat(64) }, inventory: { path: 'inventories/i.yaml', sha256: 'b'.repeat(64) } },
      params: { targetVersion: '4.4.0' },
    };
    expect(makePlan({ ...inputs, commit: 'other', engineVersion: '0.1.0' }).hash).toBe(base.hash);
    expect(makePlan({ ...inputs, commit: 'c0ffee', engineVersion: '0.2.0' }).hash).not.toBe(base.hash);
  });

  it('writes the plan as canonical JSON whose hash is the SHA-256 of that text without `hash` and `commit`', () => {
    const inputs: PlanInputs = {
      runbook: createRunbook(),
      // Keys out of order and an undefined value, which canonical JSON sorts and drops.
      inventory: createInventory({ hosts: { spine02: { role: 'spine', address: '10.0.0.2', port: undefined }, spine01: { address: '10.0.0.1', role: 'spine' } } }),
      files: { runbook: { path: 'runbooks/r.yaml', sha256: 'a'.repeat(64) }, inventory: { path: 'inventories/i.yaml', sha256: 'b'.repeat(64) } },
      params: { targetVersion: '4.4.0' },
      commit: 'c0ffee',
      engineVersion: '0.1.0',
    };
    const { plan: made, renderFile } = makePlanDocument(inputs);
    const file = renderFile().toString('utf8');
    expect(file).toBe(`${toCanonicalJson(made)}\n`);
    const json = file.trimEnd();
    expect(json).not.toContain('\n');
    const { hash, commit, ...content } = JSON.parse(json) as Record<string, unknown>;
    expect(commit).toBe('c0ffee');
    const text = JSON.stringify(content);
    expect(Object.keys(content)).toEqual([...Object.keys(content)].sort());
    expect(hash).toBe(`sha256:${createHash('sha256').update(text).digest('hex')}`);
    expect(json.indexOf('"spine01"')).toBeLessThan(json.indexOf('"spine02"'));
  });

  it('shares one frozen host plan among hosts with the same steps, and not when a command names a host field', () => {
    const result = plan(createRunbook({ steps: [{ id: 'install', kind: 'install', run: 'onie-install -a -i /var/images/{{params.image}}' }] }));
    expect(result.hostPlans.leaf01).toBe(result.hostPlans.spine01);
    expect(Object.isFrozen(result.hostPlans.leaf01)).toBe(true);
    expect(Object.isFrozen(result.hostPlans.leaf01!.steps[0])).toBe(true);
    // The default runbook's rollback and `report` step name `{{host.name}}` or a capture: per host.
    const perHost = plan(createRunbook());
    expect(perHost.hostPlans.leaf01!.steps.at(-1)!.command).toBe('echo leaf01 was {{current}}');
    expect(perHost.hostPlans.leaf02!.steps.at(-1)!.command).toBe('echo leaf02 was {{current}}');
    expect(Object.isFrozen(perHost.hostPlans.leaf01)).toBe(false);
  });

  it('gives hosts with the same selection of steps one host plan, and hosts selected by other steps their own', () => {
    const result = plan(createRunbook({ steps: [{ id: 'install', kind: 'install', run: 'install {{params.image}}' }, { id: 'peer-check', kind: 'verify', run: 'net show clag json', on: { role: 'leaf' } }] }));
    expect(result.hostPlans.leaf02).toBe(result.hostPlans.leaf01);
    expect(result.hostPlans.spine01).not.toBe(result.hostPlans.leaf01);
    expect(result.hostPlans.spine01!.steps.map((s) => s.id)).toEqual(['install']);
    expect(result.hostPlans.leaf01!.steps.map((s) => s.id)).toEqual(['install', 'peer-check']);
    expect(() => {
      (result.hostPlans.leaf01!.steps as unknown[]).push({});
    }).toThrow(TypeError);
  });

  it('applies the stricter policy of runbook and inventory', () => {
    const result = plan(
      createRunbook({ policy: { requireApproval: true, maxConcurrentRuns: 3 } }),
      createInventory({ policy: { forbidSelfApproval: true, maxConcurrentRuns: 2 } }),
    );
    expect(result.policy).toEqual({ requireApproval: true, forbidSelfApproval: true, maxConcurrentRuns: 2 });
  });
});
