import {
  COLLECTION_STYLE,
  EVENT_ID,
  NOT_RESOLVED,
  SCALAR_STYLE,
  Schema,
  constructFromEvents,
  defineMappingTag,
  defineScalarTag,
  mergeTag,
  parseEvents,
  seqTag,
  strTag,
  type Event,
} from 'js-yaml';

// js-yaml builds the value about ten times faster than `yaml`, but keeps no source positions and
// differs from `yaml` in corners. This module is the fast path of parseYamlSource: it gives a value
// only for input where it matches `yaml` (with our options) exactly, and otherwise `undefined`, so
// the caller falls back to `yaml`. Every refusal below costs speed only; a silent difference in a
// value would reach the plan. test/load/yaml-fast-path.test.ts compares the two parsers.

/** Nesting beyond this goes to `yaml`, which has no such limit. */
const MAX_DEPTH = 100;
/** js-yaml's own bound on the keys that merges (`<<`) copy; `yaml` has none, so more falls back. */
const MAX_MERGED_KEYS = 10_000;

const DIGITS = [...'0123456789'];

// The scalar types of `yaml`'s core schema (node_modules/yaml/dist/schema/core/ and common/null.js),
// same patterns, same conversions, same order. js-yaml's CORE_SCHEMA differs: a number too large
// for a double (`1e400`, a 400-digit integer or hex) is a string there but Infinity in `yaml`.
const nullTag = defineScalarTag('tag:yaml.org,2002:null', {
  implicit: true,
  implicitFirstChars: ['', '~', 'n', 'N'],
  resolve: (source) => (/^(?:~|[Nn]ull|NULL)?$/.test(source) ? null : NOT_RESOLVED),
  identify: (data) => data === null,
});

const boolTag = defineScalarTag('tag:yaml.org,2002:bool', {
  implicit: true,
  implicitFirstChars: ['t', 'T', 'f', 'F'],
  resolve: (source) => (/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(source) ? source[0] === 't' || source[0] === 'T' : NOT_RESOLVED),
  identify: (data) => typeof data === 'boolean',
});

const intTag = defineScalarTag('tag:yaml.org,2002:int', {
  implicit: true,
  implicitFirstChars: ['-', '+', ...DIGITS],
  resolve: (source) => {
    if (/^0o[0-7]+$/.test(source)) return parseInt(source.substring(2), 8);
    if (/^[-+]?[0-9]+$/.test(source)) return parseInt(source, 10);
    if (/^0x[0-9a-fA-F]+$/.test(source)) return parseInt(source.substring(2), 16);
    return NOT_RESOLVED;
  },
  identify: (data) => Number.isInteger(data),
});

const floatTag = defineScalarTag('tag:yaml.org,2002:float', {
  implicit: true,
  implicitFirstChars: ['-', '+', '.', ...DIGITS],
  resolve: (source) => {
    if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(source)) {
      return source.slice(-3).toLowerCase() === 'nan' ? NaN : source[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    }
    if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(source)) return parseFloat(source);
    if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(source)) return parseFloat(source);
    return NOT_RESOLVED;
  },
  identify: (data) => typeof data === 'number',
});

/**
 * Plain objects like `yaml`'s toJS, string keys only: `yaml` turns a key `1`, `true` or `~` into
 * "1", "true" and "" but a merged one into "1", "true" and "null", and reports a list or mapping
 * as a key (RB1103). Refusing every other key makes js-yaml throw, and the caller falls back.
 */
const mapTag = defineMappingTag<Record<string, unknown>>('tag:yaml.org,2002:map', {
  create: () => ({}),
  addPair: (map, key, value) => {
    if (typeof key !== 'string') return 'a key that is not a string goes to the positional parser';
    // Like `yaml` (and unlike an assignment, which would set the prototype): an own property.
    if (key === '__proto__') Object.defineProperty(map, key, { value, writable: true, enumerable: true, configurable: true });
    else map[key] = value;
    return '';
  },
  has: (map, key) => typeof key === 'string' && Object.prototype.hasOwnProperty.call(map, key),
  keys: (map) => Object.keys(map),
  // Merges only: `yaml` builds the merged values anew from the source node, so a merged list or
  // mapping is a copy, not the object the anchor itself holds.
  get: (map, key) => copyTree(map[key as string]),
  identify: () => false,
});

