import { describe, expect, it } from 'vitest';
import { selectProgress } from '../../engine/ui/select-progress.js';
import { captureStream, captureWrites, stripAnsi } from './capture.js';
import { createSampleRun } from './sample-run.js';

/** Runs the sample through whatever selectProgress picks and reports where the output went. */
async function runSelected(format: 'text' | 'json', noProgress: boolean, isTty: boolean) {
  const writes = captureWrites();
  const terminal = captureStream(false);
  const progress = selectProgress({ format, noProgress, isTty, write: writes.write, stream: terminal.stream, env: {} });
  for (const event of createSampleRun()) progress.handle(event);
  await progress.close();
  return { written: writes.text(), drawn: terminal.text() };
}

describe('selectProgress', () => {
  it('picks JSON lines for --format json, on a terminal or not', async () => {
    for (const isTty of [true, false]) {
      const { written, drawn } = await runSelected('json', false, isTty);
      expect(JSON.parse(written.split('\n')[0]!)).toMatchObject({ type: 'run.started' });
      expect(drawn).toBe('');
    }
  });

  it('picks the listr2 display for text on a terminal', async () => {
    const { written, drawn } = await runSelected('text', false, true);
    expect(written).toBe('');
    expect(drawn).toContain('leaf01: succeeded');
  });

  it('picks plain lines for text off a terminal or with --no-progress', async () => {
    for (const [noProgress, isTty] of [
      [false, false],
      [true, true],
      [true, false],
    ] as const) {
      const { written, drawn } = await runSelected('text', noProgress, isTty);
      expect(stripAnsi(written)).toMatch(/^2026-11-24T05:47:00\.101Z run r-20261124-0547 started/);
      expect(drawn).toBe('');
    }
  });

  it('colours plain lines only on a terminal', async () => {
    expect((await runSelected('text', true, true)).written).toContain('\u001b[');
    expect((await runSelected('text', true, false)).written).not.toContain('\u001b[');
  });
});
