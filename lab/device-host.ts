import type { ParsedKey } from 'ssh2';
import type { Timers } from './clock.js';
import type { DeviceEnv, LabTimings, PowerControl, SimulatedDevice } from './device.js';
import { FaultSet, type Fault } from './faults.js';
import { stableNumber } from './format.js';
import type { HostKey } from './host-key.js';
import type { CommandIo } from './shell.js';
import { SshEndpoint, type CommandRunner, type CommandSession, type SftpFiles } from './ssh-server.js';
import { VirtualFs } from './vfs.js';
import { homeOf } from './devices/linux.js';

/** One line of the lab's command log. */
export interface CommandLogEntry {
  /** When the command started (ISO 8601). */
  time: string;
  host: string;
  user: string;
  /** `sftp`: a file transfer; `command` then reads `sftp get PATH` or `sftp put PATH`. */
  mode: 'exec' | 'shell' | 'sftp';
  command: string;
  /** Exit code; null when the command never finished (hung, or abandoned before it ran). */
  code: number | null;
  /**
   * `completed`: the exit status was sent. `dropped`: the lab cut the connection (a
   * `dropConnection` fault) after the command ran. `abandoned`: the client went away or pressed ^C
   * first.
   */
  outcome: 'completed' | 'dropped' | 'abandoned';
  durationMs: number;
}

export interface DeviceHostOptions {
  name: string;
  address: string;
  port: number;
  hostKey: HostKey;
  ident: string;
  user: string;
  password: string;
  authorizedKeys: readonly ParsedKey[];
  timers: Timers;
  timings: LabTimings;
  log: (entry: CommandLogEntry) => void;
  /** The lab's event log: power and device events. */
  note: (entry: DeviceEvent) => void;
  createDevice: (env: DeviceEnv) => SimulatedDevice;
}

/** One line of the lab's event log: a device went down or came up, or changed state in a way tests follow. */
export interface DeviceEvent {
  time: string;
  host: string;
  event: string;
  detail?: string;
}

const DAY_MS = 86_400_000;

/** A simulated device with its SSH endpoint, power state, faults and command log. */
export class DeviceHost implements PowerControl, CommandRunner {
  readonly faults = new FaultSet();
  readonly endpoint: SshEndpoint;
  readonly device: SimulatedDevice;
  up = true;
  upSince: number;
  downSince: number | undefined;
  /** The last error reopening the listener (the port taken meanwhile, say). */
  listenError: string | undefined;
  private interruptions = 0;
  private powerEventPending = false;
  /** Set while a `neverReturns` fault keeps the device down after a reboot. */
  private heldDown: (() => void) | undefined;
  private stopped = false;
  private listenerChain: Promise<void> = Promise.resolve();

  constructor(private readonly options: DeviceHostOptions) {
    const { clock } = options.timers;
    // Devices have been up for weeks when the lab starts, so an upgrade visibly resets uptimes.
    this.upSince = clock.now() - (20 + (stableNumber(options.name) % 40)) * DAY_MS - (stableNumber(`${options.name}:s`) % DAY_MS);
    this.endpoint = new SshEndpoint({
      address: options.address,
      port: options.port,
      hostKey: options.hostKey.privateKey,
      ident: options.ident,
      auth: {
        user: options.user,
        password: options.password,
        authorizedKeys: options.authorizedKeys,
        rejectAll: () => this.faults.has('wrongPassword'),
      },
      runner: this,
    });
    this.device = options.createDevice({
      name: options.name,
      address: options.address,
      user: options.user,
      clock,
      timers: options.timers,
      timings: options.timings,
      power: this,
      faults: this.faults,
      note: (event, detail) => this.note(event, detail),
    });
  }

  get name(): string {
    return this.options.name;
  }

  private note(event: string, detail?: string): void {
    this.options.note({ time: new Date(this.options.timers.clock.now()).toISOString(), host: this.options.name, event, ...(detail === undefined ? {} : { detail }) });
  }

  /** Binds the port (so an ephemeral one is known even while the device is unreachable). */
  async start(faults: readonly Fault[]): Promise<void> {
    for (const fault of faults) this.faults.add(fault);
    await this.endpoint.listen();
    this.syncListener();
    await this.listenerChain;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.listenerChain;
    await this.endpoint.close();
  }

  /** Resolves once the listener matches the device's state (tests wait on it after a change). */
  settled(): Promise<void> {
    return this.listenerChain;
  }

  reboot(options: { downMs?: number; onUp?: () => void } = {}): void {
    if (!this.up || this.powerEventPending) return;
    this.powerEventPending = true;
    // Deferred so the command that asked for it sends its exit status first.
    this.options.timers.after(0, () => {
      this.powerEventPending = false;
      this.up = false;
      this.downSince = this.options.timers.clock.now();
      this.note('down');
      this.endpoint.dropConnections('graceful');
      this.syncListener();
      this.options.timers.after(options.downMs ?? this.options.timings.rebootDelayMs, () => this.comeUp(options.onUp));
    });
  }

