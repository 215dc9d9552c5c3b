import { splitWords } from '../command-line.js';
import type { DeviceEnv, DevicePrompt, SimulatedDevice } from '../device.js';
import { formatCTime, stableNumber } from '../format.js';
import { confirm, EXIT_NOT_FOUND, type CommandIo } from '../shell.js';

// A BlackDiamond-style chassis with two MSMs, written from the ExtremeXOS hitless upgrade procedure
// (shared/seeds/003_7bb3eb06bb0e8130.txt, "Detailed Steps"). Where the document says what the switch
// prints, the words are its own; where it only says what the switch does, the lab does that.

export interface ExosOptions {
  /** Core release in the primary partition of both MSMs, selected and booted at start. */
  version: string;
  /** Core release in the secondary partition of both MSMs at start. */
  secondaryVersion: string;
  /** Files the TFTP server offers: core images `<name>-<version>.xos`, modular packages `<name>-<version>-<package>.xmod`. */
  images: readonly string[];
  /** The I/O module image a core release carries, by release; by default its first two numbers (31.7.2.3 carries 31.7). */
  ioModuleImages: Readonly<Record<string, string>>;
  /** Core releases that do not support hitless upgrade. */
  withoutHitless: readonly string[];
}

export const MSM_SLOTS = ['A', 'B'] as const;
export type MsmSlot = (typeof MSM_SLOTS)[number];
export type Partition = 'primary' | 'secondary';
/** `booting` shows as INIT, `syncing` as BACKUP (Not In Sync), `running` as MASTER or BACKUP (In Sync). */
type MsmPhase = 'booting' | 'syncing' | 'running';

interface PartitionImage {
  /** The core release installed in the partition. */
  version: string;
  /** Modular packages installed on top of it, by package name. */
  packages: string[];
}

interface Msm {
  slot: MsmSlot;
  partitions: Record<Partition, PartitionImage>;
  selected: Partition;
  booted: Partition;
  phase: MsmPhase;
  /** Files downloaded to this MSM and not installed yet (`install image` installs them). */
  downloaded: Set<string>;
}

type ChassisHappening =
  | { kind: 'downloaded'; msm: MsmSlot; file: string }
  | { kind: 'installed'; msm: MsmSlot; partition: Partition; file: string }
  | { kind: 'msm-reboot'; msm: MsmSlot }
  | { kind: 'failover'; from: MsmSlot; to: MsmSlot; hitless: boolean }
  | { kind: 'io-modules-reset'; from: string; to: string }
  | { kind: 'chassis-reboot' };
/** What the chassis did, in order (`at`: ISO time), for tests to check what happened to the hardware. */
export type ChassisEvent = ChassisHappening & { at: string };

interface ImageFile {
  version: string;
  /** The modular package's name; undefined for a core image. */
  package?: string;
}

const IMAGE_FILE = /-(\d+\.\d+\.\d+\.\d+)(?:-([A-Za-z0-9_]+))?\.(xos|xmod)$/;

/** The question `reboot` asks (the document does not give its words). */
export const REBOOT_PROMPT = 'Are you sure you want to reboot? (y/n) ';
/** The question `run msm-failover` asks; the I/O module warning ends with it too (003, "Detailed Steps"). */
export const FAILOVER_PROMPT = 'Are you sure you want to failover? (y/n) ';
/** 003, "Detailed Steps": shown before the failover question when the new image supports hitless upgrade but not the I/O modules' image. */
export const IO_MODULE_WARNING =
  'WARNING: The other MSM operates with a different version of I/O module image.\nIf you continue with the MSM failover, all I/O modules will be reset.\n';
/** 003, "Detailed Steps": before a download begins the switch asks whether to install right after it (these are ExtremeXOS's words). */
export const INSTALL_QUESTION = 'Do you want to install image after downloading? (y - yes, n - no, <cr> - cancel) ';
/** 003, "Detailed Steps": the refusal when the service contract has expired (inject the fault `serviceContractExpired`). */
export const SERVICE_CONTRACT_EXPIRED = 'Service contract expired, please renew it to be able to download the new software image.';

