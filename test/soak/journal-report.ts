import type { RunEvent, StepRecord } from '../../engine/run/events.js';
import { rebuildRunState } from '../../engine/run/resume-state.js';
import type { RunReport } from '../../engine/schema/report.js';

const SECTIONS = [
  ['precheck', 'prechecks'],
  ['step', 'steps'],
  ['rollback', 'rollback'],
] as const;

const describeStep = (step: Pick<StepRecord, 'id' | 'status' | 'attempts' | 'exitCode' | 'errorCode' | 'message'>) =>
  `${step.id} ${step.status} attempts=${step.attempts} exit=${step.exitCode} ${step.errorCode ?? '-'} ${step.message ?? ''}`;

/**
 * Where the report and the journal disagree: the outcome, every host's final state and message, and
 * every step record (id, status, attempts, exit code, error, message, in order), the "not run"
 * records of steps a failed host never reached included.
 */
export function compareJournalWithReport(events: readonly RunEvent[], report: RunReport): string[] {
  const problems: string[] = [];
  const rebuilt = rebuildRunState(events);
  if (!rebuilt) return ['the journal has no run.started event'];
  const finished = events.findLast((e) => e.type === 'run.finished');
  if (finished?.type !== 'run.finished') return ['the journal has no run.finished event'];
  if (rebuilt.runId !== report.runId) problems.push(`run id: journal ${rebuilt.runId}, report ${report.runId}`);
  if (rebuilt.finished?.outcome !== report.outcome) problems.push(`outcome: journal ${rebuilt.finished?.outcome ?? '(unfinished)'}, report ${report.outcome}`);
  const started = events.find((e) => e.type === 'run.started');
  const planned = started?.type === 'run.started' ? started.hosts : [];
  const reported = Object.keys(report.hosts);
  if ([...planned].sort().join() !== [...reported].sort().join()) problems.push(`hosts: journal ${planned.length}, report ${reported.length}`);

  const summary: Record<string, number> = {};
  for (const name of planned) {
    const journal = rebuilt.hosts[name];
    const host = report.hosts[name];
    if (!host) continue;
    const finalState = finished.hosts[name];
    summary[host.state] = (summary[host.state] ?? 0) + 1;
    if (journal?.state !== host.state || finalState !== host.state) {
      problems.push(`${name}: state in host.finished ${journal?.state ?? '(none)'}, in run.finished ${finalState}, in the report ${host.state}`);
    }
    if ((journal?.message ?? undefined) !== host.message) problems.push(`${name}: message in the journal ${JSON.stringify(journal?.message)}, in the report ${JSON.stringify(host.message)}`);
    if (journal?.finishedAt !== undefined && host.finishedAt !== new Date(journal.finishedAt).toISOString()) {
      problems.push(`${name}: finished at ${new Date(journal.finishedAt).toISOString()} in the journal, ${host.finishedAt} in the report`);
    }
    for (const [section, field] of SECTIONS) {
      const fromJournal = (journal?.[field] ?? []).map(describeStep);
      const fromReport = host[field].map(describeStep);
      if (fromJournal.join('\n') !== fromReport.join('\n')) {
        problems.push(`${name} ${section}s:\n  journal: ${fromJournal.join(' | ')}\n  report:  ${fromReport.join(' | ')}`);
      }
    }
  }
  for (const [state, count] of Object.entries(report.summary)) {
    if (summary[state] !== count) problems.push(`summary ${state}: report says ${count}, its hosts ${summary[state] ?? 0}`);
  }
  return problems;
}
