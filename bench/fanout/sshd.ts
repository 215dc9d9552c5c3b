// The fan-out benchmark's sshd: the tests' private sshd, tuned for many hosts at once.
import { startSshd, type Sshd } from '../../test/helpers/sshd.js';

export type BenchSshd = Sshd;

/**
 * sshd on loopback with the limits a fan-out needs (BENCHMARKING.md): MaxStartups high enough that no
 * handshake is dropped, and `SHLVL=1` in every session so bash does not read ~/.bashrc (bash reads it
 * for commands run by sshd only when it thinks it is the top-level shell), keeping rc-file work out
 * of the measurement.
 */
export function startBenchSshd(options: { addresses?: number } = {}): Promise<BenchSshd> {
  return startSshd({
    addresses: options.addresses,
    extraConfig: ['PermitRootLogin prohibit-password', 'SetEnv SHLVL=1', 'PrintMotd no', 'PrintLastLog no', 'X11Forwarding no', 'UseDNS no'],
  });
}