/** Every question the chassis asks, and the commands that ask it. */
export const EXOS_PROMPTS: readonly DevicePrompt[] = [
  { id: 'reboot', command: /^reboot\b/i, text: REBOOT_PROMPT },
  { id: 'failover', command: /^run\s+msm-failover\b/i, text: FAILOVER_PROMPT },
  { id: 'I/O module warning', command: /^run\s+msm-failover\b/i, text: `${IO_MODULE_WARNING}${FAILOVER_PROMPT}` },
  { id: 'install after download', command: /^download\s+image\b/i, text: INSTALL_QUESTION },
];

const DOWNLOAD_USAGE = 'Error: usage: download image active|inactive HOST FILE [[vr] VR] [block-size N] [primary|secondary] [msm A|B]\n';
const INSTALL_USAGE = 'Error: usage: install image FILE [primary|secondary] [msm A|B]\n';
const NOT_ACTIVE = 'Error: Image can only be installed to the non-active partition.\n';
const COL = 27;
const LABEL = 18;

const other = (slot: MsmSlot): MsmSlot => (slot === 'A' ? 'B' : 'A');
const inactive = (partition: Partition): Partition => (partition === 'primary' ? 'secondary' : 'primary');
const row = (label: string, a: string, b: string): string => `${label.padEnd(LABEL)}${a.padEnd(COL)}${b}`.trimEnd();
const isPartition = (word: string | undefined): word is Partition => word === 'primary' || word === 'secondary';

function parseImageFile(file: string): ImageFile | undefined {
  const match = IMAGE_FILE.exec(file);
  if (match === null) return undefined;
  const [, version, name, extension] = match as unknown as [string, string, string | undefined, string];
  // A core image has no package name, a package always has one.
  if ((extension === 'xmod') !== (name !== undefined)) return undefined;
  return { version, ...(name === undefined ? {} : { package: name }) };
}

/** Where one `download image` or `install image` puts its file. */
interface InstallTarget {
  msm: Msm;
  partition: Partition;
}

/**
 * An ExtremeXOS chassis with two MSMs behind one management address: images and modular packages per
 * partition, a backup that boots and then syncs, failover, I/O modules running the image their
 * master's release carries, and (y/n) questions.
 */
export class ExosChassis implements SimulatedDevice {
  readonly platform = 'exos';
  private master: MsmSlot = 'A';
  private readonly msms: Record<MsmSlot, Msm>;
  private readonly ioModules: { image: string; phase: 'running' | 'booting' };
  private readonly events: ChassisEvent[] = [];
  private bootCount = 12;
  /** Steps held back by a fault (`neverReturns`, `neverSyncs`), resumed when faults are cleared. */
  private readonly held = new Map<MsmSlot, () => void>();

  constructor(
    private readonly env: DeviceEnv,
    private readonly options: ExosOptions,
  ) {
    const msm = (slot: MsmSlot): Msm => ({
      slot,
      partitions: { primary: { version: options.version, packages: [] }, secondary: { version: options.secondaryVersion, packages: [] } },
      selected: 'primary',
      booted: 'primary',
      phase: 'running',
      downloaded: new Set(),
    });
    this.msms = { A: msm('A'), B: msm('B') };
    this.ioModules = { image: this.ioImageOf(options.version), phase: 'running' };
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
    if (first === 'download') return second === 'image' ? this.downloadImage(words.slice(2), io) : usage(io, DOWNLOAD_USAGE);
    if (first === 'install' && second === 'image') return this.installImage(words.slice(2), io);
    if (first === 'use' && second === 'image') return this.useImage(phrase.slice(2), io);
    if (first === 'reboot') return this.reboot(phrase.slice(1), io);
    if (first === 'run' && second === 'msm-failover') return this.runFailover(phrase.slice(2), io);
    io.err(`${words[0]}: command not found\n`);
    return EXIT_NOT_FOUND;
  }

