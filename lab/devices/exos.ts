import { splitWords } from '../command-line.js';
import type { DeviceEnv, SimulatedDevice } from '../device.js';
import { formatCTime, stableNumber } from '../format.js';
import { confirm, EXIT_NOT_FOUND, type CommandIo } from '../shell.js';

export interface ExosOptions {
  /** Version in the primary partition of both supervisors, booted at start. */
  version: string;
  /** Version in the secondary partition of both supervisors at start. */
  secondaryVersion: string;
  /** Image files the TFTP server offers to `download image` (`<anything>-<version>.xos`). */
  images: readonly string[];
}

export const MSM_SLOTS = ['A', 'B'] as const;
export type MsmSlot = (typeof MSM_SLOTS)[number];
export type Partition = 'primary' | 'secondary';
/** `booting` shows as INIT, `syncing` as BACKUP (Not In Sync), `running` as MASTER or BACKUP (In Sync). */
type MsmPhase = 'booting' | 'syncing' | 'running';

interface Msm {
  slot: MsmSlot;
  partitions: Record<Partition, string>;
  selected: Partition;
  booted: Partition;
  phase: MsmPhase;
}

const IMAGE_VERSION = /(\d+\.\d+\.\d+\.\d+)\.xos$/;
const REBOOT_PROMPT = 'Are you sure you want to reboot? (y/n) ';
const FAILOVER_PROMPT = 'Are you sure you want to failover? (y/n) ';
const COL = 27;
const LABEL = 18;

const other = (slot: MsmSlot): MsmSlot => (slot === 'A' ? 'B' : 'A');
const inactive = (partition: Partition): Partition => (partition === 'primary' ? 'secondary' : 'primary');
const row = (label: string, a: string, b: string): string => `${label.padEnd(LABEL)}${a.padEnd(COL)}${b}`.trimEnd();

/**
 * An ExtremeXOS chassis with two management supervisors (MSMs) behind one management address:
 * images per partition, a backup that boots and then syncs, failover, and (y/n) confirmations.
 */
export class ExosChassis implements SimulatedDevice {
  readonly platform = 'exos';
  private master: MsmSlot = 'A';
  private readonly msms: Record<MsmSlot, Msm>;
  private bootCount = 12;
  /** Steps held back by a fault (`neverReturns`, `neverSyncs`), resumed when faults are cleared. */
  private readonly held = new Map<MsmSlot, () => void>();

  constructor(
    private readonly env: DeviceEnv,
    private readonly options: ExosOptions,
  ) {
    const msm = (slot: MsmSlot): Msm => ({
      slot,
      partitions: { primary: options.version, secondary: options.secondaryVersion },
      selected: 'primary',
      booted: 'primary',
      phase: 'running',
    });
    this.msms = { A: msm('A'), B: msm('B') };
  }

  prompt(commandNumber: number): string {
    return `${this.env.name}.${commandNumber} # `;
  }

  async run(line: string, _user: string, io: CommandIo): Promise<number> {
    const words = splitWords(line);
    const phrase = words.map((word) => word.toLowerCase());
    const [first, second] = phrase;
    if (first === undefined) return 0;
    if (['exit', 'logout', 'quit'].includes(first)) {
      io.close();
      return 0;
    }
    if (first === 'show' && second === 'switch') return this.showSwitch(io);
    if (first === 'show' && second === 'version') return this.showVersion(io);
    if ((first === 'disable' || first === 'enable') && second === 'clipaging') return 0;
    if (first === 'download' && second === 'image') return this.downloadImage(words.slice(2), io);
    if (first === 'use' && second === 'image') return this.useImage(phrase.slice(2), io);
    if (first === 'reboot') return this.reboot(phrase.slice(1), io);
    if (first === 'run' && second === 'msm-failover') return this.runFailover(io);
    io.err(`${words[0]}: command not found\n`);
    return EXIT_NOT_FOUND;
  }

  state(): Record<string, unknown> {
    const backup = this.msms[other(this.master)];
    return {
      master: `MSM-${this.master}`,
      backup: `MSM-${backup.slot}`,
      backupState: this.currentState(backup.slot),
      inSync: backup.phase === 'running',
      bootCount: this.bootCount,
      msms: structuredClone(this.msms),
    };
  }

  faultsCleared(): void {
    const held = [...this.held.values()];
    this.held.clear();
    for (const resume of held) resume();
  }

  private runningVersion(msm: Msm): string {
    return msm.partitions[msm.booted];
  }

  private currentState(slot: MsmSlot): string {
    const msm = this.msms[slot];
    if (msm.phase === 'booting') return 'INIT';
    if (slot === this.master) return 'MASTER';
    return msm.phase === 'running' ? 'BACKUP (In Sync)' : 'BACKUP (Not In Sync)';
  }

