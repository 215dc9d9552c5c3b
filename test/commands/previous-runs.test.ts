import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPreviousRunsHook } from '../../engine/commands/previous-runs.js';
import { createTempRepository, type TempRepository } from '../git/temp-repository.js';

// The history the `previousAttempts` pre-check reads: run reports committed under reports/runs/.

let repo: TempRepository;
beforeEach(async () => {
  repo = await createTempRepository();
});
afterEach(() => repo.remove());

function report(runId: string, runbook: string, startedAt: string, steps: Record<string, Array<[string, string]>>): string {
  const hosts = Object.fromEntries(
    Object.entries(steps).map(([host, list]) => [host, { steps: list.map(([id, status]) => ({ id, status, message: `${id} ${status}` })), rollback: [] }]),
  );
  return JSON.stringify({ kind: 'RunReport', runId, startedAt, runbook: { name: runbook, version: '1.0.0' }, hosts });
}

describe('previous runs', () => {
  it('reads only committed reports of the same runbook, oldest first, and leaves out what does not read as a report', async () => {
    repo.write('reports/runs/b.json', report('run-b', 'fabric-upgrade', '2026-01-02T00:00:00Z', { leaf03: [['install', 'failed']] }));
    repo.write('reports/runs/a.json', report('run-a', 'fabric-upgrade', '2026-01-01T00:00:00Z', { leaf03: [['install', 'succeeded']] }));
    repo.write('reports/runs/other.json', report('run-x', 'storage-upgrade', '2026-01-03T00:00:00Z', { leaf03: [['install', 'failed']] }));
    repo.write('reports/runs/broken.json', '{ not json');
    repo.write('reports/runs/a.md', '# not a report');
    await repo.commitAll('reports');
    // Written after the commit: not in history, not read.
    repo.write('reports/runs/c.json', report('run-c', 'fabric-upgrade', '2026-01-04T00:00:00Z', { leaf03: [['install', 'failed']] }));
    const runs = await createPreviousRunsHook(repo.root, 'fabric-upgrade').previousRuns();
    expect(runs.map((r) => r.runId)).toEqual(['run-a', 'run-b']);
    expect(runs[1]!.hosts.leaf03).toEqual([{ id: 'install', status: 'failed', message: 'install failed' }]);
  });

  it('has no history outside a git repository or before the first commit', async () => {
    expect(await createPreviousRunsHook(repo.root, 'fabric-upgrade').previousRuns()).toEqual([]);
    repo.write('reports/runs/a.json', report('run-a', 'fabric-upgrade', '2026-01-01T00:00:00Z', { leaf03: [['install', 'failed']] }));
    expect(await createPreviousRunsHook(repo.root, 'fabric-upgrade').previousRuns()).toEqual([]);
  });
});
