import { RE2JS, RE2JSSyntaxException } from 're2js';

// Every regex a user writes (runbooks, profiles) is compiled here, on RE2: matching takes time linear
// in the input whatever the pattern, so no pattern can hang validate, plan or a run. RE2 has no
// lookaround, backreferences, atomic groups or possessive quantifiers; a pattern using one is refused.

/** One match: `groups[0]` is the whole match, `groups[n]` the n-th group (undefined when it took no part). */
export interface UserRegexMatch {
  /** Offset of the match in the searched text, in UTF-16 code units as String indexes count. */
  readonly index: number;
  readonly groups: ReadonlyArray<string | undefined>;
  readonly named: Readonly<Record<string, string | undefined>>;
}

export interface UserRegex {
  readonly source: string;
  /** Names of the named groups, `(?P<name>...)` or `(?<name>...)`, in pattern order. */
  readonly groupNames: readonly string[];
  test(text: string): boolean;
  /** The leftmost match, or null. */
  exec(text: string): UserRegexMatch | null;
}

export interface UserRegexOptions {
  /** `^` and `$` also match at line starts and ends. */
  multiline?: boolean;
}

/** A pattern RE2 cannot compile: `problem` says what, `advice` what to do about it. */
export class UserRegexError extends Error {
  constructor(
    readonly problem: string,
    /** A construct RE2 leaves out by design (lookaround...), rather than a mistake in the pattern. */
    readonly unsupported: boolean,
    readonly advice: string,
  ) {
    super(`${problem}${unsupported ? ': ' : '; '}${advice}`);
    this.name = 'UserRegexError';
  }

  /** The sentence with `where` (" in step `x`") after what is wrong. */
  describe(where: string): string {
    return `${this.problem}${where}${this.unsupported ? ': ' : '; '}${this.advice}`;
  }
}

const DIALECT = 'patterns use the RE2 dialect, which matches in linear time and has no lookaround, backreferences, atomic groups or possessive quantifiers';

/** Compiles a user pattern; throws UserRegexError with a message fit for the user. */
export function compileUserRegex(pattern: string, options: UserRegexOptions = {}): UserRegex {
  const key = `${options.multiline ? 'm' : '-'}${pattern}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern, options.multiline ? RE2JS.MULTILINE : 0);
  } catch (error) {
    if (error instanceof RE2JSSyntaxException) throw describeSyntaxError(error);
    throw error;
  }
  const regex = wrap(pattern, compiled);
  // Expectations are compiled on every poll of an `until`; the cache is small, patterns are few.
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, regex);
  return regex;
}

/** The problem with a pattern, or undefined when it compiles. */
export function findUserRegexProblem(pattern: string): UserRegexError | undefined {
  try {
    compileUserRegex(pattern);
    return undefined;
  } catch (error) {
    if (error instanceof UserRegexError) return error;
    throw error;
  }
}

const CACHE_LIMIT = 256;
const cache = new Map<string, UserRegex>();

function wrap(source: string, compiled: RE2JS): UserRegex {
  const names = Object.entries(compiled.namedGroups())
    .sort(([, a], [, b]) => a - b)
    .map(([name]) => name);
  return {
    source,
    groupNames: names,
    test: (text) => compiled.test(text),
    exec(text) {
      const found = compiled.exec(text) as (Array<string | undefined> & { index: number; groups?: Record<string, string | undefined> }) | null;
      if (found === null) return null;
      return { index: found.index, groups: [...found], named: { ...found.groups } };
    },
  };
}

/** Constructs other dialects have and RE2 has not, told by the fragment RE2 stopped at. */
const UNSUPPORTED: ReadonlyArray<{ fragment: RegExp; construct: (fragment: string) => string; hint?: string }> = [
  { fragment: /^\(\?=/, construct: () => 'lookahead `(?=`' },
  { fragment: /^\(\?!/, construct: () => 'negative lookahead `(?!`' },
  { fragment: /^\(\?<=/, construct: () => 'lookbehind `(?<=`' },
  { fragment: /^\(\?<!/, construct: () => 'negative lookbehind `(?<!`' },
  { fragment: /^\(\?>/, construct: () => 'atomic group `(?>`' },
  { fragment: /^\(\?\(/, construct: () => 'conditional `(?(`' },
  { fragment: /^\(\?(R|[0-9+-])/, construct: () => 'recursion `(?R)`' },
  { fragment: /^\\[1-9]/, construct: (f) => `backreference \`${f.slice(0, 2)}\`` },
  { fragment: /^\\k/, construct: () => 'named backreference `\\k<name>`' },
  { fragment: /^\\u/, construct: () => 'escape `\\u`', hint: 'write `\\x{00E9}` for a code point' },
  { fragment: /^\\c/, construct: () => 'control escape `\\c`', hint: 'write `\\x{01}` for a control character' },
  { fragment: /^\\Z/, construct: () => '`\\Z`', hint: 'write `\\z` or `$`' },
  { fragment: /^([*+?]|\{[0-9,]*\})\+$/, construct: (f) => `possessive quantifier \`${f}\`` },
];

function describeSyntaxError(error: RE2JSSyntaxException): UserRegexError {
  const fragment = error.input ?? '';
  const known = UNSUPPORTED.find((u) => u.fragment.test(fragment));
  if (known) return new UserRegexError(`${known.construct(fragment)} is not supported`, true, `${DIALECT}${known.hint ? `; ${known.hint}` : ''}`);
  return new UserRegexError(`${error.error}${fragment ? `: \`${fragment}\`` : ''}`, false, 'fix the regular expression (patterns use the RE2 dialect)');
}