  state(): Record<string, unknown> {
    const backup = this.msms[other(this.master)];
    const msm = (m: Msm) => ({
      slot: m.slot,
      partitions: { primary: m.partitions.primary.version, secondary: m.partitions.secondary.version },
      packages: { primary: [...m.partitions.primary.packages], secondary: [...m.partitions.secondary.packages] },
      selected: m.selected,
      booted: m.booted,
      phase: m.phase,
      downloaded: [...m.downloaded],
    });
    return {
      master: `MSM-${this.master}`,
      backup: `MSM-${backup.slot}`,
      backupState: this.currentState(backup.slot),
      inSync: backup.phase === 'running',
      bootCount: this.bootCount,
      msms: { A: msm(this.msms.A), B: msm(this.msms.B) },
      running: { A: this.runningVersion(this.msms.A), B: this.runningVersion(this.msms.B) },
      ioModules: { ...this.ioModules },
      events: structuredClone(this.events),
    };
  }

  faultsCleared(): void {
    const held = [...this.held.values()];
    this.held.clear();
    for (const resume of held) resume();
  }

  private record(event: ChassisHappening): void {
    this.events.push({ ...event, at: new Date(this.env.clock.now()).toISOString() });
  }

  private ioImageOf(version: string): string {
    return this.options.ioModuleImages[version] ?? version.split('.').slice(0, 2).join('.');
  }

  /** What an MSM runs: the release of the partition it booted; `--` while it boots. */
  private runningVersion(msm: Msm): string {
    return msm.phase === 'booting' ? '--' : msm.partitions[msm.booted].version;
  }

  private currentState(slot: MsmSlot): string {
    const msm = this.msms[slot];
    if (msm.phase === 'booting') return 'INIT';
    if (slot === this.master) return 'MASTER';
    return msm.phase === 'running' ? 'BACKUP (In Sync)' : 'BACKUP (Not In Sync)';
  }

