import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ReportTemplates {
  report: string;
  host: string;
}

/**
 * The Handlebars sources in engine/report/templates. The compiler does not copy them to dist/, so a
 * built engine finds them through the package root, as engine/version.ts finds package.json.
 */
export function loadReportTemplates(): ReportTemplates {
  const folder = findTemplateFolder();
  return {
    report: readFileSync(join(folder, 'run-report.hbs'), 'utf8'),
    host: readFileSync(join(folder, 'host.hbs'), 'utf8'),
  };
}

function findTemplateFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, 'templates', 'run-report.hbs'))) return join(here, 'templates');
  let folder = here;
  for (;;) {
    const candidate = join(folder, 'engine', 'report', 'templates');
    if (existsSync(join(folder, 'package.json')) && existsSync(join(candidate, 'run-report.hbs'))) return candidate;
    const parent = dirname(folder);
    if (parent === folder) throw new Error(`the report templates (engine/report/templates/*.hbs) are missing near ${here}; reinstall runbook`);
    folder = parent;
  }
}
