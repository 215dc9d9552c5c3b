import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { PlannedHost } from '../schema/plan.js';
import { TransportError, type ConnectTarget } from './types.js';

export interface ResolveTargetOptions {
  /** The folder of the inventory file; relative key and known_hosts paths start there. */
  inventoryDir: string;
  /** Where `passwordEnv` variables are read. */
  env: Readonly<Record<string, string | undefined>>;
}

/** Turns a plan's host entry into what a transport connects to, reading the referenced secrets. */
export function resolveConnectTarget(name: string, host: PlannedHost, options: ResolveTargetOptions): ConnectTarget {
  const target: ConnectTarget = { name, transport: host.transport, port: host.port };
  if (host.address !== undefined) target.address = host.address;
  if (host.user !== undefined) target.user = host.user;
  if (host.hostKey !== undefined) target.hostKey = host.hostKey;
  const auth = host.auth;
  if (auth === undefined) return target;
  if (auth.keyFile !== undefined) target.keyFile = resolvePath(auth.keyFile, options);
  if (auth.knownHosts !== undefined) target.knownHostsFile = resolvePath(auth.knownHosts, options);
  if (auth.agent !== undefined) target.agent = auth.agent;
  if (auth.passwordEnv !== undefined) {
    const password = options.env[auth.passwordEnv];
    if (password === undefined || password === '') {
      throw new TransportError(
        'CREDENTIALS_MISSING',
        name,
        `the inventory reads the password from the environment variable ${auth.passwordEnv}, which is ` +
          `${password === undefined ? 'not set' : 'empty'}: export ${auth.passwordEnv} before running`,
      );
    }
    target.password = password;
  }
  return target;
}

function resolvePath(path: string, options: ResolveTargetOptions): string {
  if (path === '~' || path.startsWith('~/')) return join(options.env['HOME'] ?? homedir(), path.slice(1));
  return isAbsolute(path) ? path : resolve(options.inventoryDir, path);
}
