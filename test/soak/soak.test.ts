import { randomInt } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runApply, type ApplyOptions } from '../../engine/commands/apply.js';
import { readJournal, runFolder } from '../../engine/io/journal.js';
import { rebuildRunState } from '../../engine/run/resume-state.js';
import type { HostState, RunEvent } from '../../engine/run/events.js';
import type { RunReport } from '../../engine/schema/report.js';
import { FAST_TIMINGS, LAB_PASSWORD_ENV } from '../helpers/lab-apply.js';
import { degradesPod, planFaults, type PlannedFault } from './fault-plan.js';
import { startFleet, type Fleet } from './fleet.js';
import { compareJournalWithReport } from './journal-report.js';
import { commitRepository } from '../helpers/run-repository.js';
import { waitFor } from '../helpers/wait-for.js';
import { countResources, rebindAll, settledResources, type ResourceCounts } from './resources.js';

// Issue 8, item 6: 200 switches, random faults in 10% of them. Every host ends in a named state,
// the journal and the report agree, no socket or file handle is left open, every port can be bound
// again, and a run started right after finds no stale lock. The faults are drawn from a seed,
// printed first: SOAK_SEED=<seed> npx vitest run test/soak replays a run, SOAK_SEED=random draws a new one.

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'runbooks', 'soak-upgrade.yaml');
/** 20 pods of 2 spines and 8 leaves (see fleet.ts for why not one fabric). */
const SHAPE = { pods: 20, spinesPerPod: 2, leavesPerPod: 8, firstPrefixByte: 120, timings: FAST_TIMINGS };
const HOSTS = 200;
const FAULTY = 20;
const NAMED_STATES: readonly HostState[] = ['succeeded', 'failed', 'rolled-back', 'rollback-failed', 'skipped', 'interrupted'];
/** A fixed default keeps CI repeatable (this one includes a run interrupted mid-install and resumed); SOAK_SEED=random explores. */
const DEFAULT_SEED = 79662687;
const SEED = process.env.SOAK_SEED === 'random' ? randomInt(2 ** 31) : Number(process.env.SOAK_SEED ?? DEFAULT_SEED);
/** SOAK_KEEP=<folder>: keep the runs' journals, plans and reports there for a look afterwards. */
const KEEP = process.env.SOAK_KEEP;
/** About a minute on two shared cores; the bound leaves room for a busy machine. */
const TEST_TIMEOUT_MS = 240_000;

interface Applied {
  exitCode: number;
  stderr: string;
  events: RunEvent[];
  runId: string;
  states: Record<string, HostState>;
}

/** `runbook apply ... --yes --no-progress --no-commit --allow-dirty` in process, with reports, journals and locks under `root`. */
async function apply(root: string, options: Partial<ApplyOptions>, onEvent?: (event: RunEvent) => void): Promise<Applied> {
  let stderr = '';
  const events: RunEvent[] = [];
  const exitCode = await runApply({
    params: [],
    yes: true,
    noProgress: true,
    format: 'text',
    isTty: false,
    write: () => {},
    writeError: (text) => (stderr += text),
    env: LAB_PASSWORD_ENV,
    onEvent: (event) => {
      events.push(event);
      onEvent?.(event);
    },
    root,
    commit: false,
    // The fleet's inventory is written for the run, in no repository.
    allowDirty: true,
    ...options,
  });
  const started = events.find((e) => e.type === 'run.started');
  const finished = events.findLast((e) => e.type === 'run.finished');
  return {
    exitCode,
    stderr,
    events,
    runId: started?.type === 'run.started' ? started.runId : '',
    states: finished?.type === 'run.finished' ? finished.hosts : {},
  };
}

const describeCounts = (c: ResourceCounts) =>
  `${c.fds} fds (${c.sockets} sockets, ${c.pipes} pipes, ${c.files} files, ${c.otherFds} other), handles: ${c.tcpHandles} TCP, ${c.tcpServers} TCP servers, ${c.fsRequests} fs`;

/** The hosts whose state is not `expected(name)`, with the reason their host.finished event gave. */
function unexpectedStates(run: Applied, faults: ReadonlyMap<string, PlannedFault>, expected: (name: string) => HostState): string[] {
  return Object.entries(run.states).flatMap(([name, state]) =>
    state === expected(name) ? [] : [`${name} (${faults.get(name)?.label ?? 'no fault'}): ${state}, expected ${expected(name)}: ${messageOf(run.events, name)}`],
  );
}

