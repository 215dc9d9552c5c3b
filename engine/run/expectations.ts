import type { Capture, Expect } from '../schema/runbook.js';
import { UserRegexError, compileUserRegex, type UserRegex, type UserRegexOptions } from '../shared/user-regex.js';
import { compareLooseVersions, parseLooseVersion, type LooseVersion } from '../shared/versions.js';
import type { ExecResult } from '../transport/types.js';
import { parseJsonOutput, readJsonPath } from './json-path.js';
import { MIN_SECRET_LENGTH } from './redact.js';

export interface Verdict {
  ok: boolean;
  failures: string[];
}

/** Renders a template value in the step's context (captures, params, host). */
export type RenderValue = (template: string) => string;

/** Assertions that need more than the command's output, such as a snapshot comparison. */
export type EvaluateExternal = (expect: Expect) => Promise<Verdict | undefined>;

const describe = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));
const tail = (text: string) => (text.length > 200 ? `…${text.slice(-200)}` : text);

/**
 * Checks a command's result against a step's expectations. Without an `exitCode` expectation the command
 * must exit 0, as in a shell script with `set -e`.
 */
export async function evaluateExpectations(
  expects: readonly Expect[],
  result: ExecResult,
  render: RenderValue,
  external?: EvaluateExternal,
): Promise<Verdict> {
  const failures: string[] = [];
  if (result.timedOut) failures.push('the command timed out');
  if (!expects.some((e) => e.exitCode !== undefined) && result.exitCode !== 0 && !result.timedOut) {
    failures.push(`exit code ${describe(result.exitCode ?? `signal ${result.signal}`)}, expected 0`);
  }
  for (const expect of expects) {
    const failure = expect.snapshotDiff !== undefined ? await evaluateSnapshotDiff(expect, external) : evaluateOne(expect, result, render);
    failures.push(...failure);
  }
  return { ok: failures.length === 0, failures };
}

async function evaluateSnapshotDiff(expect: Expect, external: EvaluateExternal | undefined): Promise<string[]> {
  const verdict = await external?.(expect);
  if (!verdict) return ['snapshotDiff needs snapshots before and after (strategy.snapshot) and none were taken'];
  return verdict.failures;
}

function evaluateOne(expect: Expect, result: ExecResult, render: RenderValue): string[] {
  // `value` tests a rendered text (captures, params) rather than what the command printed.
  const subject = expect.value === undefined ? 'output' : 'value';
  const output = expect.value !== undefined ? render(expect.value) : expect.stream === 'stderr' ? result.stderr : result.stdout;
  if (expect.exitCode !== undefined) {
    const allowed = Array.isArray(expect.exitCode) ? expect.exitCode : [expect.exitCode];
    return result.exitCode !== null && allowed.includes(result.exitCode)
      ? []
      : [`exit code ${describe(result.exitCode ?? `signal ${result.signal}`)}, expected ${allowed.join(' or ')}`];
  }
  if (expect.match !== undefined || expect.notMatch !== undefined) {
    const wanted = expect.match !== undefined;
    const pattern = compileOrExplain(render((expect.match ?? expect.notMatch)!), { multiline: true });
    if (typeof pattern === 'string') return [pattern];
    const lines = expect.everyLine ? output.split('\n').filter((l) => l.trim() !== '') : [output];
    const offending = lines.filter((line) => pattern.test(line) !== wanted);
    if (expect.everyLine && lines.length === 0 && wanted) return [`no output lines to match /${pattern.source}/`];
    if (offending.length === 0) return [];
    return [
      expect.everyLine
        ? `${offending.length} line(s) ${wanted ? 'do not match' : 'match'} /${pattern.source}/: ${describe(tail(offending[0]!))}`
        : `${subject} ${wanted ? 'does not match' : 'matches'} /${pattern.source}/: ${describe(tail(output))}`,
    ];
  }
  if (expect.contains !== undefined) {
    const needle = render(expect.contains);
    return output.includes(needle) ? [] : [`${subject} does not contain ${describe(needle)}: ${describe(tail(output))}`];
  }
  if (expect.json !== undefined) return evaluateJson(expect.json, output, render);
  if (expect.number !== undefined) {
    const text = expect.number.value !== undefined ? render(expect.number.value) : output.trim();
    const value = Number(text);
    if (text.trim() === '' || Number.isNaN(value)) return [`${describe(tail(text))} is not a number`];
    const { gte, lte, between } = expect.number;
    const failures: string[] = [];
    if (gte !== undefined && !(value >= gte)) failures.push(`${value} is below ${gte}`);
    if (lte !== undefined && !(value <= lte)) failures.push(`${value} is above ${lte}`);
    if (between !== undefined && !(value >= between[0]! && value <= between[1]!)) failures.push(`${value} is not between ${between[0]} and ${between[1]}`);
    return failures;
  }
  if (expect.semver !== undefined) return evaluateSemver(expect.semver, render);
  return [];
}

