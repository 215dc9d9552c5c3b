import { dirname, resolve } from 'node:path';
import type { ResolvedHost } from '../plan/inventory.js';
import { collectSecrets } from '../report/redact.js';
import type { ExecutorDeps } from '../run/execute-plan.js';
import type { Plan } from '../schema/plan.js';
import { createLocalTransport } from '../transport/local.js';
import { resolveConnectTarget } from '../transport/resolve-target.js';
import { createSshTransport } from '../transport/ssh.js';
import type { HostConnection } from '../transport/types.js';
import { checkPlanSecrets } from './secrets.js';
import type { ExecSession } from './snapshot.js';

/** How the executor reaches the plan's hosts: ssh or local transport, credentials from the environment. */
export function createHostAccess(plan: Plan, inventoryDir: string, env: NodeJS.ProcessEnv): Pick<ExecutorDeps, 'connect' | 'secrets'> {
  // A resume, too, refuses a password it could not hide.
  checkPlanSecrets(plan, env);
  const ssh = createSshTransport();
  const local = createLocalTransport();
  return {
    secrets: collectSecrets(plan, env),
    connect: async (host) => {
      const target = resolveConnectTarget(host, plan.hosts[host]!, { inventoryDir, env });
      return (target.transport === 'local' ? local : ssh).connect(target);
    },
  };
}


/**
 * `runbook snapshot create`: one connection per inventory host, opened when first used and closed
 * with the session.
 */
export function createInventoryExec(hosts: readonly ResolvedHost[], inventoryPath: string, env: NodeJS.ProcessEnv): ExecSession {
  const ssh = createSshTransport();
  const local = createLocalTransport();
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const connections = new Map<string, Promise<HostConnection>>();
  const connect = (name: string) => {
    let connection = connections.get(name);
    if (!connection) {
      const target = resolveConnectTarget(name, byName.get(name)!, { inventoryDir: dirname(resolve(inventoryPath)), env });
      connection = (target.transport === 'local' ? local : ssh).connect(target);
      connections.set(name, connection);
    }
    return connection;
  };
  return {
    exec: async (host, command, options) => (await connect(host)).exec(command, options),
    close: async () => {
      await Promise.all([...connections.values()].map(async (c) => (await c.catch(() => undefined))?.close()));
    },
  };
}
