import { describe, expect, it } from 'vitest';
import { StreamCollector, createPromptResponder } from '../../engine/transport/output.js';
import { compileUserRegex } from '../../engine/shared/user-regex.js';

describe('StreamCollector', () => {
  it('hands over the text as it arrives and keeps it whole', () => {
    const texts: string[] = [];
    const collector = new StreamCollector(1024, (text) => texts.push(text));
    collector.push(Buffer.from('one\ntw'));
    collector.push(Buffer.from('o\r\nthree'));
    collector.end();
    expect(texts).toEqual(['one\ntw', 'o\r\nthree']);
    expect(collector.text()).toBe('one\ntwo\r\nthree');
  });

  it('keeps the first quarter and the last three quarters of the cap, and counts what it dropped between', () => {
    const collector = new StreamCollector(8);
    collector.push(Buffer.from('0123456789'));
    collector.push(Buffer.from('abcde'));
    expect(collector.text()).toBe('01\n[… 7 bytes dropped …]\n9abcde');
    expect(collector.droppedBytes).toBe(7);
  });

  it('keeps the whole stream when it fits', () => {
    const collector = new StreamCollector(16);
    collector.push(Buffer.from('0123456789'));
    collector.push(Buffer.from('abcde'));
    expect(collector.text()).toBe('0123456789abcde');
    expect(collector.droppedBytes).toBe(0);
  });

  it('cuts neither part inside a multi-byte character, counting the pieces as dropped', () => {
    const collector = new StreamCollector(9);
    // "é" is two bytes and "€" three: the head (2 bytes) holds "x" and half an "é", the tail (7 bytes) starts inside a "€".
    collector.push(Buffer.from('xé€€€'));
    expect(collector.text()).toBe('x\n[… 5 bytes dropped …]\n€€');
  });

  it('decodes a character split across chunks', () => {
    const texts: string[] = [];
    const collector = new StreamCollector(1024, (text) => texts.push(text));
    const bytes = Buffer.from('€\n');
    collector.push(bytes.subarray(0, 1));
    collector.push(bytes.subarray(1));
    expect(texts).toEqual(['€\n']);
  });

  it('keeps no more than its cap of a long stream, however it comes', () => {
    const collector = new StreamCollector(64 * 1024);
    for (let i = 0; i < 2000; i++) collector.push(Buffer.alloc(10_000 + (i % 7), i % 2 ? '\r' : 'y'));
    const text = collector.text();
    const total = 2000 * 10_000 + [...Array(2000).keys()].reduce((sum, i) => sum + (i % 7), 0);
    expect(collector.droppedBytes).toBe(total - 64 * 1024);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(64 * 1024 + Buffer.byteLength(`\n[… ${total - 64 * 1024} bytes dropped …]\n`));
  });
});

