import { collectSecrets } from '../report/redact.js';
import type { ExecutorDeps } from '../run/execute-plan.js';
import type { Plan } from '../schema/plan.js';
import { createLocalTransport } from '../transport/local.js';
import { resolveConnectTarget } from '../transport/resolve-target.js';
import { createSshTransport } from '../transport/ssh.js';

/** How the executor reaches the plan's hosts: ssh or local transport, credentials from the environment. */
export function createHostAccess(plan: Plan, inventoryDir: string, env: NodeJS.ProcessEnv): Pick<ExecutorDeps, 'connect' | 'secrets'> {
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

