/** Minimal ANSI styling; every style is the identity when colour is off, so plain output never holds an escape. */
export interface Paint {
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

/** https://no-color.org: a NO_COLOR that is present and not empty turns colour off whatever else asks for it. */
export function isColorAllowed(requested: boolean, env: NodeJS.ProcessEnv): boolean {
  const noColor = env.NO_COLOR;
  return requested && (noColor === undefined || noColor === '');
}

function style(open: number, close: number): (text: string) => string {
  return (text) => `\u001b[${open}m${text}\u001b[${close}m`;
}

const identity = (text: string): string => text;

export function createPaint(enabled: boolean): Paint {
  if (!enabled) return { red: identity, green: identity, yellow: identity, dim: identity, bold: identity };
  return { red: style(31, 39), green: style(32, 39), yellow: style(33, 39), dim: style(2, 22), bold: style(1, 22) };
}

// CSI and OSC sequences, then any other escape, then the remaining C0/C1 controls except tab.
const CONTROL_PATTERNS = [
  /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]/g,
  /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g,
  /\u001b[@-_]?/g,
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
];

/** Command output comes from remote hosts: strip its escapes so it can neither colour nor move the cursor of our display. */
export function stripControl(text: string): string {
  return CONTROL_PATTERNS.reduce((result, pattern) => result.replace(pattern, ''), text);
}
