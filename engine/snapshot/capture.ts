import { createInputError } from '../errors.js';
import { createLimiter } from '../shared/limiter.js';
import { SNAPSHOT_NAME_PATTERN, type HostCollection, type NotCollectedCause, type Profile, type Snapshot, type SnapshotElement } from '../schema/snapshot.js';
import { ELEMENT_SPECS, ELEMENT_TYPES, type ElementRecord, type ElementType } from './element-model.js';
import { MappingError, compileProfile, type CompiledCollector, type CompiledProfile } from './profile.js';
import { compareRecordKeys } from './records.js';

/** What capture needs of a command's result; the transport's ExecResult fits it. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  /** null when the command was killed by a signal or timed out. */
  exitCode: number | null;
  /** The command outlived its timeout. */
  timedOut?: boolean;
}

/**
 * Runs one command on one host. Resolves with the result, a non-zero exit included; rejects only
 * when the command could not be run (connection refused or lost, authentication failed). Capture
 * enforces `timeoutMs` itself too, so an exec that ignores it cannot hang a snapshot.
 */
export type ExecFunction = (host: string, command: string, options: { timeoutMs: number }) => Promise<ExecResult>;

export interface CaptureHost {
  name: string;
  platform?: string;
}

/** The executor's clock (engine/run/clock.ts) fits: only `now` is used, for the snapshot's time. */
export interface CaptureClock {
  now(): number;
}

export type CaptureEvent =
  | { type: 'hostStarted'; host: string }
  | { type: 'hostFinished'; host: string; collected: number; notCollected: number };

export interface CaptureOptions {
  name: string;
  /** A schema-valid profile (compiled here) or one compiled by loadProfile/compileProfile. */
  profile: Profile | CompiledProfile;
  hosts: readonly CaptureHost[];
  exec: ExecFunction;
  clock?: CaptureClock;
  /** Hosts collected at once; default: the profile's, else 8. Commands on one host run one at a time. */
  concurrency?: number;
  engineVersion?: string;
  onProgress?: (event: CaptureEvent) => void;
}

const systemClock: CaptureClock = { now: () => Date.now() };

/**
 * Collects every element of the profile on every host. A collector that fails, times out or prints
 * output that does not fit its mapping marks that element not collected on that host, with the
 * reason; the others' records are kept and the snapshot is always produced.
 */
export async function captureSnapshot(options: CaptureOptions): Promise<Snapshot> {
  const { name, hosts, exec } = options;
  if (!new RegExp(SNAPSHOT_NAME_PATTERN).test(name)) throw createInvalidNameError(name);
  if (hosts.length === 0) throw createInputError('RB1302', 'no hosts to snapshot; check the inventory and `--targets`');
  const duplicate = hosts.find((h, i) => hosts.findIndex((o) => o.name === h.name) !== i);
  if (duplicate) throw createInputError('RB1104', `host \`${duplicate.name}\` is listed twice`);
  const profile = 'collectors' in options.profile && isCompiled(options.profile) ? options.profile : compileProfile(options.profile as Profile);
  const clock = options.clock ?? systemClock;
  const started = clock.now();

  const limit = createLimiter(Math.max(1, options.concurrency ?? profile.concurrency));
  const perHost = await Promise.all(
    hosts.map((host) =>
      limit(async () => {
        options.onProgress?.({ type: 'hostStarted', host: host.name });
        const result = await collectHost(host, profile, exec);
        const outcomes = Object.values(result.status);
        options.onProgress?.({
          type: 'hostFinished',
          host: host.name,
          collected: outcomes.filter((o) => o.status === 'collected').length,
          notCollected: outcomes.filter((o) => o.status === 'notCollected').length,
        });
        return result;
      }),
    ),
  );

  const elements = {} as Record<ElementType, SnapshotElement>;
  for (const type of ELEMENT_TYPES) {
    const hostStatus: Record<string, HostCollection> = {};
    const records: ElementRecord[] = [];
    hosts.forEach((host, index) => {
      const result = perHost[index]!;
      hostStatus[host.name] = result.status[type];
      records.push(...result.records[type]);
    });
    const collected = Object.values(hostStatus).filter((s) => s.status === 'collected').length;
    const compare = compareRecordKeys(ELEMENT_SPECS[type].key);
    elements[type] = {
      status: collected === hosts.length ? 'collected' : collected === 0 ? 'notCollected' : 'partial',
      hosts: hostStatus,
      records: records.sort(compare),
    };
  }
  const finished = clock.now();
  return {
    apiVersion: 'runbook/v1',
    kind: 'Snapshot',
    name,
    createdAt: new Date(started).toISOString(),
    durationMs: Math.max(0, Math.round(finished - started)),
    engineVersion: options.engineVersion ?? 'unknown',
    profile: profile.name,
    hosts: hosts.map((h) => (h.platform === undefined ? { name: h.name } : { name: h.name, platform: h.platform })),
    elements,
  };
}

export function createInvalidNameError(name: string) {
  return createInputError(
    'RB1506',
    `\`${name}\` is not a valid snapshot name: start with a letter or digit and use only letters, digits, dots, dashes and underscores`,
  );
}

