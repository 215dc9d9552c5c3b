import type { ResolvedHost } from './inventory.js';

/**
 * The document's "switch order" pre-check (shared/seeds/000_4b255f1ae4f79528.txt, Cumulus Linux
 * Upgrade, pre-check table, "(1) Switch Order"): a batch must not leave a switch outside it with no
 * neighbour up in a role it depends on, as a leaf whose two spines go down together. The neighbours
 * come from LLDP, as a committed snapshot recorded them.
 */

/** Who is cabled to whom, and where that was learnt. */
export interface Topology {
  /** The snapshot the links come from; null when none was available. */
  source: { snapshot: string; createdAt: string } | null;
  /** Pairs of host names that see each other over LLDP. */
  links: ReadonlyArray<readonly [string, string]>;
}

export interface IsolationRule {
  /** The hosts a batch holding `batch` would isolate, each with the role it loses. */
  isolatedBy(batch: ReadonlySet<string>): Array<{ host: string; role: string }>;
  /** Whether adding `host` to `batch`, which isolates no one, would isolate someone: only its dependents can be. */
  isolatesWith(batch: ReadonlySet<string>, host: string): boolean;
}

/**
 * Between inventory hosts with a role: a host depends on each role of its neighbours other than its
 * own (a leaf on the spines; MLAG peers, of one role, are the MLAG rule's business).
 */
export function createIsolationRule(topology: Topology, hosts: readonly ResolvedHost[]): IsolationRule {
  const roles = new Map(hosts.flatMap((h) => (h.role ? [[h.name, h.role] as const] : [])));
  const dependencies = new Map<string, Map<string, Set<string>>>();
  const add = (host: string, neighbour: string) => {
    const own = roles.get(host);
    const role = roles.get(neighbour);
    if (own === undefined || role === undefined || role === own) return;
    const byRole = dependencies.get(host) ?? new Map<string, Set<string>>();
    dependencies.set(host, byRole);
    byRole.set(role, (byRole.get(role) ?? new Set()).add(neighbour));
  };
  for (const [a, b] of topology.links) {
    add(a, b);
    add(b, a);
  }
  // Who depends on each host: a batch can only isolate the dependents of its members (large fabrics).
  const dependents = new Map<string, Set<string>>();
  for (const [host, byRole] of dependencies) {
    for (const neighbours of byRole.values()) for (const n of neighbours) dependents.set(n, (dependents.get(n) ?? new Set()).add(host));
  }
  const cutOff = (candidates: Iterable<string>, down: (name: string) => boolean) => {
    const isolated: Array<{ host: string; role: string }> = [];
    for (const host of candidates) {
      if (down(host)) continue;
      for (const [role, neighbours] of dependencies.get(host)!) {
        if (allDown(neighbours, down)) isolated.push({ host, role });
      }
    }
    return isolated.sort((x, y) => x.host.localeCompare(y.host));
  };
  return {
    isolatedBy(batch) {
      return cutOff(new Set([...batch].flatMap((member) => [...(dependents.get(member) ?? [])])), (name) => batch.has(name));
    },
    isolatesWith(batch, added) {
      return cutOff(dependents.get(added) ?? [], (name) => name === added || batch.has(name)).length > 0;
    },
  };
}

function allDown(neighbours: ReadonlySet<string>, down: (name: string) => boolean): boolean {
  for (const name of neighbours) if (!down(name)) return false;
  return true;
}

/** The links LLDP records describe (a host and the neighbour it names), each pair once, sorted. */
export function createTopology(source: Topology['source'], records: ReadonlyArray<Record<string, unknown>>): Topology {
  const links = new Map<string, readonly [string, string]>();
  for (const record of records) {
    const a = String(record.host);
    const b = typeof record.peerHostname === 'string' ? record.peerHostname : undefined;
    if (b === undefined || a === b) continue;
    const pair = [a, b].sort() as [string, string];
    links.set(pair.join('\n'), pair);
  }
  return { source, links: [...links.values()].sort((x, y) => x.join().localeCompare(y.join())) };
}
