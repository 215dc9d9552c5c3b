import type { Auth, Inventory } from '../schema/inventory.js';
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
  const defaults = inventory.defaults ?? {};
  return Object.entries(inventory.hosts).map(([name, host]) => {
    const merged = { ...defaults, ...host };
    return {
      name,
      address: merged.address,
      port: merged.port ?? DEFAULT_SSH_PORT,
      user: merged.user,
      role: merged.role,
      groups: [...new Set([...(defaults.groups ?? []), ...(host.groups ?? [])])],
      labels: { ...defaults.labels, ...host.labels },
      platform: merged.platform,
      transport: merged.transport ?? 'ssh',
      hostKey: merged.hostKey,
      auth: merged.auth,
    };
  });
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
