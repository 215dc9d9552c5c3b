import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MIN_SECRET_LENGTH, REDACTED, createRedactor } from '../../engine/run/redact.js';

// Issue 12, item 11: a secret is hidden in the spellings a device or a tool prints it in, not only
// as itself. The redactor runs on every output line, so it is one regular expression, one pass.

const secret = fc.string({ unit: 'grapheme', minLength: MIN_SECRET_LENGTH, maxLength: 24 }).filter((s) => s.trim().length >= MIN_SECRET_LENGTH);
const around = fc.string({ unit: 'grapheme-ascii', maxLength: 12 });
const base64 = (bytes: Buffer) => bytes.toString('base64');
const urlSafe = (text: string) => text.replace(/\+/g, '-').replace(/\//g, '_');

/** What a redacted base64 text still tells: every `***` read as zero bits, decoded. */
function decodeRedacted(text: string): Buffer {
  return Buffer.from(urlSafe(text).replace(/-/g, '+').replace(/_/g, '/').split(REDACTED).join('AAAA'), 'base64');
}

describe('the redactor', () => {
  it('hides a secret inside any base64 text, whatever comes before and after it (the three alignments), standard or URL-safe', () => {
    fc.assert(
      fc.property(secret, around, around, fc.boolean(), (value, before, after, url) => {
        const bytes = Buffer.from(`${before}${value}${after}`, 'utf8');
        const encoded = url ? urlSafe(base64(bytes)).replace(/=+$/, '') : base64(bytes);
        const redacted = createRedactor([value]).redact(`Authorization: Basic ${encoded}`);
        expect(redacted).toContain(REDACTED);
        expect(decodeRedacted(redacted.slice('Authorization: Basic '.length)).includes(Buffer.from(value, 'utf8'))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('hides a secret percent-encoded the usual ways inside a URL or a form', () => {
    fc.assert(
      fc.property(secret, (value) => {
        const redactor = createRedactor([value]);
        const lowerHex = (text: string) => text.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
        const spellings = [
          encodeURIComponent(value),
          lowerHex(encodeURIComponent(value)),
          encodeURIComponent(value).replace(/%20/g, '+'),
          new URLSearchParams({ p: value }).toString().slice(2),
          [...Buffer.from(value, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''),
        ];
        for (const spelled of spellings) expect(redactor.redact(`https://host/login?user=ops&password=${spelled}&next=/`)).toBe(`https://host/login?user=ops&password=${REDACTED}&next=/`);
      }),
      { numRuns: 200 },
    );
  });

  it('hides the whole of the base64 of the secret alone, padded or not, and with the newline echo adds', () => {
    const value = 'Pw+/9 s@fe:K?&é~x';
    const redactor = createRedactor([value]);
    for (const encoded of [base64(Buffer.from(value)), base64(Buffer.from(`${value}\n`)), urlSafe(base64(Buffer.from(value))).replace(/=+$/, '')]) {
      expect(redactor.redact(`token ${encoded} end`)).toMatch(/^token \*\*\*[A-Za-z0-9+/=_-]{0,4} end$/);
    }
    expect(redactor.redact(`token ${base64(Buffer.from(value))} end`)).toBe('token *** end');
  });

  it('leaves text that holds no form of a secret as it is', () => {
    const redactor = createRedactor(['S3cr3t-Pa55-XYZZY']);
    const line = 'eth0: link up, 10000 Mbps, full duplex; peer 10.0.0.1 Established';
    expect(redactor.redact(line)).toBe(line);
  });

  it('ignores values shorter than 4 characters (they are refused where they come from)', () => {
    expect(createRedactor(['abc', ' ab \n']).redact('abc ab')).toBe('abc ab');
  });

  it('tells whether a text reveals a secret', () => {
    const redactor = createRedactor(['S3cr3t-Pa55-XYZZY']);
    expect(redactor.reveals(`Basic ${base64(Buffer.from('ops:S3cr3t-Pa55-XYZZY'))}`)).toBe(true);
    expect(redactor.reveals('nothing here')).toBe(false);
  });
});