const SCHEMA = new Schema([strTag, seqTag, mapTag, nullTag, boolTag, intTag, floatTag, mergeTag]);

/**
 * The value of `text` as `yaml` would build it, or `undefined` when the input needs `yaml`: it does
 * not parse, holds a duplicate key, a non-string key, a tag, a directive, several documents (or
 * none), or an alias this path cannot prove `yaml` expands the same way.
 */
export function loadYamlFast(text: string, maxAliasCount: number): { value: unknown } | undefined {
  try {
    const events = parseEvents(text, { maxDepth: MAX_DEPTH });
    if (!isPlainDocument(text, events)) return undefined;
    // `yaml` counts the anchored node as one use of it: 999 aliases of one anchor are its limit.
    const [value] = constructFromEvents(events, { source: text, schema: SCHEMA, maxAliases: maxAliasCount - 1, maxTotalMergeKeys: MAX_MERGED_KEYS });
    return { value };
  } catch {
    // Whatever js-yaml refuses, `yaml` reports with its own words and positions.
    return undefined;
  }
}

/** A copy of a value built from a node without aliases: a tree of plain objects, arrays and scalars. */
function copyTree(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copyTree);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) mapTag.addPair(copy, key, copyTree(item));
  return copy;
}

/**
 * One document without directives or tags, whose aliases all stand outside anchored nodes, and whose
 * anchored collections do not nest. `yaml` counts an alias of a node holding aliases as all of them
 * (count × nested count > maxAliasCount is a bomb to it); with no alias inside an anchored node each
 * alias counts one, so `yaml` refuses nothing that js-yaml, bounded by `maxAliases`, accepts. And
 * none of the syntax that js-yaml accepts and `yaml` refuses or reads otherwise (each check says which).
 */
