import { createHash } from 'node:crypto';
import type { Clock, Timers } from '../clock.js';
import type { DeviceEnv, LabTimings, PowerControl, SimulatedDevice } from '../device.js';
import { stableNumber, toJson } from '../format.js';
import { EXIT_USAGE, type CommandContext, type CommandIo, type CommandTable } from '../shell.js';
import { compareDottedVersions } from '../versions.js';
import { VirtualFs } from '../vfs.js';
import { STORAGE_CLUSTER } from '../topology.js';
import { createLinuxCommands, homeOf, runLinuxLine } from './linux.js';

// A Qumulo Core cluster as ../shared/seeds/001_8a6dde0c99dc744f.txt ("Performing Qumulo Core Upgrades")
// describes it; section names below are that document's. What the document leaves open (error texts,
// the image format, the progress display's look) is the lab's own and documented in lab/README.md.

export type Deployment = 'on-prem' | 'cloud';

export interface QumuloOptions {
  version: string;
  /** Images an operator uploaded to /upgrade: file names carrying their release, e.g. `qumulo_core_7.1.0.1.qimg`. */
  images: readonly string[];
  /** More files on the cluster file system by absolute path, e.g. a damaged image from `createQumuloImage`. */
  files?: Readonly<Record<string, string>>;
  deployment: Deployment;
  /** Node failures the cluster's protection tolerates: a rolling reboot takes at most this many nodes down at once. */
  nodeFailures: number;
  /** How long an instant upgrade's container restart keeps the API away (the document: under 30 seconds). */
  containerRestartMs: number;
  /** Between the reboots of a rolling reboot, the restriper's work before the next nodes may go. */
  restripeMs: number;
}

/**
 * Releases that are platform upgrades, per deployment, from Qumulo's upgrade mode reference (the page
 * the document sends readers to for which release uses which mode). Upgrading past one reboots the
 * nodes even when it is not the release installed ("Platform Upgrade").
 */
export const PLATFORM_RELEASES: Readonly<Record<Deployment, readonly string[]>> = {
  'on-prem': ['4.2.1', '4.2.4', '5.1.1', '5.1.5', '5.3.1', '6.0.1.1', '6.1.1', '6.1.2.2', '6.3.0.1', '7.1.0.1'],
  cloud: ['4.0.6', '4.2.1', '4.2.4', '5.1.1', '5.1.5', '6.0.1.1', '6.1.1', '6.1.2.2', '6.3.0.1', '7.1.0.1'],
};
/** Instant upgrades start with 3.3.2 to 3.3.3 ("Instant Software Upgrade"): from anything older, nodes reboot. */
const FIRST_INSTANT_FROM = '3.3.2';
/** Rolling reboots exist from 5.0.3 ("Platform Upgrade"); an older `qq` does not know `--rolling`. */
export const FIRST_ROLLING = '5.0.3';

export const UPGRADE_STATES = ['UPGRADE_IDLE', 'UPGRADE_PREPARING', 'UPGRADE_PREPARED', 'UPGRADE_COMMITTING', 'UPGRADE_REBOOTING'] as const;
export type UpgradeState = (typeof UPGRADE_STATES)[number];
export const UPGRADE_ERRORS = ['UPGRADE_ERROR_NO_ERROR', 'UPGRADE_ERROR_PREPARE_FAILED'] as const;
export type UpgradeError = (typeof UPGRADE_ERRORS)[number];
export type UpgradeType = 'INSTANT' | 'PLATFORM';

const UPGRADE_DIR = '/upgrade';
const IMAGE_MAGIC = 'QUMULO-CORE-UPGRADE-IMAGE';
const IMAGE_SIZE = 1_200_000_000;


/** What an upgrade from `current` to `target` is, as the mode reference and "Platform Upgrade" say. */
export function upgradeTypeOf(current: string, target: string, deployment: Deployment): UpgradeType {
  if (compareDottedVersions(current, FIRST_INSTANT_FROM) < 0) return 'PLATFORM';
  const crossed = PLATFORM_RELEASES[deployment].some((release) => compareDottedVersions(release, current) > 0 && compareDottedVersions(release, target) <= 0);
  return crossed ? 'PLATFORM' : 'INSTANT';
}

/**
 * The lab's `.qimg`: a header naming release and deployment with the SHA-256 of the payload, then the
 * payload. `damage: 'header'` is not an image at all; `'payload'` has a good header and a payload that
 * does not match it (a truncated or corrupted upload), found only when the image is unpacked.
 */
