import type { Clock, Timers } from './clock.js';
import type { FaultSet } from './faults.js';
import type { CommandIo } from './shell.js';
import type { VirtualFs } from './vfs.js';

export const PLATFORMS = ['cumulus', 'qumulo', 'nso', 'exos'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Delays of the simulated devices, in milliseconds. */
export interface LabTimings {
  /** How long a rebooting device (or a rebooting chassis supervisor) stays down. */
  rebootDelayMs: number;
  /** How long a chassis backup supervisor stays Not In Sync after it boots. */
  syncDelayMs: number;
  /** How long the chassis management address drops connections during a supervisor failover. */
  failoverDelayMs: number;
  /** Storage upgrade PREPARING -> PREPARED. */
  prepareMs: number;
  /** Storage upgrade COMMITTING before the new version runs (before the reboots of a platform upgrade). */
  commitMs: number;
}

/** Power and reachability of one device, shared by its SSH endpoint and its simulator. */
export interface PowerControl {
  /** Booted. A booted device may still refuse connections (an `unreachable` fault, a failover). */
  readonly up: boolean;
  /** When the device last finished booting (clock ms). */
  readonly upSince: number;
  /** When the device last went down, while it is down. */
  readonly downSince: number | undefined;
  /**
   * Reboots once the running command has answered: drops every connection, refuses new ones for
   * `downMs` (default `rebootDelayMs`), then calls `onUp` and serves again.
   */
  reboot(options?: { downMs?: number; onUp?: () => void }): void;
  /** Drops every connection and refuses new ones for `downMs`, while the device keeps running. */
  interrupt(downMs: number): void;
}

/** What a device family gets from the lab. */
export interface DeviceEnv {
  name: string;
  /** The device's lab address, as the inventory gives it. */
  address: string;
  user: string;
  clock: Clock;
  timers: Timers;
  timings: LabTimings;
  power: PowerControl;
  faults: FaultSet;
}

/** A question a device's command prints before it waits for an answer. */
export interface DevicePrompt {
  /** What it asks about, for test names. */
  id: string;
  /** The command lines that may print it. */
  command: RegExp;
  /** The exact text, from the start of its first line to where the device waits (`\n` line ends: a PTY sends `\r\n`). */
  text: string;
}

/** One simulated device: a stateful CLI. */
export interface SimulatedDevice {
  readonly platform: Platform;
  /** The shell prompt, given how many commands this session has run. */
  prompt(commandCount: number): string;
  /** Runs one command line; resolves with its exit code. */
  run(line: string, user: string, io: CommandIo): Promise<number>;
  /** A plain copy of the device's state, for tests' assertions. */
  state(): Record<string, unknown>;
  /** Called when the device's faults are cleared, for faults that left state behind. */
  faultsCleared?(): void;
  /** The device's files, when it serves SFTP (the SSH subsystem is refused otherwise). */
  readonly files?: VirtualFs;
}
