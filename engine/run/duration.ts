const UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** `30s`, `10m`, `1h`, `500ms` or a number of milliseconds; undefined stays undefined. */
export function parseDuration(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const match = /^(\d+)(ms|s|m|h)$/.exec(value);
  if (!match) throw new Error(`not a duration: ${value}`);
  return Number(match[1]) * UNITS[match[2] as keyof typeof UNITS];
}
