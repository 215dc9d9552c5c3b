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

  it('answers a prompt again when it is shown again, and each prompt in one chunk in order', () => {
    const sent: string[] = [];
    const feed = createPromptResponder(
      [
        { prompt: compileUserRegex('Password:'), send: 'p' },
        { prompt: compileUserRegex('Sure\\?'), send: 'yes' },
      ],
      (text) => sent.push(text),
    );
    feed('Sure? Password: ');
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
});
