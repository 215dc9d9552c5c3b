// Control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) in a value that reaches a
// command line, a commit message or a terminal: a NUL no process argument can hold, line breaks
// that start a new command or trailer, escape sequences that rewrite the screen. A tab is ordinary
// white space and is allowed.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/u;
const ANY_CONTROL = /[\u0000-\u001f\u007f-\u009f]/gu;
const ANY_CONTROL_TEST = /[\u0000-\u001f\u007f-\u009f]/u;

export interface ControlCharacter {
  /** `U+0000` */
  code: string;
  /** Index in the text, counted in UTF-16 units from 0. */
  index: number;
}

/** The first control character other than tab in `text`, if any. */
export function findControlCharacter(text: string): ControlCharacter | undefined {
  const match = CONTROL.exec(text);
  if (!match) return undefined;
  return { code: `U+${match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`, index: match.index };
}

/** `text` as a double-quoted string with every control character escaped: safe to print whatever it holds. */
export function showEscaped(text: string): string {
  return `"${escapeControlCharacters(text.replace(/["\\]/g, '\\$&'))}"`;
}

/** `text` in backquotes as messages name things, or shown escaped when it holds a control character. */
export function showName(text: string): string {
  return ANY_CONTROL_TEST.test(text) ? showEscaped(text) : `\`${text}\``;
}

/** `text` with every control character (tab included) written as an escape: `\n`, `\u0000`. */
export function escapeControlCharacters(text: string): string {
  return text.replace(ANY_CONTROL, escapeOne);
}

const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeOne(char: string): string {
  return NAMED[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** The refusal's words: which character, where, and the value shown escaped. */
export function describeControlCharacter(text: string, found: ControlCharacter): string {
  return `holds the control character ${found.code} (at position ${found.index + 1} of ${showEscaped(text)})`;
}
