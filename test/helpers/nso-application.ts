import type { Client } from 'ssh2';
import type { Lab } from '../../lab/index.js';
import { connect, exec } from './ssh-client.js';

/** One write the application tried, where, and whether NSO acknowledged it. */
export interface ApplicationWrite {
  key: string;
  node: string;
  /** What the runbook was about to run when the application wrote. */
  before: string;
  accepted: boolean;
}

const APP_USER = 'app';

/**
 * An application of the NSO cluster: before each command a runbook sends to an NSO node, it commits
 * one new leaf to whichever node is primary then (as a client behind the cluster's virtual address
 * would), over SSH, and remembers whether NSO acknowledged the commit. Use `beforeCommand` as the
 * lab's `nso.beforeCommand`.
 */
export function createNsoApplication(nodes: readonly string[]) {
  let lab: Lab | undefined;
  const writes: ApplicationWrite[] = [];
  const clients = new Map<string, Promise<Client>>();
  const clientOf = (node: string): Promise<Client> => {
    let client = clients.get(node);
    if (!client) {
      const device = lab!.device(node);
      client = connect({ host: device.address, port: device.port });
      clients.set(node, client);
    }
    return client;
  };
  const isPrimary = (node: string) => (lab!.state(node) as { ha: { mode: string } }).ha.mode === 'primary';

  return {
    writes,
    attach(started: Lab): void {
      lab = started;
    },
    async beforeCommand(_node: string, line: string): Promise<void> {
      if (lab === undefined || line.includes(`-u ${APP_USER}`)) return;
      for (const node of nodes.filter(isPrimary)) {
        const key = `w${writes.length + 1}`;
        const write: ApplicationWrite = { key, node, before: line, accepted: false };
        writes.push(write);
        const result = await exec(await clientOf(node), `ncs_cli -C -u ${APP_USER}`, { stdin: `config\napp write ${key} ${node}\ncommit\nend\n` });
        // The write travels over SSH while other nodes' commands run: a node that stopped being primary
        // meanwhile (restarted alone by a rollback, say) no longer holds the virtual address, and a
        // client behind it could not have written there. Only a primary's acknowledgement counts.
        write.accepted = result.code === 0 && result.stdout.includes('Commit complete.') && isPrimary(node);
      }
    },
    /** The acknowledged writes a node's database does not hold. */
    missingOn(node: string): ApplicationWrite[] {
      const entries = (lab!.state(node) as { cdb: { entries: Record<string, string> } }).cdb.entries;
      return writes.filter((write) => write.accepted && entries[`app write ${write.key}`] === undefined);
    },
    async close(): Promise<void> {
      for (const client of clients.values()) (await client.catch(() => undefined))?.end();
    },
  };
}