  /** 003, "Detailed Steps": for each MSM the selected and booted partitions, their images, and MASTER / BACKUP / In Sync. */
  private showSwitch(io: CommandIo): number {
    const now = this.env.clock.now();
    const boot = this.env.power.upSince;
    const uptime = Math.floor((now - boot) / 1000);
    const a = this.msms.A;
    const b = this.msms.B;
    const version = this.msms[this.master].partitions[this.msms[this.master].booted].version;
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
      // The session runs on the master: `*` marks it.
      row('Slot:', `MSM-A${this.master === 'A' ? ' *' : ''}`, `MSM-B${this.master === 'B' ? ' *' : ''}`),
      row('', '------------------------', '------------------------'),
      row('Current State:', this.currentState('A'), this.currentState('B')),
      '',
      row('Image Selected:', a.selected, b.selected),
      row('Image Booted:', a.booted, b.booted),
      row('Primary ver:', a.partitions.primary.version, b.partitions.primary.version),
      row('Secondary ver:', a.partitions.secondary.version, b.partitions.secondary.version),
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
    const master = this.runningVersion(this.msms[this.master]);
    io.out(
      [
        `Switch      : 800745-00-01 ${serial(0)} Rev 1.0 BootROM: 2.0.1.7    IMG: ${master}`,
        `MSM-A       : 41811-00-10 ${serial(1)} Rev 1.0 BootROM: 2.0.1.7    IMG: ${this.runningVersion(this.msms.A)}`,
        `MSM-B       : 41811-00-10 ${serial(2)} Rev 1.0 BootROM: 2.0.1.7    IMG: ${this.runningVersion(this.msms.B)}`,
        '',
        `Image   : ExtremeXOS version ${master} by release-manager`,
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

  /**
   * 003, "Detailed Steps": `download image [active|inactive] [HOST FILE {{vr} VR} {block-size N} |
   * memorycard FILE] {partition} {msm A|B}`. The service contract is checked first, then the switch asks
   * whether to install right after the download; answered no, the file waits for `install image`.
   */
  private async downloadImage(args: string[], io: CommandIo): Promise<number> {
    const request = parseDownload(args);
    if (request === undefined) return usage(io, DOWNLOAD_USAGE);
    if (request.memorycard) {
      io.err('Error: no memory card is inserted\n');
      return 1;
    }
    const image = parseImageFile(request.file);
    if (image === undefined) {
      io.err(`Error: ${request.file} is neither an ExtremeXOS image (.xos) nor a modular package (.xmod)\n`);
      return 1;
    }
    const targets = this.resolveTargets(request.slots, request.active ? 'active' : 'inactive', request.partition, image, io);
    if (targets === undefined) return 1;
    if (this.env.faults.has('serviceContractExpired')) {
      io.err(`${SERVICE_CONTRACT_EXPIRED}\n`);
      return 1;
    }
    const answer = (await io.ask(INSTALL_QUESTION))?.trim().toLowerCase();
    const install = answer === 'y' || answer === 'yes';
    if (!install && answer !== 'n' && answer !== 'no') {
      io.out('Download cancelled.\n');
      return 1;
    }
    if (!this.options.images.includes(request.file)) {
      io.err(`Error: failed to download ${request.file} from ${request.host}: tftp: file not found\n`);
      return 1;
    }
    for (const { msm } of targets) {
      io.out(`Downloading to MSM-${msm.slot}${'.'.repeat(40)}\n`);
      msm.downloaded.add(request.file);
      this.record({ kind: 'downloaded', msm: msm.slot, file: request.file });
    }
    if (!install) {
      io.out(`Download complete; install it with: install image ${request.file}\n`);
      return 0;
    }
    return this.install(request.file, image, targets, io);
  }

  /** 003, "Detailed Steps": a file downloaded without installing it is installed later with `install image`. */
  private installImage(args: string[], io: CommandIo): number {
    const [file, ...rest] = args;
    const options = file === undefined ? undefined : parseTargets(rest.map((word) => word.toLowerCase()));
    if (file === undefined || options === undefined) return usage(io, INSTALL_USAGE);
    const image = parseImageFile(file);
    const missing = options.slots.find((slot) => !this.msms[slot].downloaded.has(file));
    if (image === undefined || missing !== undefined) {
      io.err(`Error: ${file} has not been downloaded to MSM-${missing ?? options.slots[0]}; download it first\n`);
      return 1;
    }
    const targets = this.resolveTargets(options.slots, 'inactive', options.partition, image, io);
    return targets === undefined ? 1 : this.install(file, image, targets, io);
  }

  /** The partition of each MSM a file goes to, or undefined after saying why it cannot. */
  private resolveTargets(
    slots: readonly MsmSlot[],
    where: 'active' | 'inactive',
    partition: Partition | undefined,
    image: ImageFile,
    io: CommandIo,
  ): InstallTarget[] | undefined {
    const targets: InstallTarget[] = [];
    for (const slot of slots) {
      const msm = this.msms[slot];
      if (msm.phase === 'booting') {
        io.err(`Error: MSM-${slot} is not operational\n`);
        return undefined;
      }
      const chosen = partition ?? (where === 'active' ? msm.booted : inactive(msm.booted));
      // Release notes of ExtremeXOS: a core image never goes to the partition the MSM runs; a package may.
      if (image.package === undefined && chosen === msm.booted) {
        io.err(NOT_ACTIVE);
        return undefined;
      }
      targets.push({ msm, partition: chosen });
    }
    return targets;
  }

  /**
   * Installs a core image (the MSM then selects that partition for its next boot) or a modular
   * package, whose release must be the one of the core image in that partition (003, its last part).
   */
  private install(file: string, image: ImageFile, targets: readonly InstallTarget[], io: CommandIo): number {
    for (const { msm, partition } of targets) {
      const core = msm.partitions[partition].version;
      if (image.package !== undefined && core !== image.version) {
        io.err(
          `Error: ${file} is for ExtremeXOS ${image.version}, but the ${partition} partition of MSM-${msm.slot} holds ${core}; a modular package must match its core image\n`,
        );
        return 1;
      }
    }
    const failure = this.env.faults.take('installFails');
    if (failure) {
      io.err(`Error: ${failure.message ?? `image integrity check failed for ${file}`}\n`);
      return 1;
    }
    for (const { msm, partition } of targets) {
      io.out(`Installing to ${partition} partition!\n\nInstalling to MSM-${msm.slot}${'.'.repeat(50)}\nImage installed successfully\n`);
      msm.downloaded.delete(file);
      if (image.package === undefined) {
        msm.partitions[partition] = { version: image.version, packages: [] };
        msm.selected = partition;
      } else {
        const packages = msm.partitions[partition].packages.filter((name) => name !== image.package);
        msm.partitions[partition].packages = [...packages, image.package];
      }
      this.record({ kind: 'installed', msm: msm.slot, partition, file });
    }
    if (image.package === undefined) io.out('This image will be used only after rebooting the switch!\n');
    return 0;
  }

  /** `use image [partition] primary|secondary [msm A|B]`: the partition each MSM boots next. */
  private useImage(args: string[], io: CommandIo): number {
    const words = args[0] === 'partition' ? args.slice(1) : args;
    const options = parseTargets(words);
    if (options?.partition === undefined) {
      io.err('Error: use image [partition] primary|secondary [msm A|B]\n');
      return 1;
    }
    for (const slot of options.slots) this.msms[slot].selected = options.partition;
    return 0;
  }

  /** 003, "Detailed Steps": `reboot msm A|B` reboots one MSM only, so the chassis keeps forwarding. */
  private async reboot(args: string[], io: CommandIo): Promise<number> {
    let slot: MsmSlot | undefined;
    if (args.length > 0) {
      const target = (args[1] ?? '').toUpperCase();
      if (args[0] !== 'msm' || (target !== 'A' && target !== 'B') || args.length > 2) return usage(io, 'Error: reboot [msm A|B]\n');
      slot = target;
    }
    if (!(await confirm(io, REBOOT_PROMPT))) return 1;
    if (slot === undefined) this.rebootChassis();
    else if (slot !== this.master) this.bootMsm(slot);
    else if (this.msms[other(slot)].phase === 'running') this.failover();
    else this.rebootChassis();
    return 0;
  }

  /**
   * 003, "Detailed Steps": `run msm-failover {force}`. The backup must be In Sync (`force` lets a backup
   * that has booted but not synced take over). The I/O module warning comes first exactly when the
   * new master's image supports hitless upgrade and carries another I/O module image than the one
   * the I/O modules run.
   */
  private async runFailover(args: string[], io: CommandIo): Promise<number> {
    const force = args[0] === 'force';
    if (args.length > (force ? 1 : 0)) return usage(io, 'Error: run msm-failover {force}\n');
    const backup = this.msms[other(this.master)];
    if (backup.phase === 'booting' || (backup.phase === 'syncing' && !force)) {
      io.err(`ERROR: Backup MSM-${backup.slot} is not ready (${this.currentState(backup.slot)}); failover is not possible\n`);
      return 1;
    }
    const next = this.runningVersion(backup);
    if (!this.options.withoutHitless.includes(next) && this.ioImageOf(next) !== this.ioModules.image) io.out(IO_MODULE_WARNING);
    if (!(await confirm(io, FAILOVER_PROMPT))) return 1;
    this.failover();
    return 0;
  }

  /**
   * The backup takes over and runs its active partition; the old master reboots and becomes the backup.
   * I/O modules running another image than the new master's release carries get it pushed and reboot
   * (003, "Detailed Steps"), as they do when the new master had not synced.
   */
  private failover(): void {
    const old = this.master;
    const next = this.msms[other(old)];
    const needed = this.ioImageOf(this.runningVersion(next));
    const hitless = next.phase === 'running' && needed === this.ioModules.image;
    this.master = next.slot;
    this.record({ kind: 'failover', from: old, to: next.slot, hitless });
    if (!hitless) this.resetIoModules(needed);
    next.phase = 'running';
    this.bootMsm(old);
    this.env.power.interrupt(this.env.timings.failoverDelayMs);
  }

  private resetIoModules(image: string): void {
    this.record({ kind: 'io-modules-reset', from: this.ioModules.image, to: image });
    this.ioModules.image = image;
    this.ioModules.phase = 'booting';
    this.env.timers.after(this.env.timings.rebootDelayMs, () => {
      this.ioModules.phase = 'running';
    });
  }

  private rebootChassis(): void {
    this.record({ kind: 'chassis-reboot' });
    this.env.power.reboot({
      onUp: () => {
        this.bootCount++;
        for (const msm of Object.values(this.msms)) msm.booted = msm.selected;
        const master = this.msms[this.master];
        master.phase = 'running';
        this.resetIoModules(this.ioImageOf(this.runningVersion(master)));
        this.startSync(other(this.master));
      },
    });
  }

  private bootMsm(slot: MsmSlot): void {
    const msm = this.msms[slot];
    this.record({ kind: 'msm-reboot', msm: slot });
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

function usage(io: CommandIo, text: string): number {
  io.err(text);
  return 1;
}

interface DownloadRequest {
  active: boolean;
  memorycard: boolean;
  host: string;
  file: string;
  partition: Partition | undefined;
  slots: MsmSlot[];
}

/** The document's grammar; keywords in any case, the file and VR as given. Undefined when it does not parse. */
function parseDownload(args: readonly string[]): DownloadRequest | undefined {
  const [where, ...rest] = args;
  if (where?.toLowerCase() !== 'active' && where?.toLowerCase() !== 'inactive') return undefined;
  const memorycard = rest[0]?.toLowerCase() === 'memorycard';
  const [host, file] = memorycard ? ['memorycard', rest[1]] : [rest[0], rest[1]];
  if (host === undefined || file === undefined) return undefined;
  const words = rest.slice(2);
  const lower = (index: number) => words[index]?.toLowerCase();
  let index = 0;
  // `{{vr} vrname}` right after the file: the keyword itself is optional.
  if (!memorycard && lower(0) === 'vr') index = words[1] === undefined ? words.length + 1 : 2;
  else if (!memorycard && words[0] !== undefined && !['primary', 'secondary', 'msm', 'block-size'].includes(lower(0)!)) index = 1;
  if (lower(index) === 'block-size') index = /^\d+$/.test(words[index + 1] ?? '') ? index + 2 : words.length + 1;
  if (index > words.length) return undefined;
  const options = words.slice(index).map((word) => word.toLowerCase());
  const targets = parseTargets(options);
  if (targets === undefined) return undefined;
  return { active: where.toLowerCase() === 'active', memorycard, host, file, ...targets };
}

/** `{primary|secondary} {msm A|B}` in any order; without `msm`, both MSMs. */
function parseTargets(words: readonly string[]): { slots: MsmSlot[]; partition: Partition | undefined } | undefined {
  let partition: Partition | undefined;
  let slots: MsmSlot[] = [...MSM_SLOTS];
  for (let index = 0; index < words.length; index++) {
    const word = words[index];
    if (isPartition(word)) partition = word;
    else if (word === 'msm') {
      const slot = (words[++index] ?? '').toUpperCase();
      if (slot !== 'A' && slot !== 'B') return undefined;
      slots = [slot];
    } else return undefined;
  }
  return { slots, partition };
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