function isCompiled(profile: Profile | CompiledProfile): profile is CompiledProfile {
  return profile.collectors.every((c) => typeof (c as Partial<CompiledCollector>).parse === 'function');
}

interface HostResult {
  status: Record<ElementType, HostCollection>;
  records: Record<ElementType, ElementRecord[]>;
}

type CommandOutcome =
  | { ok: true; result: ExecResult }
  | { ok: false; cause: Extract<NotCollectedCause, 'commandFailed' | 'timeout' | 'transportError' | 'skipped'>; reason: string };

async function collectHost(host: CaptureHost, profile: CompiledProfile, exec: ExecFunction): Promise<HostResult> {
  const status = {} as Record<ElementType, HostCollection>;
  const records = {} as Record<ElementType, ElementRecord[]>;
  // A command shared by several collectors runs once per host.
  const outputs = new Map<string, CommandOutcome>();
  let transportFailure: string | undefined;

  const run = async (collector: CompiledCollector): Promise<CommandOutcome> => {
    const cached = outputs.get(collector.command);
    if (cached) return cached;
    let outcome: CommandOutcome;
    if (transportFailure !== undefined) {
      outcome = { ok: false, cause: 'skipped', reason: `not run: an earlier command on ${host.name} could not be run (${transportFailure})` };
    } else {
      outcome = await runWithTimeout(host.name, collector, exec);
      if (!outcome.ok && outcome.cause === 'transportError') transportFailure = outcome.reason;
      if (outcome.ok && outcome.result.timedOut) {
        outcome = { ok: false, cause: 'timeout', reason: `\`${collector.command}\` did not finish within ${formatMs(collector.timeoutMs)}` };
      } else if (outcome.ok && outcome.result.exitCode !== 0) {
        const how = outcome.result.exitCode === null ? 'was killed' : `exited with ${outcome.result.exitCode}`;
        outcome = { ok: false, cause: 'commandFailed', reason: `\`${collector.command}\` ${how}${describeStderr(outcome.result.stderr)}` };
      }
    }
    outputs.set(collector.command, outcome);
    return outcome;
  };

  for (const type of ELEMENT_TYPES) {
    records[type] = [];
    const collectors = profile.collectors.filter(
      (c) => c.element === type && (c.platforms === undefined || (host.platform !== undefined && c.platforms.includes(host.platform))),
    );
    if (collectors.length === 0) {
      status[type] = { status: 'notCollected', cause: 'noCollector', reason: describeNoCollector(profile, type, host) };
      continue;
    }
    let failure: HostCollection | undefined;
    const found: ElementRecord[] = [];
    for (const collector of collectors) {
      const outcome = await run(collector);
      if (!outcome.ok) {
        failure = { status: 'notCollected', cause: outcome.cause, reason: outcome.reason };
        break;
      }
      try {
        for (const record of collector.parse(outcome.result.stdout)) found.push({ host: host.name, ...record });
      } catch (error) {
        if (!(error instanceof MappingError)) throw error;
        failure = { status: 'notCollected', cause: 'unparseable', reason: `output of \`${collector.command}\`: ${error.message}` };
        break;
      }
    }
    // Half an element would read as removals in a diff: all of its collectors succeed, or none count.
    if (failure) status[type] = failure;
    else {
      status[type] = { status: 'collected', records: found.length };
      records[type] = found;
    }
  }
  return { status, records };
}

async function runWithTimeout(host: string, collector: CompiledCollector, exec: ExecFunction): Promise<CommandOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CommandOutcome>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, cause: 'timeout', reason: `\`${collector.command}\` did not finish within ${formatMs(collector.timeoutMs)}` }),
      collector.timeoutMs,
    );
  });
  const attempt = (async (): Promise<CommandOutcome> => {
    try {
      return { ok: true, result: await exec(host, collector.command, { timeoutMs: collector.timeoutMs }) };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (looksLikeTimeout(error)) return { ok: false, cause: 'timeout', reason: `\`${collector.command}\` timed out: ${message}` };
      return { ok: false, cause: 'transportError', reason: message };
    }
  })();
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// An exec that enforces the timeout by rejecting reports a slow command, not a lost host.
function looksLikeTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}

function describeNoCollector(profile: CompiledProfile, type: ElementType, host: CaptureHost): string {
  const platforms = [...new Set(profile.collectors.filter((c) => c.element === type).flatMap((c) => c.platforms ?? []))];
  if (platforms.length === 0) return `profile \`${profile.name}\` has no collector of ${type}`;
  if (host.platform === undefined) {
    return `host has no \`platform\` in the inventory; profile \`${profile.name}\` collects ${type} on ${platforms.join(', ')}`;
  }
  return `profile \`${profile.name}\` has no collector of ${type} for platform \`${host.platform}\` (only ${platforms.join(', ')})`;
}

function describeStderr(stderr: string): string {
  const line = stderr.trim().split('\n')[0]?.trim();
  if (!line) return '';
  return `: ${line.length > 160 ? `${line.slice(0, 160)}...` : line}`;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Runs `work` over `items` with at most `limit` at once; results keep the items' order. */
