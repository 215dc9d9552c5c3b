import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../../engine/plan/template.js';
import { evaluateExpectations } from '../../engine/run/expectations.js';

// Releases with a fourth number (ExtremeXOS numbers them 31.7.2.3) compare on it too, after the first three.

const OK = { stdout: '', stderr: '', exitCode: 0, signal: null, durationMs: 0, timedOut: false };
const failuresOf = async (semver: { value: string; gte?: string; lt?: string }) => (await evaluateExpectations([{ semver }], OK, (t) => t)).failures;
const helper = (source: string) => renderTemplate(source, { params: {}, host: {}, run: {}, captures: {} });

describe('semver comparisons of versions with a fourth number', () => {
  it('gte and lt tell 31.7.2.5 from 31.7.2.3', async () => {
    expect(await failuresOf({ value: '31.7.2.3', gte: '31.7.2.5' })).toEqual(['version 31.7.2.3 is not at least 31.7.2.5']);
    expect(await failuresOf({ value: '31.7.2.5', gte: '31.7.2.3' })).toEqual([]);
    expect(await failuresOf({ value: '31.7.2.3', lt: '31.7.2.5' })).toEqual([]);
    expect(await failuresOf({ value: '31.7.2.5', lt: '31.7.2.3' })).toEqual(['version 31.7.2.5 is not lower than 31.7.2.3']);
    expect(await failuresOf({ value: '31.7.2.3', gte: '31.7.2.3' })).toEqual([]);
  });

  it('the first three numbers still decide first, and a missing fourth counts as 0', async () => {
    expect(await failuresOf({ value: '31.7.3.1', gte: '31.7.2.9' })).toEqual([]);
    expect(await failuresOf({ value: '31.7.2', lt: '31.7.2.1' })).toEqual([]);
    expect(await failuresOf({ value: '4.4.0', gte: '4.3.9' })).toEqual([]);
  });

  it('the template helpers compare the same way', () => {
    expect(helper("{{semverLt '31.7.2.3' '31.7.2.5'}}")).toBe('true');
    expect(helper("{{semverGte '31.7.2.3' '31.7.2.5'}}")).toBe('false');
    expect(helper("{{semverGt '31.7.2.5' '31.7.2.3'}}")).toBe('true');
    expect(helper("{{semverLte '31.7.2.5' '31.7.2.3'}}")).toBe('false');
  });
});