  interrupt(downMs: number): void {
    this.options.timers.after(0, () => {
      this.interruptions++;
      this.endpoint.dropConnections('graceful');
      this.syncListener();
      this.options.timers.after(downMs, () => {
        this.interruptions--;
        this.syncListener();
      });
    });
  }

  injectFault(fault: Fault): void {
    this.faults.add(fault);
    if (fault.kind === 'unreachable') this.endpoint.dropConnections('abrupt');
    this.syncListener();
  }

  clearFaults(): void {
    this.faults.clear();
    this.device.faultsCleared?.();
    const heldDown = this.heldDown;
    this.heldDown = undefined;
    if (heldDown) this.comeUp(heldDown);
    this.syncListener();
  }

  /** Power and reachability, for `lab.state()`. */
  status(): Record<string, unknown> {
    return {
      up: this.up,
      listening: this.endpoint.listening,
      upSince: new Date(this.upSince).toISOString(),
      faults: this.faults.list(),
      ...(this.listenError ? { listenError: this.listenError } : {}),
    };
  }

  prompt(commandNumber: number): string {
    return this.device.prompt(commandNumber);
  }

  sftpFiles(): SftpFiles | undefined {
    const fs = this.device.files;
    if (fs === undefined) return undefined;
    return {
      read: (path) => fs.readBytes(path),
      write: (path, bytes) => fs.writeBytes(path, bytes),
      isDirectory: (path) => fs.stat(path)?.kind === 'dir',
      exists: (path) => fs.stat(path) !== undefined,
      resolve: (path, user) => VirtualFs.normalize(path, homeOf(user)),
    };
  }

  logTransfer(user: string, operation: 'get' | 'put', path: string, ok: boolean): void {
    const time = new Date(this.options.timers.clock.now()).toISOString();
    this.options.log({ time, host: this.options.name, user, mode: 'sftp', command: `sftp ${operation} ${path}`, code: ok ? 0 : 1, outcome: 'completed', durationMs: 0 });
  }

  async run(line: string, session: CommandSession): Promise<number | undefined> {
    const { clock } = this.options.timers;
    const started = clock.now();
    const record = (code: number | null, outcome: CommandLogEntry['outcome']): void =>
      this.options.log({
        time: new Date(started).toISOString(),
        host: this.options.name,
        user: session.user,
        mode: session.mode,
        command: line,
        code,
        outcome,
        durationMs: clock.now() - started,
      });
    const fault = this.faults.takeCommandFault(line);
    if (fault?.kind === 'hang') {
      await abortOf(session.signal);
      record(null, 'abandoned');
      return undefined;
    }
    if (fault?.kind === 'slow' && !(await this.options.timers.sleep(fault.delayMs, session.signal))) {
      record(null, 'abandoned');
      return undefined;
    }
    if (fault?.kind === 'dropConnection') {
      const held = holdOutput(session.io);
      const code = await this.runDevice(line, session.user, held.io);
      held.flushHalf();
      session.dropConnection();
      record(code, 'dropped');
      return undefined;
    }
    const code = await this.runDevice(line, session.user, { ...session.io, signal: session.signal });
    if (session.signal.aborted) {
      record(code, 'abandoned');
      return undefined;
    }
    record(code, 'completed');
    return code;
  }

  private async runDevice(line: string, user: string, io: CommandIo): Promise<number> {
    try {
      return await this.device.run(line, user, io);
    } catch (error) {
      // A simulator bug should read as a failed command, not take the lab down.
      io.err(`lab: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  }

  private comeUp(onUp: (() => void) | undefined): void {
    if (this.faults.has('neverReturns')) {
      this.heldDown = onUp ?? (() => {});
      return;
    }
    this.up = true;
    this.upSince = this.options.timers.clock.now();
    this.downSince = undefined;
    this.note('up');
    onUp?.();
    this.syncListener();
  }

  private get shouldListen(): boolean {
    return !this.stopped && this.up && this.interruptions === 0 && !this.faults.has('unreachable');
  }

  private syncListener(): void {
    this.listenerChain = this.listenerChain
      .then(async () => {
        if (this.shouldListen) await this.endpoint.listen();
        else await this.endpoint.stopListening();
        this.listenError = undefined;
      })
      .catch((error: unknown) => {
        this.listenError = error instanceof Error ? error.message : String(error);
      });
  }
}

function abortOf(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Holds a command's output back so only its first half reaches the client before the cut. */
function holdOutput(io: CommandIo): { io: CommandIo; flushHalf(): void } {
  let held = '';
  return {
    io: {
      ...io,
      out: (text) => (held += text),
      ask: (prompt) => {
        io.out(held);
        held = '';
        return io.ask(prompt);
      },
    },
    flushHalf: () => io.out(held.slice(0, Math.ceil(held.length / 2))),
  };
}
