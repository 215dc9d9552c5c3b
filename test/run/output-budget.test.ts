import { afterEach, describe, expect, it, vi } from 'vitest';
import { createOutputBudget, type OutputBudgetLimits, type OutputStream } from '../../engine/run/output-budget.js';
import { keepHeadAndTail, parseKeptOutput } from '../../engine/shared/kept-output.js';
import { excerptOutput } from '../../engine/report/excerpt.js';
import { makePlan } from '../../engine/plan/make-plan.js';
import { createManualClock } from '../../engine/run/clock.js';
import type { RunEvent } from '../../engine/run/events.js';
import { executePlan } from '../../engine/run/execute-plan.js';
import type { Inventory } from '../../engine/schema/inventory.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { createLocalTransport } from '../../engine/transport/local.js';

const LIMITS: OutputBudgetLimits = { headBytes: 40, tailBytes: 30, batchBytes: 20, batchMs: 250 };

function collect(limits = LIMITS) {
  const sent: Array<[OutputStream, string]> = [];
  const budget = createOutputBudget((stream, text) => sent.push([stream, text]), limits);
  return { sent, budget };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('the output events of a step', () => {
  it('gather lines into one event per batch size, and send the rest of a batch when the step ends', () => {
    const { sent, budget } = collect();
    budget.write('stdout', 'one\ntwo\nthr');
    budget.write('stdout', 'ee\nfourth\n');
    // 4 + 4 + 6 + 7 bytes with their line ends: the fourth line fills the batch.
    expect(sent).toEqual([['stdout', 'one\ntwo\nthree\nfourth']]);
    budget.write('stdout', 'five');
    budget.finish();
    expect(sent).toEqual([
      ['stdout', 'one\ntwo\nthree\nfourth'],
      ['stdout', 'five'],
    ]);
  });

  it('send a pending batch after a short interval', () => {
    vi.useFakeTimers();
    const { sent, budget } = collect();
    budget.write('stderr', 'warning\n');
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(LIMITS.batchMs);
    expect(sent).toEqual([['stderr', 'warning']]);
  });

  it('end lines at \\n, \\r\\n and a lone \\r, even when \\r\\n is split across pieces', () => {
    const { sent, budget } = collect({ ...LIMITS, batchBytes: 1000 });
    budget.write('stdout', '10%\r20%\r');
    budget.write('stdout', '\ndone\r\nnext\n\nlast');
    budget.finish();
    expect(sent).toEqual([['stdout', '10%\n20%\ndone\nnext\n\nlast']]);
  });

  it('send the first lines as they come, then only the last ones, counting those between', () => {
    const { sent, budget } = collect({ ...LIMITS, batchBytes: 1000 });
    for (let i = 0; i < 1000; i++) budget.write('stdout', `line ${String(i).padStart(3, '0')}\n`);
    budget.finish();
    const text = sent.map(([, t]) => t).join('\n').split('\n');
    // 9 bytes a line: 4 lines fit the 40-byte head, 3 the 30-byte tail.
    expect(text).toEqual(['line 000', 'line 001', 'line 002', 'line 003', '[… 993 lines (8937 bytes) of output not shown …]', 'line 997', 'line 998', 'line 999']);
  });

  it('keep a budget per stream', () => {
    const { sent, budget } = collect({ ...LIMITS, headBytes: 10, tailBytes: 0 });
    for (let i = 0; i < 5; i++) {
      budget.write('stdout', `out${i}\n`);
      budget.write('stderr', `err${i}\n`);
    }
    budget.finish();
    expect(sent).toEqual([
      ['stdout', 'out0\nout1'],
      ['stderr', 'err0\nerr1'],
      ['stdout', '[… 3 lines (15 bytes) of output not shown …]'],
      ['stderr', '[… 3 lines (15 bytes) of output not shown …]'],
    ]);
  });

  it('hold no more than the budgets of a stream that never ends a line', () => {
    const { sent, budget } = collect({ ...LIMITS, batchBytes: 1000 });
    const piece = 'x'.repeat(1000);
    for (let i = 0; i < 1000; i++) budget.write('stdout', piece);
    budget.finish();
    // Nothing fits the 40-byte head; the last 30 bytes are all that is sent of a million.
    expect(sent).toEqual([
      ['stdout', '[… 0 lines (999970 bytes) of output not shown …]'],
      ['stdout', 'x'.repeat(30)],
    ]);
  });
});

describe('the output a step record keeps', () => {
  it('is the whole output when it fits, with `\\r` line ends made `\\n`', () => {
    expect(keepHeadAndTail('a\r\nb\rc\n', 10, 10)).toBe('a\nb\nc\n');
  });

  it('is the first and last part, cut at line ends, with the count of bytes dropped between', () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(2, '0')}`).join('\n');
    const kept = keepHeadAndTail(`${text}\n`, 20, 20);
    expect(kept).toBe('line 00\nline 01\n[… 768 bytes dropped …]\nline 98\nline 99\n');
    expect(parseKeptOutput(kept)).toEqual({ head: 'line 00\nline 01\n', droppedBytes: 768, tail: 'line 98\nline 99\n' });
  });

  it('adds what it cuts to what the transport already dropped', () => {
    const fromTransport = `${'h\n'.repeat(50)}[… 1000 bytes dropped …]\n${'t\n'.repeat(50)}`;
    expect(keepHeadAndTail(fromTransport, 4, 4)).toBe('h\nh\n[… 1192 bytes dropped …]\nt\nt\n');
  });
});

describe('the report excerpt of a cut output', () => {
  it('shows the first lines and the last, around the line counting the bytes dropped, and says how many', () => {
    const kept = `${Array.from({ length: 30 }, (_, i) => `head ${i}`).join('\n')}\n[… 123456 bytes dropped …]\n${Array.from({ length: 60 }, (_, i) => `tail ${i}`).join('\n')}\n`;
    const excerpt = excerptOutput(kept, { lines: 8, bytes: 4096 });
    expect(excerpt).toMatchObject({ truncated: true, droppedBytes: 123456 });
    expect(excerpt.text.split('\n')).toEqual(['head 0', 'head 1', '[… 123456 bytes dropped …]', 'tail 55', 'tail 56', 'tail 57', 'tail 58', 'tail 59']);
  });
});

describe('a step that prints 300,000 lines, run by the executor', () => {
  it('journals a handful of batched output events and keeps the first and last lines in its record', async () => {
    const runbook: Runbook = {
      apiVersion: 'runbook/v1',
      kind: 'Runbook',
      metadata: { name: 'chatty', version: '1.0.0' },
      targets: { group: 'all' },
      steps: [{ id: 'count', kind: 'check', run: 'seq 1 300000' }],
    };
    const inventory: Inventory = { apiVersion: 'runbook/v1', kind: 'Inventory', hosts: { h1: { transport: 'local', groups: ['all'] } } };
    const plan = makePlan({
      runbook,
      inventory,
      files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
      params: {},
      commit: null,
      engineVersion: 'test',
    });
    const events: RunEvent[] = [];
    const local = createLocalTransport();
    const result = await executePlan(
      plan,
      {
        clock: createManualClock(0),
        emit: (event) => events.push(event),
        connect: (host) => local.connect({ name: host, transport: 'local', port: 0 }),
        approve: async () => true,
      },
      { runId: 'chatty' },
    );
    const output = events.flatMap((e) => (e.type === 'output' ? [e.line] : []));
    // 32 KiB sent as it came, 32 KiB at the end, in 8 KiB batches, and the line counting the rest.
    expect(output.length).toBeLessThanOrEqual(12);
    const lines = output.join('\n').split('\n');
    expect(lines.slice(0, 3)).toEqual(['1', '2', '3']);
    expect(lines.at(-1)).toBe('300000');
    expect(lines).toContainEqual(expect.stringMatching(/^\[… \d+ lines \(\d+ bytes\) of output not shown …\]$/));
    const record = result.hosts.h1!.steps[0]!;
    expect(record.status).toBe('succeeded');
    expect(record.stdout.startsWith('1\n2\n3\n')).toBe(true);
    expect(record.stdout.endsWith('299999\n300000\n')).toBe(true);
    expect(record.stdout).toMatch(/\n\[… \d+ bytes dropped …\]\n/);
    expect(Buffer.byteLength(record.stdout)).toBeLessThan(65 * 1024);
  });
});