describe('createPromptResponder', () => {
  it('answers a prompt split across chunks once', () => {
    const sent: string[] = [];
    const feed = createPromptResponder([{ prompt: compileUserRegex('Continue\\? \\[y/N\\]'), send: 'y' }], (text) => sent.push(text));
    feed('Installing...\nContinue? [y');
    expect(sent).toEqual([]);
    feed('/N] ');
    expect(sent).toEqual(['y\n']);
    feed('working\n');
    expect(sent).toEqual(['y\n']);
  });

  it('answers a prompt again when it is shown again', () => {
    const sent: string[] = [];
    const feed = createPromptResponder(
      [
        { prompt: compileUserRegex('Password:'), send: 'p' },
        { prompt: compileUserRegex('Sure\\?'), send: 'yes' },
      ],
      (text) => sent.push(text),
    );
    feed('Sure? ');
    feed('Password: ');
    expect(sent).toEqual(['yes\n', 'p\n']);
    feed('Sorry.\nPassword: ');
    expect(sent).toEqual(['yes\n', 'p\n', 'p\n']);
  });

  it('answers a prompt that follows megabytes of output, matching on a bounded window', () => {
    const sent: string[] = [];
    const feed = createPromptResponder([{ prompt: compileUserRegex('Proceed\\? \\(y/n\\)'), send: 'y' }], (text) => sent.push(text));
    const noise = `${'x'.repeat(99)}\n`.repeat(1000);
    for (let i = 0; i < 50; i++) feed(noise);
    feed('Proceed? (y');
    feed('/n) ');
    expect(sent).toEqual(['y\n']);
  });

  it('answers each occurrence and never loops on empty matches', () => {
    const sent: string[] = [];
    const feed = createPromptResponder(
      [
        { prompt: compileUserRegex('ok\\?'), send: 'a' },
        { prompt: compileUserRegex('x*'), send: 'never' },
      ],
      (text) => sent.push(text),
    );
    feed('ok?');
    feed('ok?');
    expect(sent).toEqual(['a\n', 'a\n']);
  });

  // The words of 003_7bb3eb06bb0e8130.txt ("Detailed Steps", the BlackDiamond 8800 warning), as a PTY delivers them.
  const IO_WARNING =
    'WARNING: The other MSM operates with a different version of I/O module image.\r\n' +
    'If you continue with the MSM failover, all I/O modules will be reset.\r\n' +
    'Are you sure you want to failover? (y/n) ';
  const GENERIC = { prompt: compileUserRegex('Are you sure you want to failover\\? \\(y/n\\)'), send: 'y' };
  const SPECIFIC = { prompt: compileUserRegex('all I/O modules will be reset\\.\\s+Are you sure you want to failover\\? \\(y/n\\)'), send: 'n' };

  it('answers with the most specific rule: its match contains the others and needs more than they do, whatever the order of the rules', () => {
    for (const answers of [[GENERIC, SPECIFIC], [SPECIFIC, GENERIC]]) {
      const sent: string[] = [];
      const feed = createPromptResponder(answers, (text) => sent.push(text));
      for (const line of IO_WARNING.split(/(?<=\n)/)) feed(line);
      expect(sent).toEqual(['n\n']);
      // The generic question alone is the generic rule's.
      feed('\r\nAre you sure you want to failover? (y/n) ');
      expect(sent).toEqual(['n\n', 'y\n']);
    }
  });

  it('a rule starting at the same place and matching more text wins, even when listed second', () => {
    const sent: string[] = [];
    const feed = createPromptResponder(
      [
        { prompt: compileUserRegex('Are you sure'), send: 'y' },
        { prompt: compileUserRegex('Are you sure you want to failover\\? \\(y/n\\)'), send: 'n' },
      ],
      (text) => sent.push(text),
    );
    feed('Are you sure you want to failover? (y/n) ');
    expect(sent).toEqual(['n\n']);
  });

  const ambiguous = (answers: Parameters<typeof createPromptResponder>[0], text: string) => {
    const sent: string[] = [];
    const problems: string[] = [];
    const feed = createPromptResponder(answers, (t) => sent.push(t), (problem) => problems.push(problem));
    feed(text);
    // Once ambiguous, nothing more is answered.
    feed('Are you sure you want to failover? (y/n) ');
    return { sent, problems };
  };

  it('sends nothing and reports the prompt as ambiguous when the rules match different parts of it', () => {
    const { sent, problems } = ambiguous(
      [
        { prompt: compileUserRegex('all I/O modules will be reset'), send: 'n' },
        { prompt: compileUserRegex('Are you sure you want to failover\\? \\(y/n\\)'), send: 'y' },
      ],
      IO_WARNING,
    );
    expect(sent).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('answer[0] /all I/O modules will be reset/ and answer[1] /Are you sure you want to failover\\? \\(y/n\\)/');
    expect(problems[0]).toContain('the prompt "If you continue with the MSM failover, all I/O modules will be reset.\\r\\nAre you sure you want to failover? (y/n)" is matched by');
    expect(problems[0]).toContain('nothing was typed');
  });

  it('a rule that matches everything before the question is not more specific: it needs nothing more', () => {
    const { sent, problems } = ambiguous([{ prompt: compileUserRegex('(?s).*\\(y/n\\)'), send: 'y' }, SPECIFIC], IO_WARNING);
    expect(sent).toEqual([]);
    expect(problems).toHaveLength(1);
  });

  it('two rules matching the same text are ambiguous, even when they send the same', () => {
    expect(ambiguous([GENERIC, { ...GENERIC }], IO_WARNING).problems).toHaveLength(1);
    expect(ambiguous([GENERIC, { ...GENERIC, prompt: compileUserRegex('failover\\? \\(y/n\\)|Are you sure you want to failover\\? \\(y/n\\)') }], 'Are you sure you want to failover? (y/n) ').problems).toHaveLength(1);
  });
});