export function createQumuloImage(version: string, options: { deployment?: Deployment; damage?: 'header' | 'payload' } = {}): string {
  const payload = `qumulo-core ${version} system image\n`;
  if (options.damage === 'header') return `\u0000\u0013garbage ${payload}`;
  const digest = createHash('sha256').update(options.damage === 'payload' ? `${payload}(before it was cut off)` : payload).digest('hex');
  return `${IMAGE_MAGIC} version=${version} deployment=${options.deployment ?? 'on-prem'} sha256=${digest}\n${payload}`;
}

interface ImageHeader {
  version: string;
  deployment: string;
  intact: boolean;
}

function readImage(content: string): ImageHeader | undefined {
  const [header = '', ...rest] = content.split('\n');
  const match = new RegExp(`^${IMAGE_MAGIC} version=(\\d+(?:\\.\\d+)+) deployment=(\\S+) sha256=([0-9a-f]{64})$`).exec(header);
  if (match === null) return undefined;
  const intact = createHash('sha256').update(rest.join('\n')).digest('hex') === match[3];
  return { version: match[1] as string, deployment: match[2] as string, intact };
}

interface Upgrade {
  state: UpgradeState;
  errorState: UpgradeError;
  errorMessage: string;
  details: string;
  installPath: string;
  targetVersion: string;
  type?: UpgradeType;
  rolling: boolean;
  /** Nodes rebooted at once in a rolling reboot. */
  groupSize: number;
  /** The one-step upgrade commits as soon as it is prepared. */
  autoCommit: boolean;
  /** Stops the preparation when it is canceled. */
  cancel?: () => void;
}

interface ClusterNode {
  id: number;
  name: string;
  power: PowerControl;
}

/** One line of the cluster's event log, for tests: what clients and nodes went through, and when. */
export interface ClusterEvent {
  at: number;
  event:
    | 'prepare-started'
    | 'prepared'
    | 'prepare-failed'
    | 'prepare-canceled'
    | 'commit-started'
    | 'container-restarted'
    | 'container-up'
    | 'node-down'
    | 'node-up'
    | 'smb-sessions-dropped'
    | 'nfs-down'
    | 'nfs-up'
    | 'smb-down'
    | 'smb-up'
    | 'upgraded';
  node?: string;
  detail?: string;
}

const idle = (previous?: Pick<Upgrade, 'errorState' | 'errorMessage' | 'installPath'>): Upgrade => ({
  state: 'UPGRADE_IDLE',
  errorState: previous?.errorState ?? 'UPGRADE_ERROR_NO_ERROR',
  errorMessage: previous?.errorMessage ?? '',
  details: '',
  installPath: previous?.installPath ?? '',
  targetVersion: '',
  rolling: false,
  groupSize: 1,
  autoCommit: false,
});

export interface UpgradeRequest {
  path: string;
  rolling: boolean;
  groupSize: number;
  autoCommit: boolean;
  /** Why the preparation fails (an `installFails` fault), if it must. */
  failure?: string;
}

