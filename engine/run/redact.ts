import type { RunEvent, StepRecord } from './events.js';

export const REDACTED = '***';
/**
 * Shorter secrets are refused rather than hidden: replacing every `ab` of every output line would
 * make the output unreadable, and a two-character password is no password. Passwords are checked
 * before a run starts, secret captures when they are made.
 */
export const MIN_SECRET_LENGTH = 4;

/** Distinct non-empty values; a value read from a file often carries a trailing newline, so its trimmed form counts too. */
export function normalizeSecrets(secrets: readonly string[]): string[] {
  const values = new Set<string>();
  for (const secret of secrets) {
    if (secret !== '') values.add(secret);
    const trimmed = secret.trim();
    if (trimmed !== '') values.add(trimmed);
  }
  return [...values].sort((a, b) => b.length - a.length);
}

/**
 * The texts that give `secret` away: itself; its base64, standard and URL-safe, padded or not; the
 * part of any longer base64 string that only the secret's bytes decide, for each of the three
 * alignments the secret may have in it (`user:password` in an HTTP basic header, a password with a
 * newline after it as `echo $PASSWORD | base64` prints it); its percent-encodings (encodeURIComponent,
 * form encoding with `+` for a space, every byte encoded; hex digits in either case).
 */
export function formsOf(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = new Set<string>([secret]);
  const addBase64 = (text: string) => {
    forms.add(text);
    forms.add(text.replace(/=+$/, ''));
    forms.add(text.replace(/\+/g, '-').replace(/\//g, '_'));
    forms.add(text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
  };
  addBase64(bytes.toString('base64'));
  for (const offset of [0, 1, 2]) addBase64(base64Core(bytes, offset));
  const component = encodeURIComponent(secret);
  const form = new URLSearchParams({ s: secret }).toString().slice(2);
  const everyByte = [...bytes].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  for (const encoded of [component, component.replace(/%20/g, '+'), form, everyByte]) {
    forms.add(encoded);
    forms.add(encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()));
  }
  return [...forms].filter((form) => form.length >= MIN_SECRET_LENGTH);
}

/**
 * The base64 characters that depend on the secret's bytes alone when `offset` (0, 1 or 2) bytes
 * precede it modulo 3: the characters at either end also hold bits of the bytes around it.
 */
function base64Core(bytes: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
  const first = Math.ceil((8 * offset) / 6);
  const end = Math.floor((8 * (offset + bytes.length)) / 6);
  return encoded.slice(first, end);
}

/** Every form of every secret, longest first, in one regular expression: one pass over a text, however many secrets. */
function compileSecrets(secrets: readonly string[]): RegExp | undefined {
  const forms = new Set<string>();
  for (const secret of normalizeSecrets(secrets)) {
    if (secret.trim().length < MIN_SECRET_LENGTH) continue;
    for (const form of formsOf(secret)) forms.add(form);
  }
  if (forms.size === 0) return undefined;
  const alternatives = [...forms].sort((a, b) => b.length - a.length).map((form) => form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(alternatives.join('|'), 'g');
}

/** Replaces every form of each of `secrets` (see formsOf) by `***`; secrets shorter than MIN_SECRET_LENGTH are not looked for. */
export function replaceSecrets(text: string, secrets: readonly string[]): string {
  return createRedactor(secrets).redact(text);
}

/** Replaces secret values (passwords, secret captures), in all their forms, wherever they would be shown or stored. */
export function createRedactor(initial: readonly string[]) {
  let secrets: string[] = [];
  let pattern: RegExp | undefined;
  const add = (value: string) => {
    if (value.trim().length < MIN_SECRET_LENGTH || secrets.includes(value)) return;
    secrets = [...secrets, value];
    pattern = compileSecrets(secrets);
  };
  initial.forEach(add);
  const redact = (text: string): string => (pattern === undefined ? text : text.replace(pattern, REDACTED));
  const redactOptional = (text: string | undefined) => (text === undefined ? undefined : redact(text));
  const redactRecord = (record: StepRecord): StepRecord =>
    pattern === undefined
      ? record
      : { ...record, stdout: redact(record.stdout), stderr: redact(record.stderr), message: redactOptional(record.message), command: redactOptional(record.command) };
  const redactEvent = (event: RunEvent): RunEvent => {
    if (pattern === undefined) return event;
    switch (event.type) {
      case 'output':
        return { ...event, line: redact(event.line) };
      case 'step.started':
        return { ...event, command: redactOptional(event.command) };
      case 'step.retried':
        return { ...event, reason: redact(event.reason) };
      case 'step.finished':
        return { ...event, record: redactRecord(event.record) };
      case 'host.captured':
        // A capture not marked secret may still hold one (a header, a URL with credentials in it).
        return { ...event, values: Object.fromEntries(Object.entries(event.values).map(([name, value]) => [name, redact(value)])) };
      case 'host.finished':
      case 'run.finished':
      case 'phase.finished':
        return { ...event, message: redactOptional(event.message) };
      case 'step.decided':
      case 'run.interrupted':
        return { ...event, reason: redact(event.reason) };
      default:
        return event;
    }
  };
  /** Whether `text` holds a secret in one of its forms. */
  const reveals = (text: string): boolean => pattern !== undefined && redact(text) !== text;
  return { add, redact, redactRecord, redactEvent, reveals };
}
