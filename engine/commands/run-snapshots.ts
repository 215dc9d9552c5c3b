import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { DEFAULT_SNAPSHOT_FOLDER, loadSnapshot, readProfile, replaceSnapshot, saveSnapshot, snapshotPath } from '../io/snapshot-store.js';
import type { Clock } from '../run/clock.js';
import type { HostExec, StepHooks } from '../run/run-step.js';
import type { Plan } from '../schema/plan.js';
import { evaluateDiffAssertions } from '../snapshot/assertions.js';
import { captureSnapshot } from '../snapshot/capture.js';
import { compareSnapshots } from '../snapshot/compare.js';
import { redactSnapshot } from '../snapshot/redact-snapshot.js';
import { mergeSnapshots, restrictSnapshot } from '../snapshot/restrict.js';
import { ENGINE_VERSION } from '../version.js';

/**
 * Snapshots for a run: captured over the run's own connections and stored under
 * `<root>/reports/snapshots/`, where the report commit picks them up.
 */
export function createSnapshotHooks(plan: Plan, root: string, runId: string, clock: Clock): Required<Pick<StepHooks, 'takeSnapshot' | 'assertSnapshotDiff'>> {
  const folder = join(root, DEFAULT_SNAPSHOT_FOLDER);
  const capture = (name: string, hosts: readonly string[], profile: string, exec: HostExec) =>
    captureSnapshot({
      name,
      profile: readProfile(profile),
      hosts: hosts.map((host) => ({ name: host, platform: plan.hosts[host]?.platform })),
      exec,
      clock,
      engineVersion: ENGINE_VERSION,
    });
  return {
    async takeSnapshot({ name, hosts, profile, exec, extend, note, redact }) {
      try {
        const captured = { ...redactSnapshot(await capture(name, hosts, profile, exec), redact), ...(note?.trim() ? { note: note.trim() } : {}) };
        const earlier = extend && existsSync(snapshotPath(folder, name)) ? loadSnapshot(folder, name) : undefined;
        const snapshot = earlier ? mergeSnapshots(earlier, captured) : captured;
        if (earlier) replaceSnapshot(folder, snapshot);
        else saveSnapshot(folder, snapshot);
        const missing = Object.entries(snapshot.elements).filter(([, e]) => e.status !== 'collected').map(([type]) => type);
        return {
          ok: true,
          message: `snapshot ${name}: ${snapshot.hosts.length} host(s)${missing.length > 0 ? `; not collected everywhere: ${missing.join(', ')}` : ''}`,
        };
      } catch (error) {
        return { ok: false, message: `snapshot ${name}: ${(error as Error).message}` };
      }
    },
    async assertSnapshotDiff(expect, { host, profile, exec, redact }) {
      const beforeName = expect.before ?? `${runId}-before`;
      if (!existsSync(snapshotPath(folder, beforeName))) {
        return { ok: false, failures: [`no snapshot ${beforeName} to compare with; set strategy.snapshot.before or name one in \`before\``] };
      }
      const before = restrictSnapshot(loadSnapshot(folder, beforeName), [host]);
      const after = expect.after
        ? restrictSnapshot(loadSnapshot(folder, expect.after), [host])
        : redactSnapshot(await capture(`${runId}-${host}-now`, [host], profile, exec), redact);
      return evaluateDiffAssertions(compareSnapshots(before, after), expect);
    },
  };
}
