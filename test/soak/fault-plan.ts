import type { HostState } from '../../engine/run/events.js';
import { FAULT_KINDS, type CommandLogEntry, type Fault, type FaultKind } from '../../lab/index.js';
import { createRandom } from '../../bench/lib/random.js';
import type { FleetHost } from './fleet.js';

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

function shuffle<T>(random: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The lab's faults for switches (`neverSyncs` and `serviceContractExpired` are the chassis'). */
const CHASSIS_FAULTS: readonly FaultKind[] = ['neverSyncs', 'serviceContractExpired'];
export const SOAK_FAULT_KINDS = FAULT_KINDS.filter((kind): kind is Exclude<FaultKind, 'neverSyncs' | 'serviceContractExpired'> => !CHASSIS_FAULTS.includes(kind));
export type SoakFaultKind = (typeof SOAK_FAULT_KINDS)[number];

/**
 * Faults that leave a leaf's spines short of a BGP session for good: a spine checked after them
 * fails (rightly, the fabric is degraded). Leaves only, then, since spines go first. A wrong
 * password after the reboot is one: the fresh install left the switch without its configuration,
 * and nothing can log in to restore it.
 */
const DEGRADES_POD: ReadonlySet<SoakFaultKind> = new Set(['neverReturns', 'bgpSessionDrop', 'wrongPassword']);

/** Whether a spine of the pod would fail its BGP check if it were upgraded now. */
export const degradesPod = (kind: SoakFaultKind): boolean => DEGRADES_POD.has(kind);

/** What shows that the fault really struck: a command the lab logged, or a BGP session gone. */
export type Evidence =
  | { log: { command: RegExp; outcome?: CommandLogEntry['outcome']; code?: number | null; minDurationMs?: number } }
  | { bgpPeerAbsent: string };

/** One fault on one host and what the soak runbook (soak-upgrade.yaml) must make of it. */
export interface FaultRecipe {
  kind: SoakFaultKind;
  /** The variant, for the printout. */
  label: string;
  fault: Fault;
  /** The host's state when the run is over (after its resume, for `interruptedFirst`). */
  expected: HostState;
  /** The first run leaves the host interrupted (a change cut off); `--resume --rerun-interrupted` finishes it. */
  interruptedFirst?: boolean;
  /** Part of `lab.state()` afterwards: the version, and what else shows the fault. */
  state: Record<string, unknown>;
  evidence?: Evidence;
}

export interface PlannedFault extends FaultRecipe {
  host: FleetHost;
}

const OLD = '4.3.0';
const NEW = '4.4.0';
const INSTALL = '^onie-install ';

interface CommandVariant {
  label: string;
  command: string;
  times?: number;
  expected: HostState;
  version: string;
  interruptedFirst?: boolean;
}

function commandFault(kind: 'hang' | 'dropConnection', variant: CommandVariant, outcome: CommandLogEntry['outcome']): FaultRecipe {
  return {
    kind,
    label: variant.label,
    fault: { kind, command: variant.command, ...(variant.times !== undefined ? { times: variant.times } : {}) },
    expected: variant.expected,
    ...(variant.interruptedFirst ? { interruptedFirst: true } : {}),
    state: { version: variant.version },
    evidence: { log: { command: new RegExp(variant.command), outcome } },
  };
}

/**
 * What each fault does to the soak upgrade, read off the runbook: `still-reachable` (check, one
 * retry), `backup-config`, `fetch-backup`, `install` (one retry), `reboot` (8 s to come back),
 * `version`, `put-backup`, `restore-config`, `services-up`, `bgp-peers-back` (5 s); from `install`
 * on a failure rolls the switch back: `reinstall-previous`, `reboot-previous`, `put-backup-previous`,
 * `restore-config-previous`, `previous-version`. Commands time out after 3 s. Faults strike right
 * after the pre-checks.
 */