/** The switch shows the fault's effect: its version and state, and a logged command or a BGP session gone. */
function expectFaultStruck(planned: PlannedFault): void {
  const { host, evidence } = planned;
  const why = `seed ${SEED}: ${host.name} ${planned.label}`;
  expect(host.lab.state(host.device), why).toMatchObject(planned.state);
  if (evidence === undefined) return;
  if ('bgpPeerAbsent' in evidence) {
    const peers = host.lab.state(host.device).bgpPeers as Array<{ peer: string }>;
    expect(peers.map((p) => p.peer), why).not.toContain(evidence.bgpPeerAbsent);
    return;
  }
  const { command, outcome, code, minDurationMs } = evidence.log;
  const struck = host.lab
    .commandLog(host.device)
    .filter((e) => command.test(e.command) && (outcome === undefined || e.outcome === outcome) && (code === undefined || e.code === code))
    .filter((e) => minDurationMs === undefined || e.durationMs >= minDurationMs);
  expect(struck.length, `${why}: no logged command shows the fault`).toBeGreaterThan(0);
}

describe('soak: a 200-switch upgrade with faults in 10% of the switches', () => {
  it('ends every host in a named state, keeps journal and report in agreement, leaks nothing and leaves no lock', { timeout: TEST_TIMEOUT_MS }, async () => {
    const clock = performance.now();
    const lap = (label: string) => console.log(`soak: ${label} at ${((performance.now() - clock) / 1000).toFixed(1)} s`);
    console.log(`soak: seed ${SEED} (replay with SOAK_SEED=${SEED})`);
    const baseline = countResources();
    const dir = mkdtempSync(join(tmpdir(), 'runbook-soak-'));
    let fleet: Fleet | undefined;
    try {
      fleet = await startFleet(SHAPE);
      expect(fleet.hosts).toHaveLength(HOSTS);
      lap(`${HOSTS} lab switches listening`);
      const faults = planFaults(fleet.hosts, FAULTY, SEED);
      const faultOf = new Map(faults.map((f) => [f.host.name, f]));
      for (const f of faults) console.log(`soak:   ${f.host.name.padEnd(12)} ${f.label.padEnd(34)} -> ${f.interruptedFirst ? 'interrupted, then resumed: ' : ''}${f.expected}`);
      const inventoryPath = join(dir, 'fleet.yaml');
      writeFileSync(inventoryPath, YAML.stringify(fleet.inventory()));

      // Faults strike once the pre-checks have passed: a fault found by the pre-checks would
      // (rightly) stop the run before any change, and the soak wants every host to run.
      const injections: Array<Promise<void>> = [];
      const first = await apply(dir, { target: FIXTURE, inventory: inventoryPath }, (event) => {
        if (event.type !== 'phase.finished' || event.phase !== 'prechecks') return;
        for (const f of faults) injections.push(f.host.lab.injectFault(f.host.device, f.fault));
      });
      await Promise.all(injections);
      lap(`run ${first.runId} finished (exit ${first.exitCode})`);
      expect(injections, `seed ${SEED}: the pre-checks did not pass: ${first.stderr}`).toHaveLength(FAULTY);
      expect(first.exitCode).toBe(1);
      expect(Object.keys(first.states)).toHaveLength(HOSTS);
      printBatches(first.events);
      const expectedFirst = (name: string) => (faultOf.get(name)?.interruptedFirst ? 'interrupted' : (faultOf.get(name)?.expected ?? 'succeeded'));
      expect(unexpectedStates(first, faultOf, expectedFirst), `seed ${SEED}: hosts that ended the first run otherwise than expected`).toEqual([]);
      const reportPath = join(dir, 'reports', 'runs', `${first.runId}.json`);
      const interrupted = faults.filter((f) => f.interruptedFirst);
      let final = first;
      if (interrupted.length > 0) {
        // A run with hosts cut off mid-change is left to --resume: no report until it is resumed.
        expect(first.stderr).toContain(`continue with \`runbook apply --resume ${first.runId}\``);
        expect(existsSync(reportPath)).toBe(false);
        final = await apply(dir, { resume: first.runId, rerunInterrupted: true });
        lap(`run ${first.runId} resumed for ${interrupted.map((f) => f.host.name).join(', ')} (exit ${final.exitCode})`);
        expect(final.exitCode).toBe(1);
      }

      // Every host in a named state, the one its fault (or the lack of one) calls for.
      expect(Object.keys(final.states).sort()).toEqual(fleet.hosts.map((h) => h.name).sort());
      expect(Object.values(final.states).filter((state) => !NAMED_STATES.includes(state))).toEqual([]);
      const expectedFinal = (name: string) => faultOf.get(name)?.expected ?? 'succeeded';
      expect(unexpectedStates(final, faultOf, expectedFinal), `seed ${SEED}: hosts that ended the run otherwise than expected`).toEqual([]);
      for (const host of fleet.hosts) {
        const planned = faultOf.get(host.name);
        if (planned) expectFaultStruck(planned);
        else expect(host.lab.state(host.device), `seed ${SEED}: ${host.name}`).toMatchObject({ version: '4.4.0', up: true, bootCount: 2 });
      }

      // The report says what the journal says.
      const report = JSON.parse(readFileSync(reportPath, 'utf8')) as RunReport;
      const journal = readJournal(runFolder(join(dir, '.runbook'), first.runId));
      expect(compareJournalWithReport(journal, report), `seed ${SEED}`).toEqual([]);
      // And the comparison does see a difference: one step's status changed in a copy of the report.
      const tampered = structuredClone(report);
      const step = Object.values(tampered.hosts)[0]!.steps[0]!;
      step.status = step.status === 'succeeded' ? 'failed' : 'succeeded';
      expect(compareJournalWithReport(journal, tampered)).toHaveLength(1);
      expect(report.summary).toEqual(countStates(final.states));

      // No lock outlives its run, and a run started right after is not refused.
      const locks = join(dir, '.runbook', 'locks');
      expect(readdirSync(locks)).toEqual([]);
      const again = pickHealthy(fleet, faultOf, 6);
      const secondInventory = join(dir, 'again.yaml');
      writeFileSync(secondInventory, YAML.stringify(fleet.inventory(again)));
      const second = await apply(dir, { target: FIXTURE, inventory: secondInventory });
      lap(`second run ${second.runId} on ${again.join(', ')} finished (exit ${second.exitCode})`);
      expect(second.exitCode, second.stderr).toBe(0);
      expect(second.states).toEqual(Object.fromEntries(again.map((name) => [name, 'succeeded'])));
      expect(readdirSync(locks)).toEqual([]);

      const endpoints = fleet.hosts.map(({ address, port }) => ({ address, port }));
      await fleet.stop();
      fleet = undefined;
      const after = await settledResources(baseline, 5_000);
      console.log(`soak: before the lab: ${describeCounts(baseline)}`);
      console.log(`soak: after it stopped: ${describeCounts(after)}`);
      const leaked = (Object.keys(baseline) as Array<keyof ResourceCounts>).filter((key) => after[key] > baseline[key]);
      expect(leaked.map((key) => `${key}: ${baseline[key]} before, ${after[key]} after`)).toEqual([]);
      expect(await rebindAll(endpoints)).toEqual([]);
      lap('done');
    } finally {
      await fleet?.stop();
      if (KEEP !== undefined) cpSync(dir, KEEP, { recursive: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('soak: runs stopped at once while switches roll back, then resumed', () => {
  it('never runs a finished rollback step twice, and every rolled-back switch ends on its old release', { timeout: TEST_TIMEOUT_MS }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runbook-soak-rollback-'));
    // A repository, for the git identity the operator's decisions are recorded with.
    commitRepository(dir);
    // Two pods of 2 spines and 8 leaves; in each, three leaves whose install fails on both attempts.
    const fleet = await startFleet({ ...SHAPE, pods: 2, firstPrefixByte: SHAPE.firstPrefixByte + SHAPE.pods });
    try {
      const failing = fleet.hosts.filter((h) => h.role === 'leaf' && /leaf0[135]$/.test(h.device));
      for (const host of failing) await host.lab.injectFault(host.device, { kind: 'installFails', times: 2 });
      const inventoryPath = join(dir, 'fleet.yaml');
      writeFileSync(inventoryPath, YAML.stringify(fleet.inventory()));

      // Each process is stopped at once (as a second Ctrl-C does) the moment a switch starts its rollback reboot for the first time.
      const stoppedAt = new Set<string>();
      const stopAtRollbackReboot = () => {
        const stop = new AbortController();
        const abort = new AbortController();
        const onEvent = (event: RunEvent) => {
          if (event.type === 'step.started' && event.section === 'rollback' && event.stepId === 'reboot-previous' && !stoppedAt.has(event.host) && !stop.signal.aborted) {
            stoppedAt.add(event.host);
            stop.abort('SIGINT');
            abort.abort('SIGINT');
          }
        };
        return { signal: stop.signal, abortCommands: abort.signal, onEvent };
      };
      const first = stopAtRollbackReboot();
      let run = await apply(dir, { target: FIXTURE, inventory: inventoryPath, signal: first.signal, abortCommands: first.abortCommands }, first.onEvent);
      const runId = run.runId;
      expect(run.exitCode, JSON.stringify(run.states) + run.events.filter((e) => e.type === 'host.finished').map((e) => JSON.stringify(e)).join('\n').slice(0, 3000)).toBe(130);
      let stops = 1;
      // Resume, stopped again at the next rollback reboot, until a resume runs to the end. The test is
      // the operator: a cut-off reboot the switch went through is marked done, anything else is run again.
      while (run.exitCode === 130 && stops <= failing.length) {
        // A switch cut off in its reboot is back within the lab's reboot delay.
        await waitFor(() => (failing.every((h) => h.lab.state(h.device).up === true) ? true : undefined), 'the rebooting switches');
        const cut = rebuildRunState(readJournal(runFolder(join(dir, '.runbook'), runId)))!.hosts;
        const rebooted = failing.filter((h) => cut[h.name]?.interrupted?.stepId === 'reboot-previous' && Number(h.lab.state(h.device).bootCount) >= 2);
        const next = stopAtRollbackReboot();
        const decisions = { rerunInterrupted: true, markDone: rebooted.map((h) => `${h.name}:reboot-previous`) };
        run = await apply(dir, { resume: runId, ...decisions, signal: next.signal, abortCommands: next.abortCommands }, next.onEvent);
        if (run.exitCode === 130) stops++;
      }
      console.log(`soak: run ${runId} stopped ${stops} time(s) in a rollback, then finished (exit ${run.exitCode})`);
      expect(stops).toBeGreaterThan(1);
      expect(run.exitCode, run.stderr).toBe(1);

      const report = JSON.parse(readFileSync(join(dir, 'reports', 'runs', `${runId}.json`), 'utf8')) as RunReport;
      const journal = readJournal(runFolder(join(dir, '.runbook'), runId));
      for (const host of failing) {
        expect(report.hosts[host.name]?.state, `${host.name}: ${report.hosts[host.name]?.message}`).toBe('rolled-back');
        expect(host.lab.state(host.device), host.name).toMatchObject({ version: '4.3.0', up: true });
        // Once the journal has a rollback step finished, the switch never sees its command again.
        for (const [stepId, command] of [['reinstall-previous', /^onie-install /], ['reboot-previous', /^reboot$/]] as const) {
          const finished = journal.find((e) => e.type === 'step.finished' && e.host === host.name && e.record.id === stepId && e.record.status === 'succeeded');
          expect(finished, `${host.name} ${stepId}`).toBeDefined();
          const later = host.lab.commandLog(host.device).filter((e) => command.test(e.command) && Date.parse(e.time) > finished!.at);
          expect(later, `${host.name}: ${stepId} ran again after it had finished`).toEqual([]);
        }
      }
      expect(report.history?.interruptions.length).toBe(stops);
      expect(compareJournalWithReport(journal, report)).toEqual([]);
      expect(readdirSync(join(dir, '.runbook', 'locks'))).toEqual([]);
    } finally {
      await fleet.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Why a host ended as it did: the message of its last host.finished event. */
function messageOf(events: readonly RunEvent[], host: string): string {
  const finished = events.findLast((e) => e.type === 'host.finished' && e.host === host);
  return finished?.type === 'host.finished' ? (finished.message ?? '') : '(no host.finished event)';
}

/** How long each batch took: the faults that wait for a timeout set the pace of theirs. */
function printBatches(events: readonly RunEvent[]): void {
  const starts = new Map<string, number>();
  for (const event of events) {
    if (event.type === 'batch.started') starts.set(`${event.stage}/${event.batch}`, event.at);
    if (event.type === 'batch.finished') {
      const key = `${event.stage}/${event.batch}`;
      console.log(`soak:   batch ${key}: ${((event.at - starts.get(key)!) / 1000).toFixed(1)} s`);
    }
    if (event.type === 'phase.finished') console.log(`soak:   ${event.phase}: ${((event.at - events[0]!.at) / 1000).toFixed(1)} s after the start`);
  }
}

function countStates(states: Record<string, HostState>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const state of Object.values(states)) counts[state] = (counts[state] ?? 0) + 1;
  return counts;
}

/**
 * Up to `count` healthy hosts that can succeed again: no spine of a pod a fault degraded, never both
 * peers of an MLAG pair (the planner refuses those in one batch).
 */
function pickHealthy(fleet: Fleet, faults: ReadonlyMap<string, PlannedFault>, count: number): string[] {
  const degraded = new Set([...faults.values()].filter((f) => degradesPod(f.kind)).map((f) => f.host.pod));
  const picked: string[] = [];
  for (const host of fleet.hosts) {
    if (picked.length === count) break;
    if (faults.has(host.name) || (host.role === 'spine' && degraded.has(host.pod))) continue;
    if (host.mlagPeer !== undefined && picked.includes(host.mlagPeer)) continue;
    picked.push(host.name);
  }
  return picked;
}
