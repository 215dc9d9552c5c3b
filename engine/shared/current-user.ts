import { userInfo } from 'node:os';

/** The operating-system user running the engine. */
export function readCurrentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // Containers may run as a uid with no passwd entry: fall back to the environment.
    return process.env.USER ?? process.env.LOGNAME ?? process.env.USERNAME ?? `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}