/** The cluster state every node serves: version, members, the upgrade, and what its clients see. */
export class QumuloCluster {
  readonly name = STORAGE_CLUSTER;
  version: string;
  /** The cluster filesystem, the same from every node (upgrade images live here). */
  readonly fs: VirtualFs;
  readonly events: ClusterEvent[] = [];
  private readonly nodes: ClusterNode[] = [];
  private upgrade: Upgrade = idle();
  private restartingUntil = 0;
  private clients = { nfs: true, smb: true };

  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly timings: LabTimings,
    readonly options: QumuloOptions,
  ) {
    this.version = options.version;
    this.fs = new VirtualFs(clock);
    this.fs.mkdir(UPGRADE_DIR);
    for (const image of options.images) {
      const version = /(\d+(?:\.\d+)+)/.exec(image)?.[1] ?? '0.0.0';
      this.fs.writeFile(`${UPGRADE_DIR}/${image}`, createQumuloImage(version, { deployment: options.deployment }), IMAGE_SIZE + (stableNumber(image) % 200_000_000));
    }
    for (const [path, content] of Object.entries(options.files ?? {})) this.fs.writeFile(path, content, IMAGE_SIZE);
  }

  addNode(name: string, power: PowerControl): number {
    const id = this.nodes.length + 1;
    this.nodes.push({ id, name, power });
    return id;
  }

  /** The REST API is down while an instant upgrade restarts the containers; `qq` cannot reach it. */
  get apiAvailable(): boolean {
    return this.clock.now() >= this.restartingUntil;
  }

  get clientAccess(): { nfs: 'available' | 'unavailable'; smb: 'available' | 'unavailable' } {
    return { nfs: this.clients.nfs ? 'available' : 'unavailable', smb: this.clients.smb ? 'available' : 'unavailable' };
  }

  nodesList(): Array<Record<string, unknown>> {
    return this.nodes.map((node) => ({
      id: node.id,
      name: node.name,
      state: node.power.up ? 'ONLINE' : 'OFFLINE',
      uuid: uuidOf(node.name),
      label: `${node.name}-label`,
      model_number: 'Q0626',
      serial_number: `QS${(stableNumber(node.name) % 10_000_000).toString().padStart(7, '0')}`,
      mac_address: `00:1b:21:5c:${node.id.toString(16).padStart(2, '0')}:00`,
    }));
  }

  /** `qq upgrade_status`: the fields of the document's example output, in its order ("Understanding the Upgrade Phases"). */
  status(): Record<string, unknown> {
    const blockedReason = this.blockedReason();
    return {
      install_path: this.upgrade.installPath,
      state: this.upgrade.state,
      details: this.upgrade.details,
      error_message: this.upgrade.errorMessage,
      error_state: this.upgrade.errorState,
      is_blocked: blockedReason !== '',
      blocked_reason: blockedReason,
    };
  }

  get state(): UpgradeState {
    return this.upgrade.state;
  }

  /** What an image is, or why it cannot be installed here; the payload is checked only when unpacked. */
  inspectImage(path: string, unpack = false): { type: UpgradeType; version: string } | { error: string; code: string } {
    const node = this.fs.stat(path);
    if (node === undefined) return { code: '404', error: `Error 404: fs_no_such_entry_error: No such file or directory: ${path}` };
    const image = node.kind === 'file' ? readImage(node.content) : undefined;
    if (image === undefined) return { code: '400', error: `Error 400: upgrade_invalid_image_error: ${path} is not a Qumulo Core upgrade image` };
    // "Upgrading Your Qumulo Cluster": cloud and on-premises clusters take different images.
    if (image.deployment !== this.options.deployment) {
      return { code: '400', error: `Error 400: upgrade_invalid_image_error: ${path} is a ${image.deployment} image; this cluster needs an ${this.options.deployment} image` };
    }
    if (compareDottedVersions(image.version, this.version) <= 0) {
      return { code: '400', error: `Error 400: upgrade_version_error: ${image.version} is not newer than the running version ${this.version}` };
    }
    if (unpack && !image.intact) return { code: '400', error: `Upgrade image ${path} is corrupt: its checksum does not match; upload it again` };
    return { type: upgradeTypeOf(this.version, image.version, this.options.deployment), version: image.version };
  }

  /** Starts the preparation phase ("Understanding the Upgrade Phases"): the image is staged while the cluster keeps serving. */
  prepare(request: UpgradeRequest): string | undefined {
    if (this.upgrade.state !== 'UPGRADE_IDLE') {
      return `Error 409: upgrade_wrong_state_error: an upgrade is already in progress (state ${this.upgrade.state})`;
    }
    const blocked = this.blockedReason();
    if (blocked) return `Error 409: upgrade_blocked_error: ${blocked}`;
    this.upgrade = {
      ...idle(),
      state: 'UPGRADE_PREPARING',
      installPath: request.path,
      details: 'Verifying the upgrade image',
      rolling: request.rolling,
      groupSize: request.groupSize,
      autoCommit: request.autoCommit,
    };
    this.log('prepare-started', undefined, request.path);
    const current = this.upgrade;
    const cancelCheck = this.timers.after(this.timings.prepareMs / 2, () => {
      if (this.upgrade !== current) return;
      const image = this.inspectImage(request.path, true);
      if ('error' in image) return this.failPreparation(image.error);
      if (request.failure !== undefined) return this.failPreparation(request.failure);
      this.upgrade = { ...current, targetVersion: image.version, type: image.type, details: `Unpacking Qumulo Core ${image.version} (${describeType(image.type, current.rolling)})` };
      const cancelReady = this.timers.after(this.timings.prepareMs / 2, () => this.finishPreparation());
      this.upgrade.cancel = cancelReady;
    });
    this.upgrade.cancel = cancelCheck;
    return undefined;
  }

  /** Only a monitored preparation can be canceled (the note on `--no-monitor`). */
  cancelPreparation(): void {
    if (this.upgrade.state !== 'UPGRADE_PREPARING') return;
    this.upgrade.cancel?.();
    this.log('prepare-canceled', undefined, this.upgrade.installPath);
    this.upgrade = { ...idle(), installPath: this.upgrade.installPath, details: 'The upgrade was canceled' };
  }

  private failPreparation(message: string): void {
    this.log('prepare-failed', undefined, message);
    this.upgrade = idle({ errorState: 'UPGRADE_ERROR_PREPARE_FAILED', errorMessage: message, installPath: this.upgrade.installPath });
  }

  private finishPreparation(): void {
    const { targetVersion, type, rolling } = this.upgrade;
    this.upgrade = { ...this.upgrade, state: 'UPGRADE_PREPARED', cancel: undefined, details: `Qumulo Core ${targetVersion} is prepared (${describeType(type!, rolling)})` };
    this.log('prepared', undefined, targetVersion);
    if (this.upgrade.autoCommit) this.commit();
  }

  /** The commit phase: an instant upgrade swaps the container, a platform upgrade reboots the nodes. */
  commit(): string | undefined {
    if (this.upgrade.state !== 'UPGRADE_PREPARED') {
      return `Error 409: upgrade_wrong_state_error: cannot commit: the upgrade is ${this.upgrade.state}, not UPGRADE_PREPARED`;
    }
    const blocked = this.blockedReason();
    if (blocked) return `Error 409: upgrade_blocked_error: ${blocked}`;
    const { type, rolling, targetVersion } = this.upgrade;
    this.upgrade = { ...this.upgrade, state: 'UPGRADE_COMMITTING', details: `Committing Qumulo Core ${targetVersion} (${describeType(type!, rolling)})` };
    this.log('commit-started', undefined, describeType(type!, rolling));
    this.timers.after(this.timings.commitMs, () => {
      if (type === 'INSTANT') return this.restartContainers();
      this.upgrade = { ...this.upgrade, state: 'UPGRADE_REBOOTING' };
      if (rolling) this.rebootInTurn(0);
      else this.rebootAll();
    });
    return undefined;
  }

  /** Instant upgrade: every node stops its container and starts the new one; no node reboots. */
  private restartContainers(): void {
    this.restartingUntil = this.clock.now() + this.options.containerRestartMs;
    for (const node of this.nodes) this.log('container-restarted', node.name);
    this.timers.after(this.options.containerRestartMs, () => {
      for (const node of this.nodes) this.log('container-up', node.name);
      this.finishUpgrade();
    });
  }

  /** Complete reboot: all nodes at once, SMB and NFS clients cut off until they are back. */
  private rebootAll(): void {
    this.upgrade.details = `Rebooting all ${this.nodes.length} nodes`;
    this.rebootNodes(this.nodes, () => this.finishUpgrade());
  }

  /** Rolling reboot: a group of nodes at a time, the next once the group is back and the restriper is done. */
  private rebootInTurn(first: number): void {
    const group = this.nodes.slice(first, first + this.upgrade.groupSize);
    if (group.length === 0) return this.finishUpgrade();
    this.upgrade.details = `Rolling reboot: ${group.map((node) => node.name).join(', ')} (${first + group.length} of ${this.nodes.length} nodes)`;
    this.rebootNodes(group, () => this.timers.after(this.options.restripeMs, () => this.rebootInTurn(first + group.length)));
  }

  /** A node rebooted by hand (`reboot`), outside any upgrade. */
  rebootNode(id: number): void {
    const node = this.nodes.find((n) => n.id === id);
    if (node) this.rebootNodes([node]);
  }

  /** Reboots nodes together, records what the cluster's clients see meanwhile, and calls `onAllUp` once all are back. */
  private rebootNodes(nodes: readonly ClusterNode[], onAllUp?: () => void): void {
    const going = nodes.filter((node) => node.power.up);
    let pending = going.length;
    for (const node of going) {
      node.power.reboot({
        onUp: () => {
          this.log('node-up', node.name);
          this.updateClients();
          if (--pending === 0) onAllUp?.();
        },
      });
    }
    // The devices go down once the running command has answered; this runs just after.
    this.timers.after(0, () => {
      const down = going.filter((node) => !node.power.up);
      for (const node of down) this.log('node-down', node.name);
      if (this.updateClients()) for (const node of down) this.log('smb-sessions-dropped', node.name);
    });
  }

  /**
   * The file system serves while no more nodes are down than its protection tolerates: NFS clients
   * move to nodes that are up, SMB sessions on a node that went down are lost. Returns whether the
   * cluster still serves.
   */
  private updateClients(): boolean {
    const down = this.nodes.filter((node) => !node.power.up).length;
    const serving = down <= this.options.nodeFailures && down < this.nodes.length;
    if (serving !== this.clients.nfs) this.log(serving ? 'nfs-up' : 'nfs-down');
    if (serving !== this.clients.smb) this.log(serving ? 'smb-up' : 'smb-down');
    this.clients = { nfs: serving, smb: serving };
    return serving;
  }

  private finishUpgrade(): void {
    this.version = this.upgrade.targetVersion;
    this.upgrade = idle({ errorState: 'UPGRADE_ERROR_NO_ERROR', errorMessage: '', installPath: '' });
    this.log('upgraded', undefined, this.version);
  }

  private blockedReason(): string {
    if (this.upgrade.state !== 'UPGRADE_IDLE' && this.upgrade.state !== 'UPGRADE_PREPARED') return '';
    const offline = this.nodes.find((node) => !node.power.up);
    return offline ? `node ${offline.id} (${offline.name}) is OFFLINE` : '';
  }

  private log(event: ClusterEvent['event'], node?: string, detail?: string): void {
    this.events.push({ at: this.clock.now(), event, ...(node === undefined ? {} : { node }), ...(detail === undefined ? {} : { detail }) });
  }
}

