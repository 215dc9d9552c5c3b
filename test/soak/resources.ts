import { readdirSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** What this process holds open: file descriptors by kind, and Node's active handles by type. */
export interface ResourceCounts {
  fds: number;
  sockets: number;
  pipes: number;
  files: number;
  otherFds: number;
  tcpHandles: number;
  tcpServers: number;
  fsRequests: number;
}

const HANDLE_NAMES = { tcpHandles: ['TCPSocketWrap', 'TCPWRAP'], tcpServers: ['TCPServerWrap'], fsRequests: ['FSReqCallback', 'FSReqPromise', 'FileHandle'] } as const;

export function countResources(): ResourceCounts {
  const counts = { fds: 0, sockets: 0, pipes: 0, files: 0, otherFds: 0 };
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // The descriptor readdir itself used, closed by now.
      continue;
    }
    counts.fds++;
    if (target.startsWith('socket:')) counts.sockets++;
    else if (target.startsWith('pipe:')) counts.pipes++;
    else if (target.startsWith('/')) counts.files++;
    else counts.otherFds++;
  }
  const active = process.getActiveResourcesInfo();
  const count = (names: readonly string[]) => active.filter((name) => names.includes(name)).length;
  return {
    ...counts,
    tcpHandles: count(HANDLE_NAMES.tcpHandles),
    tcpServers: count(HANDLE_NAMES.tcpServers),
    fsRequests: count(HANDLE_NAMES.fsRequests),
  };
}

/**
 * The counts once closing handles have finished closing (a destroyed socket releases its descriptor
 * on a later turn of the event loop): polls until they are back to `baseline` or `waitMs` passed.
 */
export async function settledResources(baseline: ResourceCounts, waitMs: number): Promise<ResourceCounts> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const now = countResources();
    const back = (Object.keys(baseline) as Array<keyof ResourceCounts>).every((key) => now[key] <= baseline[key]);
    if (back || Date.now() >= deadline) return now;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Binds each address:port again; returns those that cannot be bound (still held by someone). */
export async function rebindAll(endpoints: ReadonlyArray<{ address: string; port: number }>): Promise<string[]> {
  const refused: string[] = [];
  for (const { address, port } of endpoints) {
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address, port, exclusive: true }, resolve);
      });
    } catch (error) {
      refused.push(`${address}:${port} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      continue;
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return refused;
}
