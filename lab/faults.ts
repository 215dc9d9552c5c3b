/** A command pattern: a RegExp, or a string taken as the source of an unanchored regular expression. */
export type CommandPattern = string | RegExp;

/** Faults a device can be given, from the lab options or at run time. */
export type Fault =
  /** The install command (onie-install, qq upgrade_cluster prepare, the NSO installer, download image) exits 1. */
  | { kind: 'installFails'; message?: string; times?: number }
  /** The SSH port is closed: connections are refused. */
  | { kind: 'unreachable' }
  /** Every authentication attempt is rejected, password and key alike. */
  | { kind: 'wrongPassword' }
  /** A matching command never answers. */
  | { kind: 'hang'; command: CommandPattern; times?: number }
  /** A matching command answers after `delayMs`. */
  | { kind: 'slow'; command: CommandPattern; delayMs: number; times?: number }
  /** A matching command runs, writes half its output, and its connection is cut before the exit status. */
  | { kind: 'dropConnection'; command: CommandPattern; times?: number }
  /** The chassis backup supervisor never reaches In Sync. */
  | { kind: 'neverSyncs' }
  /** After its next reboot the device stays down (until its faults are cleared). */
  | { kind: 'neverReturns' }
  /** The chassis refuses `download image`: its service contract has expired. */
  | { kind: 'serviceContractExpired' }
  /** After the device's next reboot its BGP session with `peer` stays down, on both ends. */
  | { kind: 'bgpSessionDrop'; peer: string };

export type FaultKind = Fault['kind'];
export type FaultOf<K extends FaultKind> = Extract<Fault, { kind: K }>;
export type CommandFault = FaultOf<'hang' | 'slow' | 'dropConnection'>;

export const FAULT_KINDS = [
  'installFails',
  'unreachable',
  'wrongPassword',
  'hang',
  'slow',
  'dropConnection',
  'neverSyncs',
  'neverReturns',
  'bgpSessionDrop',
  'serviceContractExpired',
] as const satisfies readonly FaultKind[];

const COMMAND_FAULTS: readonly FaultKind[] = ['hang', 'slow', 'dropConnection'];

function matchesCommand(pattern: CommandPattern, commandLine: string): boolean {
  return (typeof pattern === 'string' ? new RegExp(pattern) : pattern).test(commandLine);
}

/** Throws a readable error for a fault that could not work, so a typo does not silently do nothing. */
export function checkFault(fault: Fault): void {
  if (!(FAULT_KINDS as readonly string[]).includes(fault.kind)) {
    throw new Error(`unknown fault kind "${fault.kind}"; expected one of ${FAULT_KINDS.join(', ')}`);
  }
  if (COMMAND_FAULTS.includes(fault.kind) && !('command' in fault && fault.command !== undefined)) {
    throw new Error(`fault "${fault.kind}" needs a command pattern`);
  }
  if (fault.kind === 'slow' && !(fault.delayMs >= 0)) throw new Error('fault "slow" needs delayMs >= 0');
  if (fault.kind === 'bgpSessionDrop' && !fault.peer) throw new Error('fault "bgpSessionDrop" needs a peer');
}

/** The faults of one device; those with `times` wear out after that many uses. */
export class FaultSet {
  private entries: Array<{ fault: Fault; remaining: number }> = [];

  add(fault: Fault): void {
    checkFault(fault);
    const times = 'times' in fault && fault.times !== undefined ? fault.times : Number.POSITIVE_INFINITY;
    this.entries.push({ fault, remaining: times });
  }

  clear(): void {
    this.entries = [];
  }

  list(): Fault[] {
    return this.entries.map((entry) => entry.fault);
  }

  has(kind: FaultKind): boolean {
    return this.entries.some((entry) => entry.fault.kind === kind);
  }

  find<K extends FaultKind>(kind: K): FaultOf<K> | undefined {
    return this.entries.find((entry) => entry.fault.kind === kind)?.fault as FaultOf<K> | undefined;
  }

  /** Uses up one application of the first fault of `kind` that `accept`s, and returns it. */
  take<K extends FaultKind>(kind: K, accept: (fault: FaultOf<K>) => boolean = () => true): FaultOf<K> | undefined {
    const index = this.entries.findIndex((entry) => entry.fault.kind === kind && accept(entry.fault as FaultOf<K>));
    const entry = this.entries[index];
    if (entry === undefined) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.entries.splice(index, 1);
    return entry.fault as FaultOf<K>;
  }

  /** The first hang, slow or dropConnection fault whose pattern matches the command line. */
  takeCommandFault(commandLine: string): CommandFault | undefined {
    for (const kind of ['hang', 'slow', 'dropConnection'] as const) {
      const fault = this.take(kind, (candidate) => matchesCommand(candidate.command, commandLine));
      if (fault !== undefined) return fault;
    }
    return undefined;
  }
}