const RECIPES: Record<SoakFaultKind, (random: () => number, host: FleetHost) => FaultRecipe> = {
  installFails: (random) => {
    const variant = pick(random, [
      // Worn out by the install's retry: the engine recovers.
      { label: 'installFails once', times: 1, expected: 'succeeded', version: NEW },
      // Both attempts fail; the rollback's reinstall works.
      { label: 'installFails twice', times: 2, expected: 'rolled-back', version: OLD },
      { label: 'installFails always', expected: 'rollback-failed', version: OLD },
    ] as ReadonlyArray<{ label: string; times?: number; expected: HostState; version: string }>);
    return {
      kind: 'installFails',
      label: variant.label,
      fault: { kind: 'installFails', ...(variant.times !== undefined ? { times: variant.times } : {}) },
      expected: variant.expected,
      state: { version: variant.version },
      evidence: { log: { command: /^onie-install /, code: 1 } },
    };
  },
  // The port closes under the run: the first step fails before anything changed, so no rollback.
  unreachable: () => ({ kind: 'unreachable', label: 'unreachable', fault: { kind: 'unreachable' }, expected: 'failed', state: { version: OLD, listening: false } }),
  // Leaves only (see DEGRADES_POD): a leaf's first connection after the pre-checks is refused, so its
  // first step fails before anything changed, and it is not rolled back.
  wrongPassword: () => ({ kind: 'wrongPassword', label: 'wrongPassword', fault: { kind: 'wrongPassword' }, expected: 'failed', state: { version: OLD, bootCount: 1 } }),
  hang: (random) =>
    commandFault(
      'hang',
      pick(random, [
        { label: 'hang onie-install once', command: INSTALL, times: 1, expected: 'succeeded', version: NEW },
        { label: 'hang onie-install', command: INSTALL, expected: 'rollback-failed', version: OLD },
        // The backup fails before anything changed: no rollback (a reinstall would wipe the configuration).
        { label: 'hang tar', command: '^tar ', expected: 'failed', version: OLD },
        // The version check fails, and so does the rollback's own version check (after its reboot).
        { label: 'hang lsb-release', command: 'lsb-release', expected: 'rollback-failed', version: OLD },
      ] as const satisfies readonly CommandVariant[]),
      'abandoned',
    ),
  slow: (random) => {
    if (random() < 0.5) {
      // Well under the install's 3 s timeout: only slower.
      const delayMs = 100 + Math.floor(random() * 500);
      return {
        kind: 'slow',
        label: `slow onie-install ${delayMs}ms`,
        fault: { kind: 'slow', command: INSTALL, delayMs },
        expected: 'succeeded',
        state: { version: NEW },
        evidence: { log: { command: /^onie-install /, outcome: 'completed', minDurationMs: delayMs } },
      };
    }
    // Past the backup's 3 s timeout: the backup fails before anything changed; no rollback.
    return {
      kind: 'slow',
      label: 'slow tar 5000ms',
      fault: { kind: 'slow', command: '^tar ', delayMs: 5000 },
      expected: 'failed',
      state: { version: OLD },
      evidence: { log: { command: /^tar /, outcome: 'abandoned' } },
    };
  },
  dropConnection: (random, host) => {
    const variants: CommandVariant[] = [
      // The reboot happens anyway, and the engine expects the connection to go.
      { label: 'dropConnection reboot', command: '^reboot$', expected: 'succeeded', version: NEW },
      // A read-only step: failed, not interrupted; the rollback reconnects.
      { label: 'dropConnection services-up', command: 'is-active frr lldpd$', expected: 'rolled-back', version: OLD },
    ];
    // A change cut off: interrupted, no rollback; the resume runs the install again (the fault wore
    // out). Not on spines: resumed after the leaves, a spine would meet the pod's down leaves.
    if (host.role !== 'spine') {
      variants.push({ label: 'dropConnection onie-install once', command: INSTALL, times: 1, expected: 'succeeded', version: NEW, interruptedFirst: true });
    }
    return commandFault('dropConnection', pick(random, variants), 'dropped');
  },
  // Down for good after the reboot: the reboot step times out and the rollback cannot connect.
  neverReturns: () => ({ kind: 'neverReturns', label: 'neverReturns', fault: { kind: 'neverReturns' }, expected: 'rollback-failed', state: { version: OLD, up: false } }),
  // The session with one spine is gone after the reboot: the peer count is short; the switch rolls back.
  bgpSessionDrop: (random) => {
    const peer = pick(random, ['spine01', 'spine02']);
    return {
      kind: 'bgpSessionDrop',
      label: `bgpSessionDrop ${peer}`,
      fault: { kind: 'bgpSessionDrop', peer },
      expected: 'rolled-back',
      state: { version: OLD },
      evidence: { bgpPeerAbsent: peer },
    };
  },
};

/**
 * Picks `count` hosts and gives each a fault: every kind at least twice when `count` allows, the
 * rest drawn at random, the variants and parameters too. Spines get no fault that degrades the pod
 * and none that defers their upgrade past the leaves'.
 */
export function planFaults(hosts: readonly FleetHost[], count: number, seed: number): PlannedFault[] {
  const random = createRandom(seed);
  const rounds = Math.floor(count / SOAK_FAULT_KINDS.length);
  const kinds = shuffle(random, [
    ...Array.from({ length: rounds }, () => SOAK_FAULT_KINDS).flat(),
    ...Array.from({ length: count - rounds * SOAK_FAULT_KINDS.length }, () => pick(random, SOAK_FAULT_KINDS)),
  ]);
  for (;;) {
    const chosen = shuffle(random, hosts).slice(0, count);
    const spines = chosen.filter((h) => h.role === 'spine');
    const leaves = chosen.filter((h) => h.role !== 'spine');
    const anywhere = kinds.filter((k) => !DEGRADES_POD.has(k));
    // Drawn again in the (very unlikely) case of more spines than kinds a spine may take.
    if (spines.length > anywhere.length) continue;
    const forSpines = anywhere.slice(0, spines.length);
    const forLeaves = [...kinds];
    for (const kind of forSpines) forLeaves.splice(forLeaves.indexOf(kind), 1);
    const assigned: Array<[FleetHost, SoakFaultKind]> = [
      ...spines.map((host, i): [FleetHost, SoakFaultKind] => [host, forSpines[i]!]),
      ...leaves.map((host, i): [FleetHost, SoakFaultKind] => [host, forLeaves[i]!]),
    ];
    return assigned
      .map(([host, kind]) => ({ ...RECIPES[kind](random, host), host }))
      .sort((a, b) => a.host.name.localeCompare(b.host.name));
  }
}
