import { createHash } from 'node:crypto';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** A stable number from a text, so simulated MACs, serials and readings never change between runs. */
export function stableNumber(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

export function toJson(value: unknown, indent = 2): string {
  return `${JSON.stringify(value, null, indent)}\n`;
}

const pad2 = (value: number): string => String(value).padStart(2, '0');

/** `HH:MM:SS` under a day, `1d02h03m` under a week, then `02w3d04h`, as FRR prints peer uptimes. */
export function formatFrrUptime(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (days === 0) return `${pad2(hours)}:${pad2(minutes)}:${pad2(seconds % 60)}`;
  if (days < 7) return `${days}d${pad2(hours)}h${pad2(minutes)}m`;
  return `${pad2(Math.floor(days / 7))}w${days % 7}d${pad2(hours)}h`;
}

/** `3 days, 04:05:06`: the uptime of `net show system`. */
export function formatDaysClock(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(seconds / 86400);
  const clock = `${pad2(Math.floor((seconds % 86400) / 3600))}:${pad2(Math.floor((seconds % 3600) / 60))}:${pad2(seconds % 60)}`;
  return `${days} day${days === 1 ? '' : 's'}, ${clock}`;
}

/** `Nov 24 05:49`, as `ls -l` prints a recent time (UTC). */
export function formatLsTime(ms: number): string {
  const date = new Date(ms);
  return `${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}`;
}

/** `Fri Nov 24 05:49:07 2023`, the C library's asctime (UTC). */
export function formatCTime(ms: number): string {
  const date = new Date(ms);
  return `${DAYS[date.getUTCDay()]} ${formatLsTime(ms).slice(0, 6)} ${date.toISOString().slice(11, 19)} ${date.getUTCFullYear()}`;
}

/** `2023-11-24 05:49:07` (UTC). */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
