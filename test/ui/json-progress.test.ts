import { describe, expect, it } from 'vitest';
import { createJsonProgress } from '../../engine/ui/json-progress.js';
import { captureWrites } from './capture.js';
import { createSampleRun } from './sample-run.js';

describe('createJsonProgress', () => {
  it('writes each event as one JSON line that parses back to the same event', async () => {
    const capture = captureWrites();
    const progress = createJsonProgress({ write: capture.write });
    const events = createSampleRun();
    for (const event of events) progress.handle(event);
    await progress.close();
    const text = capture.text();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(lines).toHaveLength(events.length);
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(events);
  });

  it('keeps control characters of command output escaped inside their line', async () => {
    const capture = captureWrites();
    const progress = createJsonProgress({ write: capture.write });
    progress.handle({ type: 'output', at: 1, host: 'leaf01', stepId: 'build', stream: 'stdout', line: '\u001b[31mred\r\nnext' });
    await progress.close();
    expect(capture.text().split('\n')).toEqual(['{"type":"output","at":1,"host":"leaf01","stepId":"build","stream":"stdout","line":"\\u001b[31mred\\r\\nnext"}', '']);
  });

  it('writes nothing after close', async () => {
    const capture = captureWrites();
    const progress = createJsonProgress({ write: capture.write });
    await progress.close();
    progress.handle(createSampleRun()[0]!);
    expect(capture.text()).toBe('');
  });
});
