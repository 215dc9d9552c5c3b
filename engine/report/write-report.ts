import { join } from 'node:path';
import { writeFileAtomic } from '../io/files.js';
import type { RunReport } from '../schema/report.js';
import { renderRunReportMarkdown, type RenderReportOptions } from './render-markdown.js';

/** Where run reports live, relative to the repository root. */
export const RUN_REPORTS_FOLDER = join('reports', 'runs');

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface WrittenReport {
  jsonPath: string;
  markdownPath: string;
}

export function renderRunReportJson(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Writes `<run-id>.md` then `<run-id>.json` into `folder`, each through a temporary file and a
 * rename. The JSON goes last: it is the ledger entry, present only when the run is fully reported.
 */
export function writeRunReport(folder: string, report: RunReport, options: RenderReportOptions = {}): WrittenReport {
  if (!RUN_ID.test(report.runId)) throw new Error(`run id ${JSON.stringify(report.runId)} cannot name a file: use letters, digits, dot, dash and underscore`);
  const markdownPath = join(folder, `${report.runId}.md`);
  const jsonPath = join(folder, `${report.runId}.json`);
  const markdown = renderRunReportMarkdown(report, options);
  const json = renderRunReportJson(report);
  writeFileAtomic(markdownPath, markdown);
  writeFileAtomic(jsonPath, json);
  return { jsonPath, markdownPath };
}
