import { createInputError } from '../errors.js';
import { suggestName } from '../load/suggest.js';
import { describeControlCharacter, findControlCharacter, showName } from '../shared/control-characters.js';
import type { Param } from '../schema/runbook.js';
import { UserRegexError, compileUserRegex } from '../shared/user-regex.js';
import { analyseTemplate, hasTemplate, renderTemplate } from './template.js';

export type ParamValue = string | number | boolean;

/** Parses `k=v` pairs from the command line; a repeated name is a mistake worth stopping for. */
export function parseParamArgs(pairs: readonly string[]): Record<string, string> {
  // No prototype: a param may be called `constructor` or `__proto__`.
  const out: Record<string, string> = Object.create(null);
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw createInputError('RB2001', `--param ${showName(pair)} is not of the form name=value`);
    const name = pair.slice(0, eq);
    if (Object.hasOwn(out, name)) throw createInputError('RB2001', `--param ${showName(name)} is given twice; give it once`);
    out[name] = pair.slice(eq + 1);
  }
  return out;
}

/** Checks given values against the declarations and applies defaults (which may be templates over other params). */
export function resolveParams(declared: Record<string, Param>, given: Record<string, string>): Record<string, ParamValue> {
  const names = Object.keys(declared);
  const isDeclared = (name: string) => Object.hasOwn(declared, name);
  for (const name of Object.keys(given)) {
    if (!isDeclared(name)) {
      const suggestion = suggestName(name, names);
      throw createInputError(
        'RB2001',
        `unknown param ${showName(name)}; ${suggestion ? `did you mean \`${suggestion}\`?` : `the runbook declares: ${names.join(', ') || 'none'}`}`,
      );
    }
  }
  const values: Record<string, ParamValue> = Object.create(null);
  const hasValue = (name: string) => Object.hasOwn(values, name);
  for (const [name, param] of Object.entries(declared)) {
    if (Object.hasOwn(given, name)) values[name] = convertParam(name, param, given[name]!);
  }
  // Defaults may refer to other params: resolve in dependency order, refusing cycles.
  const pending = names.filter((n) => !hasValue(n) && declared[n]!.default !== undefined);
  while (pending.length > 0) {
    const ready = pending.findIndex((n) => dependenciesOf(declared[n]!.default).every((d) => hasValue(d) || !isDeclared(d) || declared[d]!.default === undefined));
    if (ready < 0) throw createInputError('RB2006', `the defaults of params ${pending.join(', ')} refer to each other in a cycle`);
    const name = pending.splice(ready, 1)[0]!;
    const fallback = declared[name]!.default!;
    values[name] =
      typeof fallback === 'string'
        ? convertParam(name, declared[name]!, renderTemplate(fallback, { params: values, host: {}, run: {}, captures: {} }))
        : fallback;
  }
  const missing = names.filter((n) => declared[n]!.required && !hasValue(n));
  if (missing.length > 0) {
    throw createInputError('RB2002', `missing required param(s): ${missing.map((n) => `\`${n}\``).join(', ')}; pass ${missing.map((n) => `--param ${n}=...`).join(' ')}`);
  }
  return values;
}

function dependenciesOf(value: unknown): string[] {
  if (typeof value !== 'string' || !hasTemplate(value)) return [];
  return analyseTemplate(value).refs.filter((r) => r.scope === 'params').map((r) => r.name);
}

function convertParam(name: string, param: Param, text: string): ParamValue {
  // Before any other check, so that no message below echoes the character.
  const control = findControlCharacter(text);
  if (control) {
    throw createInputError(
      'RB2007',
      `param \`${name}\` ${describeControlCharacter(text, control)}; a param is one line of text without control characters (a tab is allowed): remove it`,
    );
  }
  const type = param.type ?? 'string';
  let value: ParamValue = text;
  if (type === 'number' || type === 'integer') {
    value = Number(text);
    if (text.trim() === '' || Number.isNaN(value) || (type === 'integer' && !Number.isInteger(value))) {
      throw createInputError('RB2003', `param \`${name}\` must be ${type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(text)}`);
    }
  } else if (type === 'boolean') {
    if (text !== 'true' && text !== 'false') throw createInputError('RB2003', `param \`${name}\` must be true or false, got ${JSON.stringify(text)}`);
    value = text === 'true';
  }
  if (param.pattern !== undefined && typeof value === 'string' && !matchesPattern(name, param.pattern, value)) {
    throw createInputError('RB2003', `param \`${name}\` = ${JSON.stringify(text)} does not match its pattern ${param.pattern}${param.description ? ` (${param.description})` : ''}`);
  }
  if (param.enum !== undefined && !param.enum.includes(value)) {
    throw createInputError('RB2003', `param \`${name}\` = ${JSON.stringify(text)} is not one of ${param.enum.join(', ')}`);
  }
  return value;
}

function matchesPattern(name: string, pattern: string, value: string): boolean {
  try {
    return compileUserRegex(pattern).test(value);
  } catch (error) {
    // Validation refuses such a pattern; a plan made without it still says what is wrong.
    if (error instanceof UserRegexError) throw createInputError('RB1205', `the pattern of param \`${name}\`: ${error.message}`);
    throw error;
  }
}