function describeType(type: UpgradeType, rolling: boolean): string {
  if (type === 'INSTANT') return 'instant software upgrade: container restart, no reboot';
  return rolling ? 'platform upgrade: rolling reboot' : 'platform upgrade: complete reboot';
}

/** The options of `qq upgrade_cluster`, wherever they stand around the subcommand (argparse accepts both). */
interface UpgradeArgs {
  phase?: 'prepare' | 'commit';
  path?: string;
  rolling: boolean;
  noMonitor: boolean;
  numNodes?: string;
  unknown: string[];
}

function parseUpgradeArgs(args: readonly string[]): UpgradeArgs {
  const parsed: UpgradeArgs = { rolling: false, noMonitor: false, unknown: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--path') parsed.path = args[++i];
    else if (arg.startsWith('--path=')) parsed.path = arg.slice('--path='.length);
    else if (arg === '--rolling') parsed.rolling = true;
    else if (arg === '--no-monitor') parsed.noMonitor = true;
    else if (arg === '--num-nodes-to-reboot') parsed.numNodes = args[++i];
    else if ((arg === 'prepare' || arg === 'commit') && parsed.phase === undefined) parsed.phase = arg;
    else parsed.unknown.push(arg);
  }
  return parsed;
}

const USAGE = 'usage: qq upgrade_cluster [-h] [--path PATH] [--no-monitor] [--rolling] [--num-nodes-to-reboot NUM] {prepare,commit} ...';
const OLD_USAGE = 'usage: qq upgrade_cluster [-h] [--path PATH] [--no-monitor] {prepare,commit} ...';
const PROGRESS_STEPS = 4;

