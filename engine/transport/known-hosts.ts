import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { compileUserRegex, type UserRegex } from '../shared/user-regex.js';

/** One key line of an OpenSSH known_hosts file. */
export interface KnownHostEntry {
  /** `@revoked` keys are refused; `@cert-authority` lines sign certificates, which we do not use. */
  marker: 'revoked' | 'cert-authority' | null;
  /** The host field as written: comma-separated patterns or one `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  keyBlob: Buffer;
}

/** `SHA256:<base64 without padding>` of a public key blob, as `ssh-keygen -lf` prints it. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Pins are compared without base64 padding, which some tools print and `ssh-keygen` does not. */
export function normalizeFingerprint(pin: string): string | null {
  const match = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(pin.trim());
  return match ? `SHA256:${match[1]}` : null;
}

/** The algorithm name at the start of a public key blob (`string type || ...`). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const length = keyBlob.readUInt32BE(0);
  if (length > 64 || keyBlob.length < 4 + length) return 'unknown';
  return keyBlob.subarray(4, 4 + length).toString('latin1');
}

/** Lines that are blank, comments or malformed are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    } else if (fields[0]?.startsWith('@')) {
      continue;
    }
    const [hosts, keyType, keyBase64] = fields;
    if (hosts === undefined || keyType === undefined || keyBase64 === undefined) continue;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) continue;
    entries.push({ marker, hosts, keyType, keyBlob: Buffer.from(keyBase64, 'base64') });
  }
  return entries;
}

/** The name OpenSSH looks a host up by: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function entryMatchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const names = port === 22 ? [host, `[${host}]:22`] : [knownHostsName(host, port)];
  if (entry.hosts.startsWith('|1|')) return names.some((name) => matchesHashedName(entry.hosts, name));
  return names.some((name) => matchesPatternList(entry.hosts, name));
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, written by `ssh-keygen -H` and HashKnownHosts. */
function matchesHashedName(field: string, name: string): boolean {
  const [, , saltBase64, hashBase64] = field.split('|');
  if (saltBase64 === undefined || hashBase64 === undefined) return false;
  const expected = Buffer.from(hashBase64, 'base64');
  const actual = createHmac('sha1', Buffer.from(saltBase64, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Comma-separated patterns with `*` and `?`; a matching `!pattern` excludes the host outright. */
function matchesPatternList(list: string, name: string): boolean {
  let matched = false;
  for (const rawPattern of list.split(',')) {
    const negated = rawPattern.startsWith('!');
    const pattern = negated ? rawPattern.slice(1) : rawPattern;
    if (!globToRegExp(pattern).test(name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** On the linear-time engine: a known_hosts line full of `*` must not stall the connection. */
function globToRegExp(pattern: string): UserRegex {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return compileUserRegex(`(?i)^${source}$`);
}

/** What known_hosts says about one host. */
export interface KnownHostKeys {
  accepted: KnownHostEntry[];
  revoked: KnownHostEntry[];
}

export function findHostKeys(entries: readonly KnownHostEntry[], host: string, port: number): KnownHostKeys {
  const accepted: KnownHostEntry[] = [];
  const revoked: KnownHostEntry[] = [];
  for (const entry of entries) {
    if (entry.marker === 'revoked') {
      // A revoked key is refused whichever host presents it.
      revoked.push(entry);
    } else if (entry.marker === null && entryMatchesHost(entry, host, port)) {
      accepted.push(entry);
    }
  }
  return { accepted, revoked };
}
