import { runApply, type ApplyOptions } from '../../engine/commands/apply.js';
import type { RunEvent } from '../../engine/run/events.js';

export interface InProcessApply {
  exitCode: number;
  stderr: string;
  events: RunEvent[];
}

/** `runbook apply` in this process, never asking (`--yes`, no terminal, plain progress): its exit code, standard error and events. */
export async function applyInProcess(options: Partial<ApplyOptions>): Promise<InProcessApply> {
  let stderr = '';
  const events: RunEvent[] = [];
  const exitCode = await runApply({
    params: [],
    yes: true,
    noProgress: true,
    format: 'text',
    isTty: false,
    write: () => {},
    env: {},
    ...options,
    writeError: (text) => (stderr += text),
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  return { exitCode, stderr, events };
}