  private showSwitch(io: CommandIo): number {
    const now = this.env.clock.now();
    const boot = this.env.power.upSince;
    const uptime = Math.floor((now - boot) / 1000);
    const a = this.msms.A;
    const b = this.msms.B;
    const backup = other(this.master);
    const version = this.runningVersion(this.msms[this.master]);
    const lines = [
      `SysName:          ${this.env.name}`,
      'SysLocation:      lab',
      'SysContact:       support@extremenetworks.com, +1 888 257 3000',
      `System MAC:       ${this.systemMac()}`,
      'System Type:      BD-X8',
      '',
      'SysHealth check:  Enabled (Normal)',
      'Recovery Mode:    All',
      'System Watchdog:  Enabled',
      '',
      `Current Time:     ${formatCTime(now)}`,
      'Timezone:         [Auto DST Disabled] GMT Offset: 0 minutes, name is UTC.',
      `Boot Time:        ${formatCTime(boot)}`,
      `Boot Count:       ${this.bootCount}`,
      'Next Reboot:      None scheduled',
      `System UpTime:    ${formatExosUptime(uptime)}`,
      '',
      `Primary MSM:      MSM-${this.master}`,
      `Backup MSM:       MSM-${backup}`,
      '',
      row('Slot:', `MSM-A${this.master === 'A' ? ' *' : ''}`, `MSM-B${this.master === 'B' ? ' *' : ''}`),
      row('', '------------------------', '------------------------'),
      row('Current State:', this.currentState('A'), this.currentState('B')),
      '',
      row('Image Selected:', a.selected, b.selected),
      row('Image Booted:', a.booted, b.booted),
      row('Primary ver:', a.partitions.primary, b.partitions.primary),
      row('Secondary ver:', a.partitions.secondary, b.partitions.secondary),
      '',
      row('Config Selected:', 'primary.cfg', 'primary.cfg'),
      row('Config Booted:', 'primary.cfg', 'primary.cfg'),
      '',
      row('primary.cfg', `Created by ExtremeXOS version ${version}`, ''),
      row('', `${120_000 + (stableNumber(this.env.name) % 10_000)} bytes saved on ${formatCTime(boot - 3_600_000)}`, ''),
    ];
    io.out(`${lines.join('\n')}\n`);
    return 0;
  }

  private showVersion(io: CommandIo): number {
    const serial = (index: number): string => `1735G-${String((stableNumber(this.env.name) + index) % 100_000).padStart(5, '0')}`;
    const image = (msm: Msm): string => (msm.phase === 'booting' ? '--' : this.runningVersion(msm));
    const master = this.msms[this.master];
    io.out(
      [
        `Switch      : 800745-00-01 ${serial(0)} Rev 1.0 BootROM: 2.0.1.7    IMG: ${image(master)}`,
        `MSM-A       : 41811-00-10 ${serial(1)} Rev 1.0 BootROM: 2.0.1.7    IMG: ${image(this.msms.A)}`,
        `MSM-B       : 41811-00-10 ${serial(2)} Rev 1.0 BootROM: 2.0.1.7    IMG: ${image(this.msms.B)}`,
        '',
        `Image   : ExtremeXOS version ${image(master)} by release-manager`,
        'BootROM : 2.0.1.7',
        '',
      ].join('\n'),
    );
    return 0;
  }

  private systemMac(): string {
    const value = stableNumber(this.env.name);
    return `00:04:96:${[16, 8, 0].map((shift) => ((value >>> shift) & 0xff).toString(16).padStart(2, '0').toUpperCase()).join(':')}`;
  }

  /** `download image HOST FILE [vr VR] [primary|secondary|inactive] [msm A|B]`. */
  private downloadImage(args: string[], io: CommandIo): number {
    const [host, file, ...rest] = args;
    if (host === undefined || file === undefined) {
      io.err('Error: download image HOST FILE [vr VR] [primary|secondary|inactive] [msm A|B]\n');
      return 1;
    }
    const options = this.parseTargets(rest.map((word) => word.toLowerCase()), ['vr']);
    if ('error' in options) {
      io.err(`Error: ${options.error}\n`);
      return 1;
    }
    const version = IMAGE_VERSION.exec(file)?.[1];
    if (!this.options.images.includes(file) || version === undefined) {
      io.err(`Error: failed to download ${file} from ${host}: tftp: file not found\n`);
      return 1;
    }
    const targets = options.slots.map((slot) => this.msms[slot]);
    for (const msm of targets) {
      if (msm.phase === 'booting') {
        io.err(`Error: MSM-${msm.slot} is not operational\n`);
        return 1;
      }
      const partition = options.partition === 'inactive' ? inactive(msm.booted) : options.partition;
      if (partition === msm.booted) {
        io.err(`Error: cannot install to the active partition (${partition}) of MSM-${msm.slot}\n`);
        return 1;
      }
    }
    const failure = this.env.faults.take('installFails');
    for (const msm of targets) {
      const partition = options.partition === 'inactive' ? inactive(msm.booted) : options.partition;
      io.out(`Downloading to MSM-${msm.slot}${'.'.repeat(40)}\n`);
      if (failure) {
        io.err(`Error: ${failure.message ?? `image integrity check failed for ${file}`}\n`);
        return 1;
      }
      io.out(`Installing to ${partition} partition!\n\nInstalling to MSM-${msm.slot}${'.'.repeat(50)}\nImage installed successfully\n`);
      msm.partitions[partition] = version;
    }
    io.out('This image will be used only after rebooting the switch!\n');
    return 0;
  }

