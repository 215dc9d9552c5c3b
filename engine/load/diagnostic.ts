/**
 * Stable diagnostic codes. A code never changes meaning once released: CI scripts and editors key on them.
 * RB10xx: the file itself; RB11xx: the schema; RB12xx: runbook rules; RB13xx: inventory rules.
 */
export const CODES = {
  RB1001: 'YAML syntax error',
  RB1002: 'duplicate key',
  RB1003: 'unknown document kind',
  RB1004: 'YAML alias expansion refused',
  RB1005: 'file unreadable',
  RB1006: 'empty document',
  RB1007: 'nesting too deep',
  RB1101: 'unknown field',
  RB1102: 'missing field',
  RB1103: 'wrong type',
  RB1104: 'invalid value',
  RB1105: 'value out of range',
  RB1106: 'literal credential',
  RB1201: 'duplicate step id',
  RB1202: 'undeclared param',
  RB1203: 'unknown template variable',
  RB1204: 'template syntax error',
  RB1205: 'invalid regular expression',
  RB1206: 'expectation needs exactly one operator',
  RB1207: 'capture needs exactly one of regex or json',
  RB1208: 'role not in inventory',
  RB1209: 'invalid semantic version',
  RB1210: 'field does not fit the step kind',
  RB1211: 'template helper not allowed',
  RB1212: 'invalid param default',
  RB1213: 'unknown snapshot element',
  RB1214: 'regular expression construct not supported (RE2 dialect)',
  RB1220: 'step role held by no host (warning)',
  RB1230: 'expectation value with the wrong operator',
  RB1231: 'answer rules that can never be told apart',
  RB1240: 'hops name a step that is not under steps',
  RB1241: 'hops end before they start',
  RB1242: 'hops list not known at plan time',
  RB1243: 'hop value used outside the hops',
  RB1244: 'value captured in a hop used after the hops',
  RB1245: 'invalid hop value',
  RB1246: 'field does not fit a put step',
  RB1250: 'severity on a step that changes the host',
  RB1251: 'previous attempts on a step that is not a pre-check',
  RB1252: 'file transfer step fields',
  RB1301: 'undeclared group',
  RB1302: 'target selects no host',
} as const;

export type DiagnosticCode = keyof typeof CODES;
export type Severity = 'error' | 'warning';

export interface Position {
  line: number;
  col: number;
}

export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  file: string;
  line: number;
  col: number;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity} ${d.code} ${d.message}`;
}

export function countErrors(diagnostics: readonly Diagnostic[]): number {
  return diagnostics.filter((d) => d.severity === 'error').length;
}
