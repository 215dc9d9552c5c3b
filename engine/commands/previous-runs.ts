import { describeRepository } from '../git/repository.js';
import { listCommittedFiles, readCommittedFiles } from '../git/committed-files.js';
import type { PreviousRun } from '../run/run-step.js';

const RUNS_FOLDER = 'reports/runs';

/**
 * The run history as committed at HEAD (`reports/runs/*.json`): for the `previousAttempts`
 * pre-check. Only runs of `runbook`; a report that does not read as one is left out. Read once.
 */
export function createPreviousRunsHook(folder: string, runbook: string): { previousRuns: () => Promise<PreviousRun[]> } {
  let loaded: Promise<PreviousRun[]> | undefined;
  return { previousRuns: () => (loaded ??= readPreviousRuns(folder, runbook)) };
}

async function readPreviousRuns(folder: string, runbook: string): Promise<PreviousRun[]> {
  const repository = await describeRepository(folder);
  if (repository?.head == null) return [];
  const files = (await listCommittedFiles(repository.root, RUNS_FOLDER)).filter((path) => path.endsWith('.json'));
  const runs: PreviousRun[] = [];
  for (const { text } of await readCommittedFiles(repository.root, files)) {
    const run = parseRun(text);
    if (run && run.runbook === runbook) runs.push(run);
  }
  return runs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

interface ReportShape {
  kind?: unknown;
  runId?: unknown;
  startedAt?: unknown;
  runbook?: { name?: unknown };
  hosts?: Record<string, { steps?: StepShape[]; rollback?: StepShape[] }>;
}
interface StepShape {
  id?: unknown;
  status?: unknown;
  message?: unknown;
}

function parseRun(text: string): (PreviousRun & { runbook: string }) | undefined {
  let report: ReportShape;
  try {
    report = JSON.parse(text) as ReportShape;
  } catch {
    return undefined;
  }
  if (report.kind !== 'RunReport' || typeof report.runId !== 'string' || typeof report.startedAt !== 'string' || typeof report.runbook?.name !== 'string') return undefined;
  const hosts: PreviousRun['hosts'] = {};
  for (const [name, host] of Object.entries(report.hosts ?? {})) {
    hosts[name] = [...(host.steps ?? []), ...(host.rollback ?? [])].flatMap((step) =>
      typeof step.id === 'string' && typeof step.status === 'string' ? [{ id: step.id, status: step.status, ...(typeof step.message === 'string' ? { message: step.message } : {}) }] : [],
    );
  }
  return { runId: report.runId, startedAt: report.startedAt, runbook: report.runbook.name, hosts };
}
