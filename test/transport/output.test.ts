import { describe, expect, it } from 'vitest';
import { StreamCollector, createPromptResponder } from '../../engine/transport/output.js';
import { compileUserRegex } from '../../engine/shared/user-regex.js';

describe('StreamCollector', () => {
  it('hands over complete lines as they arrive and the last one at the end', () => {
    const lines: string[] = [];
    const collector = new StreamCollector(1024, (line) => lines.push(line));
    collector.push(Buffer.from('one\ntw'));
    expect(lines).toEqual(['one']);
    collector.push(Buffer.from('o\r\nthree'));
    expect(lines).toEqual(['one', 'two']);
    collector.end();
    expect(lines).toEqual(['one', 'two', 'three']);
    expect(collector.text()).toBe('one\ntwo\r\nthree');
  });

  it('keeps the tail within the cap and counts what it dropped', () => {
    const collector = new StreamCollector(10);
    collector.push(Buffer.from('0123456789'));
    collector.push(Buffer.from('abcde'));
    expect(collector.text()).toBe('56789abcde');
    expect(collector.droppedBytes).toBe(5);
  });

  it('does not start the kept tail inside a multi-byte character', () => {
    const collector = new StreamCollector(4);
    // "é" is two bytes; a cap of 4 over "xé€" (1 + 2 + 3 bytes) cuts into "é".
    collector.push(Buffer.from('xé€'));
    expect(collector.text()).toBe('€');
  });

  it('decodes a character split across chunks', () => {
    const lines: string[] = [];
    const collector = new StreamCollector(1024, (line) => lines.push(line));
    const bytes = Buffer.from('€\n');
    collector.push(bytes.subarray(0, 1));
    collector.push(bytes.subarray(1));
    expect(lines).toEqual(['€']);
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
