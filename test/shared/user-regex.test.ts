import { describe, expect, it } from 'vitest';
import { UserRegexError, compileUserRegex, findUserRegexProblem } from '../../engine/shared/user-regex.js';
import { captureValues, evaluateExpectations } from '../../engine/run/expectations.js';
import type { ExecResult } from '../../engine/transport/types.js';

const output = (stdout: string): ExecResult => ({ stdout, stderr: '', exitCode: 0, signal: null, durationMs: 1, timedOut: false });

describe('compileUserRegex (RE2 dialect)', () => {
  it('finds the leftmost match with its index in string units, numbered and named groups', () => {
    const regex = compileUserRegex('(?P<major>\\d+)\\.(?<minor>\\d+)(-(\\w+))?');
    expect(regex.groupNames).toEqual(['major', 'minor']);
    const found = regex.exec('€€ version 4.3 and 5.1-rc');
    expect(found).toEqual({ index: 11, groups: ['4.3', '4', '3', undefined, undefined], named: { major: '4', minor: '3' } });
    expect(regex.test('no digits')).toBe(false);
    expect(regex.exec('no digits')).toBeNull();
  });

  it('matches ^ and $ at line ends only when multiline, as expectations and captures ask', () => {
    expect(compileUserRegex('^active$').test('frr\nactive\n')).toBe(false);
    expect(compileUserRegex('^active$', { multiline: true }).test('frr\nactive\n')).toBe(true);
    expect(compileUserRegex('(?i)ACTIVE').test('active')).toBe(true);
  });

  it.each([
    ['(?=x)', 'lookahead `(?=`'],
    ['a(?!x)', 'negative lookahead `(?!`'],
    ['(?<=a)b', 'lookbehind `(?<=`'],
    ['(?<!a)b', 'negative lookbehind `(?<!`'],
    ['(a)\\1', 'backreference `\\1`'],
    ['(?<n>a)\\k<n>', 'named backreference `\\k<name>`'],
    ['(?>a+)b', 'atomic group `(?>`'],
    ['a++', 'possessive quantifier `++`'],
    ['a{2}+', 'possessive quantifier `{2}+`'],
  ])('refuses %s, naming the construct and the dialect', (pattern, construct) => {
    const problem = findUserRegexProblem(pattern);
    expect(problem).toBeInstanceOf(UserRegexError);
    expect(problem?.unsupported).toBe(true);
    expect(problem?.message).toBe(
      `${construct} is not supported: patterns use the RE2 dialect, which matches in linear time and has no lookaround, backreferences, atomic groups or possessive quantifiers`,
    );
  });

  it('tells a mistake in the pattern from a construct left out', () => {
    const problem = findUserRegexProblem('^(active$');
    expect(problem?.unsupported).toBe(false);
    expect(problem?.message).toBe('missing closing ): `^(active$`; fix the regular expression (patterns use the RE2 dialect)');
    expect(findUserRegexProblem('\\u00e9')?.message).toMatch(/^escape `\\u` is not supported: .*; write `\\x\{00E9\}` for a code point$/);
  });
});

describe('expectations and captures on the linear-time engine', () => {
  it('fail the step, not the run, when a rendered pattern cannot be used', async () => {
    const verdict = await evaluateExpectations([{ match: '{{x}}' }], output('ok\n'), () => 'ok(?=k)');
    expect(verdict).toEqual({ ok: false, failures: [expect.stringMatching(/^\/ok\(\?=k\)\/ cannot be used: lookahead `\(\?=` is not supported/)] });
  });

  it('capture the first group, or the whole match when it has none', () => {
    const captured = captureValues({ release: { regex: '^RELEASE=(\\S+)$' }, word: { regex: 'w\\w+' } }, output('x\nRELEASE=4.3.0\nwith'));
    expect(captured).toEqual({ values: { release: '4.3.0', word: 'with' }, failures: [] });
  });
});
