/**
 * Stable codes of the errors snapshot commands raise (exit 2 unless noted). Kept here until the
 * project's code registry (engine/load/diagnostic.ts) takes them in; the meaning of a code never changes.
 */
export const SNAPSHOT_ERROR_CODES = {
  RB1501: 'unknown element or field in a compare option',
  RB1502: 'snapshot not found',
  RB1503: 'snapshot already exists',
  RB1504: 'invalid snapshot file',
  RB1505: 'invalid tolerance rule',
  RB1506: 'invalid snapshot name',
  RB1507: 'profile not found',
  RB1508: 'unknown target host',
  RB1510: 'unknown kind of difference in diff --only',
  RB1511: 'no snapshot committed at or before a time',
  RB1512: 'unknown group in snapshot create --group',
  RB1513: 'not a time in NAME@TIME',
  RB1514: 'live side without an inventory',
} as const;

export type SnapshotErrorCode = keyof typeof SNAPSHOT_ERROR_CODES;
