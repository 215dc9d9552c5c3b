import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';

/** A device's SSH host key, derived from its name so a shipped inventory can pin it. */
export interface HostKey {
  /** OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`), the format ssh2's Server parses. */
  privateKey: string;
  /** The public key blob as sent on the wire (`string "ssh-ed25519" || string key`). */
  publicKey: Buffer;
  /** `ssh-ed25519 AAAA... name`, as in known_hosts or a .pub file. */
  publicKeyLine: string;
  /** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

// PKCS#8 header of an ed25519 private key; the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const KEY_TYPE = 'ssh-ed25519';

export function fingerprintOf(publicKeyBlob: Buffer): string {
  const digest = createHash('sha256').update(publicKeyBlob).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

export function deriveHostKey(deviceName: string): HostKey {
  const seed = createHash('sha256').update(`runbook-lab:${deviceName}`).digest();
  const privateKeyObject = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  // The raw 32-byte public key closes the SPKI DER encoding.
  const rawPublic = createPublicKey(privateKeyObject).export({ format: 'der', type: 'spki' }).subarray(-32);
  const publicKey = Buffer.concat([sshString(KEY_TYPE), sshString(rawPublic)]);
  return {
    privateKey: encodeOpenSshPrivateKey(seed, rawPublic, publicKey, deviceName),
    publicKey,
    publicKeyLine: `${KEY_TYPE} ${publicKey.toString('base64')} ${deviceName}`,
    fingerprint: fingerprintOf(publicKey),
  };
}

/** The unencrypted `openssh-key-v1` container (PROTOCOL.key in OpenSSH's sources). */
function encodeOpenSshPrivateKey(seed: Buffer, rawPublic: Buffer, publicKey: Buffer, comment: string): string {
  // The check integers only need to match each other; derive them so the key text is stable.
  const check = uint32(seed.readUInt32BE(0));
  let privateSection = Buffer.concat([
    check,
    check,
    sshString(KEY_TYPE),
    sshString(rawPublic),
    sshString(Buffer.concat([seed, rawPublic])),
    sshString(comment),
  ]);
  const padding: number[] = [];
  for (let pad = 1; (privateSection.length + padding.length) % 8 !== 0; pad++) padding.push(pad);
  privateSection = Buffer.concat([privateSection, Buffer.from(padding)]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(Buffer.alloc(0)),
    uint32(1),
    sshString(publicKey),
    sshString(privateSection),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function sshString(value: string | Buffer): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([uint32(data.length), data]);
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}
