import ssh2 from 'ssh2';

/**
 * An ed25519 key pair ssh2 can read back. ssh2's generator strips a leading zero byte of the public
 * key, so about 1 pair in 256 is refused as malformed (mscdex/ssh2#1513): such a pair is drawn again.
 */
export function generateEd25519KeyPair(): { public: string; private: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.public) instanceof Error) && !(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}
