import YAML from 'yaml';
import { GROUPS, type GroupName } from './topology.js';

/** Credentials by reference, as the inventory format allows (DESIGN section 3). */
export type InventoryAuth = { passwordEnv: string } | { keyFile: string } | { agent: true };

export interface InventoryHost {
  address: string;
  port: number;
  user: string;
  role: string;
  groups: string[];
  labels: Record<string, string>;
  platform: string;
  hostKey: string;
  auth: InventoryAuth;
}

export interface Inventory {
  apiVersion: 'runbook/v1';
  kind: 'Inventory';
  groups: Record<string, { description: string }>;
  hosts: Record<string, InventoryHost>;
}

export interface InventoryDevice {
  name: string;
  platform: string;
  role: string;
  address: string;
  port: number;
  hostKey: string;
  groups: readonly string[];
  labels: Readonly<Record<string, string>>;
}

export const PASSWORD_ENV = 'RUNBOOK_LAB_PASSWORD';
export const SCHEMA_COMMENT = '# yaml-language-server: $schema=../schemas/inventory.schema.json';

export function buildInventory(devices: readonly InventoryDevice[], user: string, auth: InventoryAuth): Inventory {
  const used = new Set(devices.flatMap((device) => device.groups));
  const groups: Record<string, { description: string }> = {};
  for (const [name, description] of Object.entries(GROUPS)) {
    if (used.has(name as GroupName)) groups[name] = { description };
  }
  const hosts: Record<string, InventoryHost> = {};
  for (const device of devices) {
    hosts[device.name] = {
      address: device.address,
      port: device.port,
      user,
      role: device.role,
      groups: [...device.groups],
      labels: { ...device.labels },
      platform: device.platform,
      hostKey: device.hostKey,
      auth: { ...auth },
    };
  }
  return { apiVersion: 'runbook/v1', kind: 'Inventory', groups, hosts };
}

export function formatInventoryYaml(inventory: Inventory): string {
  const body = YAML.stringify(inventory, { lineWidth: 0 });
  return `${SCHEMA_COMMENT}\n# The embedded lab (runbook lab). Its password is read from ${PASSWORD_ENV}.\n${body}`;
}