/** One node of the cluster: its own SSH server, serving the shared cluster state through `qq`. */
export class QumuloNode implements SimulatedDevice {
  readonly platform = 'qumulo';
  readonly id: number;
  /**
   * The cluster file system, served over SFTP: the document has the operator upload the `.qimg` to any
   * directory of the cluster through a client protocol (its step before `qq upgrade_cluster`); the lab
   * offers SFTP for that, and every node sees what one node was sent.
   */
  readonly files: VirtualFs;
  private readonly commands: CommandTable;

  constructor(
    private readonly env: DeviceEnv,
    private readonly cluster: QumuloCluster,
  ) {
    this.id = cluster.addNode(env.name, env.power);
    this.files = cluster.fs;
    cluster.fs.mkdir(homeOf(env.user));
    this.commands = {
      ...createLinuxCommands({
        fs: cluster.fs,
        clock: env.clock,
        hostname: () => env.name,
        bootTime: () => env.power.upSince,
        disk: () => ({ filesystem: '/dev/nvme0n1p2', mount: '/', totalKb: 230_000_000, availableKb: 171_000_000 }),
      }),
      qq: (context) => this.qq(context),
      reboot: () => {
        cluster.rebootNode(this.id);
        return 0;
      },
    };
  }

  prompt(): string {
    return `${this.env.name}# `;
  }

