import { describe, expect, it } from 'vitest';
import { CommandLineError, parseCommandLine, splitWords } from '../../lab/command-line.js';
import { stripSudo } from '../../lab/shell.js';

const words = (line: string): string[][] =>
  parseCommandLine(line).map((pipeline) => pipeline.commands.flatMap((command) => command.words.map((word) => word.text)));

describe('the lab shell syntax', () => {
  it('splits words with quotes and escapes', () => {
    expect(words(`echo 'a  b' "c \\"d\\" \\$x" e\\ f`)).toEqual([['echo', 'a  b', 'c "d" $x', 'e f']]);
    expect(splitWords(`download image 10.0.0.5 f.xos vr "VR Default" # not a comment`)).toEqual([
      'download', 'image', '10.0.0.5', 'f.xos', 'vr', 'VR Default', '#', 'not', 'a', 'comment',
    ]);
  });

  it('joins pipelines with && || ; and splits pipes', () => {
    const pipelines = parseCommandLine('a && b | c || d; e # f');
    expect(pipelines.map((pipeline) => [pipeline.connector, pipeline.commands.length])).toEqual([
      [undefined, 1],
      ['&&', 2],
      ['||', 1],
      [';', 1],
    ]);
    expect(parseCommandLine('a;')).toHaveLength(1);
  });

  it('reads redirections and marks globs', () => {
    const [pipeline] = parseCommandLine('grep x /var/*/y.xml 2>&1 >/dev/null');
    const [command] = pipeline?.commands ?? [];
    expect(command?.redirects).toEqual([
      { fd: 2, target: '&1' },
      { fd: 1, target: '/dev/null' },
    ]);
    expect(command?.words.map((word) => word.glob)).toEqual([false, false, true]);
    expect(parseCommandLine("ls '*'")[0]?.commands[0]?.words[1]?.glob).toBe(false);
    expect(parseCommandLine('cmd &>/dev/null')[0]?.commands[0]?.redirects).toEqual([{ fd: 'both', target: '/dev/null' }]);
  });

  it('rejects what a shell would', () => {
    for (const line of ['a &&', '| a', 'a | | b', 'a >', "echo 'open", 'sleep 1 &']) {
      expect(() => parseCommandLine(line), line).toThrow(CommandLineError);
    }
  });

  it('strips sudo and its options', () => {
    expect(stripSudo(['sudo', '-n', '-u', 'root', 'reboot'])).toEqual(['reboot']);
    expect(stripSudo(['reboot'])).toEqual(['reboot']);
  });
});