function isPlainDocument(text: string, events: readonly Event[]): boolean {
  if (!acceptsText(text)) return false;
  let documents = 0;
  // Open collections: whether each is a mapping, and how many nodes it holds so far (keys and values).
  const isMapping: boolean[] = [];
  const counts: number[] = [];
  // The depth at which the outermost anchored collection opened (0: none is open).
  let anchoredAt = 0;
  for (const event of events) {
    if (event.type === EVENT_ID.DOCUMENT) {
      if (++documents > 1 || event.directives.length > 0) return false;
      // js-yaml takes an indented `---` for the start of the document, `yaml` for text.
      if (event.explicitStart && !/^\ufeff?(?:[ \t]*(?:#.*)?\r?\n)*---(?:[ \t\r\n]|$)/.test(text)) return false;
      continue;
    }
    if (event.type === EVENT_ID.POP) {
      // Pops close collections, then the document.
      if (isMapping.length === anchoredAt) anchoredAt = 0;
      isMapping.pop();
      counts.pop();
      continue;
    }
    const depth = isMapping.length;
    const inMapping = depth > 0 && isMapping[depth - 1]!;
    const isKey = inMapping && counts[depth - 1]! % 2 === 0;
    if (depth > 0) counts[depth - 1]!++;
    if (event.type === EVENT_ID.ALIAS) {
      if (anchoredAt !== 0) return false;
      // The alias name follows its `*`.
      if (isKey && !isShortKey(text, event.anchorStart - 1, event.anchorEnd)) return false;
      continue;
    }
    if (event.tagStart !== -1) return false;
    if (event.anchorStart !== -1 && !isSeparated(text, event.anchorEnd)) return false;
    if (event.type === EVENT_ID.SCALAR) {
      if (event.anchorStart !== -1) {
        // `[&a\n, b]`: `yaml` wants a node after the anchor.
        if (event.valueStart === -1) return false;
        // `&a <<: {}`: an alias of a merge key is a symbol to `yaml`, the text `<<` to js-yaml.
        if (event.style === SCALAR_STYLE.PLAIN && event.valueEnd - event.valueStart === 2 && text.startsWith('<<', event.valueStart)) return false;
      }
      const start = event.anchorStart !== -1 ? event.anchorStart : event.valueStart;
      if (isKey && !isShortKey(text, start, event.valueEnd)) return false;
      if (!event.fast && event.style === SCALAR_STYLE.DOUBLE_QUOTED && hasEscapedLineBreak(text, event.valueStart, event.valueEnd)) return false;
      if (event.style === SCALAR_STYLE.LITERAL_BLOCK || event.style === SCALAR_STYLE.FOLDED_BLOCK) {
        // A whole document of one block scalar: the libraries end it at different lines.
        if (depth === 0 || hasIndentationIndicator(text, event.valueStart)) return false;
        // `|+` up to the end of a text without a final line break: they keep different line breaks.
        if (event.valueEnd === text.length && !text.endsWith('\n')) return false;
      }
      continue;
    }
    // `a: &x b: c`: a block collection as a value starts on a line of its own to `yaml`, not to js-yaml.
    if (inMapping && !isKey && event.style === COLLECTION_STYLE.BLOCK && !startsLine(text, event.start)) return false;
    // A collection as a key: js-yaml refuses it through mapTag anyway.
    isMapping.push(event.type === EVENT_ID.MAPPING);
    counts.push(0);
    if (event.anchorStart !== -1) {
      // A merge makes `yaml` rebuild an anchored node, and re-point the anchors inside it at the copy.
      if (anchoredAt !== 0) return false;
      anchoredAt = depth + 1;
    }
  }
  return documents === 1;
}

/**
 * Line breaks and white space `yaml` reads differently: a lone CR is no line break to `yaml` (it is
 * to js-yaml), `...` before the content makes a second document to `yaml`, and a tab in the
 * indentation, or after the `-`, `?` or `:` that start a line (`- \t&a x`), is an error to `yaml`
 * where js-yaml lets it pass.
 */
function acceptsText(text: string): boolean {
  return !/\r(?!\n)|^\.\.\.(?:[ \t\r\n]|$)|^ *(?:[-?:][ \t]+)*(?:[-?:] *)?\t/m.test(text);
}

/** Whether only spaces stand between the start of the line and `offset`. */
function startsLine(text: string, offset: number): boolean {
  for (let i = offset - 1; i >= 0; i--) {
    const char = text.charCodeAt(i);
    if (char === 0x0a) return true;
    if (char !== 0x20) return false;
  }
  return true;
}

/** `yaml` wants white space after an anchor (`&a[1]` is an error to it, an anchor `a` to js-yaml). */
function isSeparated(text: string, offset: number): boolean {
  const next = text.charCodeAt(offset);
  return Number.isNaN(next) || next === 0x20 || next === 0x09 || next === 0x0a || next === 0x0d;
}

/** `yaml` wants the `:` of an implicit key at most 1024 characters after the key starts; js-yaml has no limit. */
function isShortKey(text: string, start: number, end: number): boolean {
  const limit = Math.min(text.length, start + 1000);
  for (let i = end; i < limit; i++) if (text.charCodeAt(i) === 0x3a) return true;
  return false;
}

/**
 * A double-quoted scalar over several lines with an escape in it: the libraries fold an escaped line
 * break (`\` at the end of a line) followed by an empty line differently.
 */
function hasEscapedLineBreak(text: string, start: number, end: number): boolean {
  const source = text.slice(start, end);
  return source.includes('\\') && source.includes('\n');
}

/**
 * A block scalar header with an indentation indicator (`|2`): the libraries keep different parts of
 * the lines of spaces in it (and at the top level, `yaml` counts the indentation from column 0,
 * js-yaml from -1). `start` is where the content starts, just after the header's line.
 */
function hasIndentationIndicator(text: string, start: number): boolean {
  const lineEnd = text.charCodeAt(start - 1) === 0x0a ? start - (text.charCodeAt(start - 2) === 0x0d ? 2 : 1) : start;
  const header = text.slice(text.lastIndexOf('\n', lineEnd - 1) + 1, lineEnd);
  return /[|>][-+]?[0-9]/.test(header);
}
