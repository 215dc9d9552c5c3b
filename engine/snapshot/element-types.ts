/** Element types a snapshot holds (DESIGN section 6). */
export const ELEMENT_TYPES = [
  'bgp',
  'clag',
  'interface',
  'address',
  'link',
  'lldp',
  'mac',
  'neighbor',
  'node',
  'ospf',
  'route',
  'sensor',
  'service',
] as const;
export type ElementType = (typeof ELEMENT_TYPES)[number];