  run(line: string, user: string, io: CommandIo): Promise<number> {
    return runLinuxLine(line, this.commands, this.cluster.fs, user, io);
  }

  state(): Record<string, unknown> {
    return {
      node: this.id,
      cluster: this.cluster.name,
      version: this.cluster.version,
      upgrade: this.cluster.status(),
      clients: this.cluster.clientAccess,
      events: this.cluster.events.map((event) => ({ ...event })),
    };
  }

  private qq({ argv, io }: CommandContext): number | Promise<number> {
    const args = argv.slice(1);
    // Connection options address the API; the lab always answers for the local cluster.
    while (['--host', '--port', '--credentials-store', '--timeout'].includes(args[0] ?? '')) args.splice(0, 2);
    const [command, ...rest] = args;
    const answer = (value: unknown): number => {
      io.out(toJson(value, 4));
      return 0;
    };
    const fail = (message: string): number => {
      io.err(`${message}\n`);
      return 1;
    };
    if (command !== undefined && !this.cluster.apiAvailable) {
      return fail(`Error: could not connect to the Qumulo REST API on ${this.env.address}:8000: Connection refused`);
    }
    switch (command) {
      case 'login':
        return 0;
      case 'version':
        return answer({
          revision_id: `Qumulo Core ${this.cluster.version}`,
          version: this.cluster.version,
          build_id: `${this.cluster.version}.${stableNumber(this.cluster.version) % 1_000_000}`,
          flags: [],
        });
      case 'nodes_list':
        return answer(this.cluster.nodesList());
      case 'upgrade_status':
        // `--raw`, `--json` and `--no-monitor` all print the status as it is.
        return answer(this.cluster.status());
      case 'upgrade_verify_image': {
        const path = optionValue(rest, '--path');
        if (path === undefined) {
          io.err('usage: qq upgrade_verify_image [-h] --path PATH\nqq upgrade_verify_image: error: the following arguments are required: --path\n');
          return EXIT_USAGE;
        }
        const image = this.cluster.inspectImage(path);
        if ('error' in image) return fail(image.error);
        return answer({ upgrade_type: image.type, current_version: this.cluster.version, target_version: image.version });
      }
      case 'upgrade_cluster':
        return this.upgradeCluster(parseUpgradeArgs(rest), io);
      default:
        io.err(`usage: qq [-h] [--host HOST] [--port PORT] COMMAND ...\nqq: error: argument command: invalid choice: '${command ?? ''}'\n`);
        return EXIT_USAGE;
    }
  }

  /** `qq upgrade_cluster`, in the syntax of the running release ("To Upgrade Your Qumulo Cluster by Using the qq CLI"). */
  private upgradeCluster(args: UpgradeArgs, io: CommandIo): number | Promise<number> {
    const rollingKnown = compareDottedVersions(this.cluster.version, FIRST_ROLLING) >= 0;
    const usage = (message: string): number => {
      io.err(`${rollingKnown ? USAGE : OLD_USAGE}\nqq upgrade_cluster: error: ${message}\n`);
      return EXIT_USAGE;
    };
    // Before 5.0.3 the CLI has no rolling reboot: its argument parser does not know the flags.
    const unknown = [...args.unknown, ...(rollingKnown ? [] : [...(args.rolling ? ['--rolling'] : []), ...(args.numNodes !== undefined ? ['--num-nodes-to-reboot', args.numNodes] : [])])];
    if (unknown.length > 0) return usage(`unrecognized arguments: ${unknown.join(' ')}`);
    if (args.phase === 'commit') {
      // The image and the reboot mode are chosen when preparing; commit only goes ahead.
      const extra = [...(args.path !== undefined ? ['--path'] : []), ...(args.rolling ? ['--rolling'] : []), ...(args.numNodes !== undefined ? ['--num-nodes-to-reboot'] : [])];
      if (extra.length > 0) {
        io.err(`usage: qq upgrade_cluster commit [-h] [--no-monitor]\nqq upgrade_cluster commit: error: unrecognized arguments: ${extra.join(' ')} (the image and the reboot mode are chosen by prepare)\n`);
        return EXIT_USAGE;
      }
      const error = this.cluster.commit();
      if (error) return this.failed(io, error);
      return args.noMonitor ? 0 : this.monitor(io, 'commit');
    }
    if (args.path === undefined) return usage('the following arguments are required: --path');
    const groupSize = this.groupSize(args);
    if (typeof groupSize === 'string') return this.failed(io, groupSize);
    const failure = this.env.faults.take('installFails');
    const error = this.cluster.prepare({
      path: args.path,
      rolling: args.rolling,
      groupSize,
      autoCommit: args.phase === undefined,
      failure: failure && (failure.message ?? 'Could not write the platform image to the alternate boot partition'),
    });
    if (error) return this.failed(io, error);
    return args.noMonitor ? 0 : this.monitor(io, args.phase === undefined ? 'upgrade' : 'prepare');
  }

