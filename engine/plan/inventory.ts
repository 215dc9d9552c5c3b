import type { Auth, Inventory } from '../schema/inventory.js';

type HostDefaults = NonNullable<Inventory['defaults']>;
import type { HostSelector, Runbook } from '../schema/runbook.js';

export const DEFAULT_SSH_PORT = 22;

/** A host with the inventory's defaults applied. */
export interface ResolvedHost {
  name: string;
  address?: string;
  port: number;
  user?: string;
  role?: string;
  groups: string[];
  labels: Record<string, string>;
  platform?: string;
  transport: 'ssh' | 'local';
  hostKey?: string;
  auth?: Auth;
}

export function resolveHosts(inventory: Inventory): ResolvedHost[] {
  const defaults: HostDefaults = inventory.defaults ?? {};
  const defaultGroups = defaults.groups ?? [];
  const resolved: ResolvedHost[] = [];
  // A plain loop rather than spreading defaults into each host: 10,000 hosts are resolved on every plan.
  for (const name of Object.keys(inventory.hosts)) {
    const host = inventory.hosts[name]!;
    // As `{ ...defaults, ...host }` would: a field the host sets wins, even when unset in it.
    const pick = <K extends keyof HostDefaults>(key: K): HostDefaults[K] => (key in host ? host[key] : defaults[key]);
    resolved.push({
      name,
      address: host.address,
      port: pick('port') ?? DEFAULT_SSH_PORT,
      user: pick('user'),
      role: pick('role'),
      groups: host.groups === undefined ? [...new Set(defaultGroups)] : [...new Set([...defaultGroups, ...host.groups])],
      labels: sortLabels({ ...defaults.labels, ...host.labels }),
      platform: pick('platform'),
      transport: pick('transport') ?? 'ssh',
      hostKey: pick('hostKey'),
      auth: pick('auth'),
    });
  }
  return resolved;
}

/** Labels in key order, as the plan's canonical JSON has them: serialising then copies nothing. */
function sortLabels(labels: Record<string, string>): Record<string, string> {
  const keys = Object.keys(labels);
  if (keys.every((key, i) => i === 0 || keys[i - 1]! < key)) return labels;
  const sorted: Record<string, string> = Object.create(null);
  for (const key of keys.sort()) sorted[key] = labels[key]!;
  return sorted;
}

function hasLabels(host: ResolvedHost, labels: Record<string, string> | undefined): boolean {
  return Object.entries(labels ?? {}).every(([key, value]) => host.labels[key] === value);
}

/** The hosts of the inventory the runbook targets, in inventory order; every given selector must hold. */
export function selectTargets(targets: Runbook['targets'], hosts: readonly ResolvedHost[]): ResolvedHost[] {
  return hosts.filter(
    (host) =>
      (targets.group === undefined || host.groups.includes(targets.group)) &&
      (targets.hosts === undefined || targets.hosts.includes(host.name)) &&
      hasLabels(host, targets.labels),
  );
}

export function matchesSelector(host: ResolvedHost, selector: HostSelector | undefined): boolean {
  if (!selector) return true;
  return (
    (selector.role === undefined || host.role === selector.role) &&
    (selector.hosts === undefined || selector.hosts.includes(host.name)) &&
    hasLabels(host, selector.labels)
  );
}