  /** `use image [partition] primary|secondary [msm A|B]`. */
  private useImage(args: string[], io: CommandIo): number {
    const words = args[0] === 'partition' ? args.slice(1) : args;
    const options = this.parseTargets(words, []);
    if ('error' in options || options.partition === 'inactive' || !words.some((word) => word === 'primary' || word === 'secondary')) {
      io.err('Error: use image [partition] primary|secondary [msm A|B]\n');
      return 1;
    }
    for (const slot of options.slots) this.msms[slot].selected = options.partition;
    return 0;
  }

  private parseTargets(
    words: string[],
    skipWithValue: string[],
  ): { error: string } | { slots: MsmSlot[]; partition: Partition | 'inactive' } {
    let partition: Partition | 'inactive' = 'inactive';
    let slots: MsmSlot[] = [...MSM_SLOTS];
    for (let index = 0; index < words.length; index++) {
      const word = words[index] as string;
      if (skipWithValue.includes(word)) index++;
      else if (word === 'primary' || word === 'secondary' || word === 'inactive') partition = word;
      else if (word === 'msm') {
        const slot = (words[++index] ?? '').toUpperCase();
        if (slot !== 'A' && slot !== 'B') return { error: `invalid MSM slot "${slot}"` };
        slots = [slot];
      } else return { error: `unexpected "${word}"` };
    }
    return { slots, partition };
  }

  private async reboot(args: string[], io: CommandIo): Promise<number> {
    let slot: MsmSlot | undefined;
    if (args.length > 0) {
      const target = (args[1] ?? '').toUpperCase();
      if (args[0] !== 'msm' || (target !== 'A' && target !== 'B') || args.length > 2) {
        io.err('Error: reboot [msm A|B]\n');
        return 1;
      }
      slot = target;
    }
    if (!(await confirm(io, REBOOT_PROMPT))) return 1;
    if (slot === undefined) this.rebootChassis();
    else if (slot !== this.master) this.bootMsm(slot);
    else if (this.msms[other(slot)].phase === 'running') this.failover();
    else this.rebootChassis();
    return 0;
  }

  private async runFailover(io: CommandIo): Promise<number> {
    const backup = this.msms[other(this.master)];
    if (backup.phase !== 'running') {
      io.err(`ERROR: Backup MSM-${backup.slot} is not ready (${this.currentState(backup.slot)}); failover is not possible\n`);
      return 1;
    }
    const ours = this.runningVersion(this.msms[this.master]);
    const theirs = this.runningVersion(backup);
    if (ours !== theirs) {
      io.out(
        `WARNING: The backup MSM is running a different software version (MSM-${backup.slot}: ${theirs}, MSM-${this.master}: ${ours}); I/O modules may be reset and traffic interrupted.\n`,
      );
    }
    if (!(await confirm(io, FAILOVER_PROMPT))) return 1;
    this.failover();
    return 0;
  }

  /** The backup takes over; the old master reboots and becomes the backup. */
  private failover(): void {
    const old = this.master;
    this.master = other(old);
    this.bootMsm(old);
    this.env.power.interrupt(this.env.timings.failoverDelayMs);
  }

  private rebootChassis(): void {
    this.env.power.reboot({
      onUp: () => {
        this.bootCount++;
        for (const msm of Object.values(this.msms)) msm.booted = msm.selected;
        this.msms[this.master].phase = 'running';
        this.startSync(other(this.master));
      },
    });
  }

  private bootMsm(slot: MsmSlot): void {
    const msm = this.msms[slot];
    msm.phase = 'booting';
    this.env.timers.after(this.env.timings.rebootDelayMs, () => {
      const finishBoot = (): void => {
        msm.booted = msm.selected;
        this.startSync(slot);
      };
      if (this.env.faults.has('neverReturns')) this.held.set(slot, finishBoot);
      else finishBoot();
    });
  }

  private startSync(slot: MsmSlot): void {
    const msm = this.msms[slot];
    msm.phase = 'syncing';
    this.env.timers.after(this.env.timings.syncDelayMs, () => {
      const finishSync = (): void => {
        if (msm.phase === 'syncing') msm.phase = 'running';
      };
      if (this.env.faults.has('neverSyncs')) this.held.set(slot, finishSync);
      else finishSync();
    });
  }
}

/** `42 days 18 hours 46 minutes 34 seconds`. */
function formatExosUptime(seconds: number): string {
  const parts: Array<[number, string]> = [
    [Math.floor(seconds / 86400), 'day'],
    [Math.floor((seconds % 86400) / 3600), 'hour'],
    [Math.floor((seconds % 3600) / 60), 'minute'],
    [seconds % 60, 'second'],
  ];
  const shown = parts.filter(([value], index) => value > 0 || index === parts.length - 1);
  return shown.map(([value, unit]) => `${value} ${unit}${value === 1 ? '' : 's'}`).join(' ');
}