  /** `--num-nodes-to-reboot`: at least 1, at most the node failures the protection tolerates; by default one fewer (at least 1). */
  private groupSize(args: UpgradeArgs): number | string {
    const allowed = this.cluster.options.nodeFailures;
    if (args.numNodes === undefined) return Math.max(1, allowed - 1);
    const count = Number(args.numNodes);
    if (!args.rolling) return 'Error 400: upgrade_invalid_argument_error: --num-nodes-to-reboot needs --rolling';
    if (!Number.isInteger(count) || count < 1 || count > allowed) {
      return `Error 400: upgrade_invalid_argument_error: --num-nodes-to-reboot must be between 1 and ${allowed}, the node failures this cluster's protection tolerates`;
    }
    return count;
  }

  private failed(io: CommandIo, error: string): number {
    io.err(`${error}\n`);
    return 1;
  }

  /**
   * The progress display `--no-monitor` turns off: redrawn on one line until the phase ends. Leaving it
   * (Ctrl-C, the session gone) cancels a preparation still running; a commit goes on regardless.
   */
  private async monitor(io: CommandIo, phase: 'prepare' | 'commit' | 'upgrade'): Promise<number> {
    const { timers, timings } = this.env;
    const tick = Math.max(1, (phase === 'commit' ? timings.commitMs : timings.prepareMs) / PROGRESS_STEPS);
    let shown = 0;
    for (;;) {
      const state = this.cluster.state;
      const status = this.cluster.status();
      const done =
        status.error_state !== 'UPGRADE_ERROR_NO_ERROR' ||
        (phase === 'prepare' ? state !== 'UPGRADE_PREPARING' : state === 'UPGRADE_IDLE');
      if (done) break;
      shown = Math.min(shown + 1, PROGRESS_STEPS * 2);
      const percent = Math.min(99, Math.round((100 * shown) / (PROGRESS_STEPS * 2)));
      io.out(`\r${phase === 'prepare' || state === 'UPGRADE_PREPARING' ? 'Preparing' : 'Committing'}: [${'#'.repeat(percent / 5).padEnd(20)}] ${percent}% ${String(status.details)}`);
      if (!(await timers.sleep(tick, io.signal))) {
        if (this.cluster.state === 'UPGRADE_PREPARING') this.cluster.cancelPreparation();
        io.out('\nCanceled.\n');
        return 130;
      }
    }
    const status = this.cluster.status();
    if (status.error_state !== 'UPGRADE_ERROR_NO_ERROR') {
      io.out('\n');
      return this.failed(io, `Upgrade failed: ${String(status.error_message)}`);
    }
    io.out(`\r${phase === 'prepare' ? 'Prepared' : 'Upgraded'}: [${'#'.repeat(20)}] 100%\n`);
    io.out(phase === 'prepare' ? `${String(status.details)}. Run \`qq upgrade_cluster commit\` to finish the upgrade.\n` : `The cluster runs Qumulo Core ${this.cluster.version}.\n`);
    return 0;
  }
}

function optionValue(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index >= 0) return args[index + 1];
  return args.find((arg) => arg.startsWith(`${name}=`))?.slice(name.length + 1);
}

function uuidOf(name: string): string {
  const hex = Array.from({ length: 4 }, (_value, index) => stableNumber(`${name}:${index}`).toString(16).padStart(8, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
