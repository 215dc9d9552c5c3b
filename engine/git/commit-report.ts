import type { RunReport } from '../schema/report.js';
import { commitPaths, type CommitOutcome } from './commit-paths.js';

const MAX_HOSTS_IN_BODY = 200;
const MAX_MESSAGE = 120;

/** `runbook: fabric-upgrade 1.3.0 succeeded on 6 hosts (run …)`, with a body listing each host's state. */
export function describeRunCommit(report: RunReport, files: readonly string[] = []): { subject: string; body: string } {
  const hosts = Object.entries(report.hosts);
  const subject = `runbook: ${report.runbook.name} ${report.runbook.version} ${report.outcome} on ${hosts.length} host${hosts.length === 1 ? '' : 's'} (run ${report.runId})`;
  const lines = [`Run: ${report.runId}`, `Plan: ${report.planHash}`, `Outcome: ${report.outcome}${report.message ? ` (${clip(report.message)})` : ''}`, '', 'Hosts:'];
  for (const [name, host] of hosts.slice(0, MAX_HOSTS_IN_BODY)) lines.push(`  ${name}: ${host.state}${host.message ? ` (${clip(host.message)})` : ''}`);
  if (hosts.length > MAX_HOSTS_IN_BODY) lines.push(`  … and ${hosts.length - MAX_HOSTS_IN_BODY} more (see the report)`);
  if (files.length > 0) lines.push('', 'Files:', ...files.map((file) => `  ${file}`));
  return { subject, body: lines.join('\n') };
}

/** Commits the report files (and snapshot files) alone, in one commit on the current branch. */
export async function commitRunReport(root: string, report: RunReport, files: readonly string[], options: { push?: boolean } = {}): Promise<CommitOutcome> {
  const { subject, body } = describeRunCommit(report, files);
  return commitPaths({ folder: root, paths: files, subject, body, push: options.push });
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE - 1)}…` : line;
}