function evaluateJson(json: NonNullable<Expect['json']>, output: string, render: RenderValue): string[] {
  const parsed = parseJsonOutput(output);
  if (!parsed.ok) return [parsed.error];
  const value = readJsonPath(parsed.value, json.path);
  const at = `\`${json.path}\` is ${describe(value)}`;
  const resolve = (v: unknown) => (typeof v === 'string' ? render(v) : v);
  const same = (a: unknown, b: unknown) => a === b || (typeof b === 'string' && String(a) === b);
  const failures: string[] = [];
  if (json.equals !== undefined && !same(value, resolve(json.equals))) failures.push(`${at}, expected ${describe(resolve(json.equals))}`);
  if (json.in !== undefined && !json.in.map(resolve).some((v) => same(value, v))) failures.push(`${at}, expected one of ${json.in.map(resolve).map(describe).join(', ')}`);
  if (json.matches !== undefined) {
    const pattern = compileOrExplain(json.matches);
    if (typeof pattern === 'string') failures.push(pattern);
    else if (!pattern.test(String(value))) failures.push(`${at}, expected to match /${json.matches}/`);
  }
  if (json.gte !== undefined && !(Number(value) >= Number(resolve(json.gte)))) failures.push(`${at}, expected at least ${describe(resolve(json.gte))}`);
  if (json.lte !== undefined && !(Number(value) <= Number(resolve(json.lte)))) failures.push(`${at}, expected at most ${describe(resolve(json.lte))}`);
  return failures;
}

function evaluateSemver(spec: NonNullable<Expect['semver']>, render: RenderValue): string[] {
  const valueText = render(spec.value);
  const value = parseLooseVersion(valueText);
  if (!value) return [`${describe(valueText)} is not a version`];
  const checks: Array<[string | undefined, (other: LooseVersion) => boolean, string]> = [
    [spec.gte, (o) => compareLooseVersions(value, o) >= 0, 'at least'],
    [spec.lt, (o) => compareLooseVersions(value, o) < 0, 'lower than'],
    [spec.sameMajorAs, (o) => value.semver.major === o.semver.major, 'in the same major release as'],
    [spec.sameMinorAs, (o) => value.semver.major === o.semver.major && value.semver.minor === o.semver.minor, 'in the same minor release as'],
  ];
  const failures: string[] = [];
  for (const [template, test, words] of checks) {
    if (template === undefined) continue;
    const otherText = render(template);
    const other = parseLooseVersion(otherText);
    if (!other) failures.push(`${describe(otherText)} is not a version`);
    else if (!test(other)) failures.push(`version ${value.shown} is not ${words} ${other.shown}`);
  }
  return failures;
}

/** Captures named values from the output; a capture that finds nothing is a failure, not an empty string. */
export function captureValues(captures: Record<string, Capture>, result: ExecResult): { values: Record<string, string>; failures: string[] } {
  // No prototype: a capture may be called `constructor` or `__proto__`.
  const values: Record<string, string> = Object.create(null);
  const failures: string[] = [];
  for (const [name, capture] of Object.entries(captures)) {
    const output = capture.stream === 'stderr' ? result.stderr : result.stdout;
    if (capture.regex !== undefined) {
      const pattern = compileOrExplain(capture.regex, { multiline: true });
      const match = typeof pattern === 'string' ? undefined : pattern.exec(output);
      if (typeof pattern === 'string') failures.push(`capture \`${name}\`: ${pattern}`);
      else if (match) values[name] = match.groups[1] ?? match.groups[0]!;
      else failures.push(`capture \`${name}\`: /${capture.regex}/ found nothing in the output`);
    } else if (capture.json !== undefined) {
      const parsed = parseJsonOutput(output);
      const value = parsed.ok ? readJsonPath(parsed.value, capture.json) : undefined;
      if (!parsed.ok) failures.push(`capture \`${name}\`: ${parsed.error}`);
      else if (value === undefined) failures.push(`capture \`${name}\`: \`${capture.json}\` is not in the output`);
      else values[name] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    // Too short to hide in every output line: dropped, so the step fails and keeps none of its output.
    if (capture.secret && values[name] !== undefined && values[name]!.trim().length < MIN_SECRET_LENGTH) {
      delete values[name];
      failures.push(`capture \`${name}\` is marked secret and is shorter than ${MIN_SECRET_LENGTH} characters: too short to be hidden in the output; check the capture`);
    }
  }
  return { values, failures };
}

/**
 * A pattern on the linear-time engine, or why it cannot be used. Validation refuses a bad pattern, but
 * a rendered value can still make one: that fails the step, it does not crash the run.
 */
function compileOrExplain(pattern: string, options?: UserRegexOptions): UserRegex | string {
  try {
    return compileUserRegex(pattern, options);
  } catch (error) {
    if (error instanceof UserRegexError) return `/${pattern}/ cannot be used: ${error.message}`;
    throw error;
  }
}
