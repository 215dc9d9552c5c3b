import type { Clock, Timers } from '../clock.js';
import type { DeviceEnv, LabTimings, PowerControl, SimulatedDevice } from '../device.js';
import { stableNumber, toJson } from '../format.js';
import { EXIT_USAGE, type CommandContext, type CommandIo, type CommandTable } from '../shell.js';
import { VirtualFs } from '../vfs.js';
import { STORAGE_CLUSTER } from '../topology.js';
import { createLinuxCommands, homeOf, runLinuxLine } from './linux.js';

export interface QumuloOptions {
  version: string;
  /** Upgrade image file names staged in /upgrade. */
  images: readonly string[];
}

export const UPGRADE_STATES = ['IDLE', 'PREPARING', 'PREPARED', 'COMMITTING'] as const;
export type UpgradeState = (typeof UPGRADE_STATES)[number];
export type UpgradeType = 'INSTANT' | 'PLATFORM';

/** `qumulo_core_7.2.0.qimg` is an instant upgrade, `qumulo_core_7.2.0_platform.qimg` a platform one. */
const IMAGE_NAME = /^qumulo_core_(\d+\.\d+\.\d+)(_platform)?\.qimg$/;
const UPGRADE_DIR = '/upgrade';

interface Upgrade {
  state: UpgradeState;
  errorState: 'NO_ERROR' | 'PREPARE_FAILED';
  installPath: string;
  targetVersion: string;
  type: UpgradeType | '';
  rolling: boolean;
}

interface ClusterNode {
  id: number;
  name: string;
  power: PowerControl;
}

const IDLE: Upgrade = { state: 'IDLE', errorState: 'NO_ERROR', installPath: '', targetVersion: '', type: '', rolling: false };

/** The cluster state every node serves: version, members, and the two-phase upgrade. */
export class QumuloCluster {
  readonly name = STORAGE_CLUSTER;
  version: string;
  /** The cluster filesystem, the same from every node (upgrade images live here). */
  readonly fs: VirtualFs;
  private readonly nodes: ClusterNode[] = [];
  private upgrade: Upgrade = IDLE;

  constructor(
    clock: Clock,
    private readonly timers: Timers,
    private readonly timings: LabTimings,
    options: QumuloOptions,
  ) {
    this.version = options.version;
    this.fs = new VirtualFs(clock);
    for (const image of options.images) {
      this.fs.writeFile(`${UPGRADE_DIR}/${image}`, '', 1_200_000_000 + (stableNumber(image) % 200_000_000));
    }
  }

  addNode(name: string, power: PowerControl): number {
    const id = this.nodes.length + 1;
    this.nodes.push({ id, name, power });
    return id;
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

  status(): Record<string, unknown> {
    const blockedReason = this.blockedReason();
    return {
      state: this.upgrade.state,
      error_state: this.upgrade.errorState,
      is_blocked: blockedReason !== '',
      blocked_reason: blockedReason,
      install_path: this.upgrade.installPath,
      target_version: this.upgrade.targetVersion,
      upgrade_type: this.upgrade.type,
      rolling: this.upgrade.rolling,
    };
  }

  /** What an image would do: its version and kind, or the error `qq` prints. */
  verifyImage(path: string): { type: UpgradeType; version: string } | { error: string } {
    const node = this.fs.stat(path);
    if (node === undefined) return { error: `Error 404: fs_no_such_entry_error: No such file or directory: ${path}` };
    const match = IMAGE_NAME.exec(path.split('/').pop() ?? '');
    if (node.kind !== 'file' || match === null) {
      return { error: `Error 400: upgrade_invalid_image_error: not a Qumulo Core upgrade image: ${path}` };
    }
    const version = match[1] as string;
    if (version.localeCompare(this.version, undefined, { numeric: true }) <= 0) {
      return { error: `Error 400: upgrade_version_error: ${version} is not newer than the running version ${this.version}` };
    }
    return { type: match[2] ? 'PLATFORM' : 'INSTANT', version };
  }

  /** Starts PREPARING; resolves with the error to print, if any. */
  prepare(path: string, failure: string | undefined): string | undefined {
    if (this.upgrade.state !== 'IDLE') {
      return `Error 409: upgrade_wrong_state_error: an upgrade is already in progress (state ${this.upgrade.state})`;
    }
    const blocked = this.blockedReason();
    if (blocked) return `Error 409: upgrade_blocked_error: ${blocked}`;
    const image = this.verifyImage(path);
    if ('error' in image) return image.error;
    if (failure !== undefined) {
      this.upgrade = { ...IDLE, errorState: 'PREPARE_FAILED', installPath: path, targetVersion: image.version, type: image.type };
      return `Error 500: upgrade_prepare_error: ${failure}`;
    }
    this.upgrade = { state: 'PREPARING', errorState: 'NO_ERROR', installPath: path, targetVersion: image.version, type: image.type, rolling: false };
    this.timers.after(this.timings.prepareMs, () => {
      if (this.upgrade.state === 'PREPARING') this.upgrade = { ...this.upgrade, state: 'PREPARED' };
    });
    return undefined;
  }

  commit(rolling: boolean): string | undefined {
    if (this.upgrade.state !== 'PREPARED') {
      return `Error 409: upgrade_wrong_state_error: cannot commit: the upgrade is ${this.upgrade.state}, not PREPARED`;
    }
    const blocked = this.blockedReason();
    if (blocked) return `Error 409: upgrade_blocked_error: ${blocked}`;
    const platform = this.upgrade.type === 'PLATFORM';
    this.upgrade = { ...this.upgrade, state: 'COMMITTING', rolling: platform && rolling };
    this.timers.after(this.timings.commitMs, () => {
      if (!platform) this.finishUpgrade();
      else if (rolling) this.rebootInTurn(0);
      else this.rebootAll();
    });
    return undefined;
  }

  private rebootAll(): void {
    let pending = this.nodes.length;
    for (const node of this.nodes) {
      node.power.reboot({
        onUp: () => {
          pending--;
          if (pending === 0) this.finishUpgrade();
        },
      });
    }
  }

  /** Rolling: one node down at a time, so the cluster keeps serving from the others. */
  private rebootInTurn(index: number): void {
    const node = this.nodes[index];
    if (node === undefined) return this.finishUpgrade();
    node.power.reboot({ onUp: () => this.rebootInTurn(index + 1) });
  }

  private finishUpgrade(): void {
    this.version = this.upgrade.targetVersion;
    this.upgrade = IDLE;
  }

  private blockedReason(): string {
    if (this.upgrade.state === 'COMMITTING' || this.upgrade.state === 'PREPARING') return '';
    const offline = this.nodes.find((node) => !node.power.up);
    return offline ? `node ${offline.id} (${offline.name}) is OFFLINE` : '';
  }
}

/** One node of the cluster: its own SSH server, serving the shared cluster state through `qq`. */
export class QumuloNode implements SimulatedDevice {
  readonly platform = 'qumulo';
  readonly id: number;
  private readonly commands: CommandTable;

  constructor(
    private readonly env: DeviceEnv,
    private readonly cluster: QumuloCluster,
  ) {
    this.id = cluster.addNode(env.name, env.power);
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
        env.power.reboot();
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
    return { node: this.id, cluster: this.cluster.name, version: this.cluster.version, upgrade: this.cluster.status() };
  }

  private qq({ argv, io }: CommandContext): number {
    const args = argv.slice(1);
    // Connection options address the API; the lab always answers for the local cluster.
    while (['--host', '--port', '--credentials-store', '--timeout'].includes(args[0] ?? '')) args.splice(0, 2);
    const [command, ...rest] = args;
    const option = (name: string): string | undefined => {
      const index = rest.indexOf(name);
      return index >= 0 ? rest[index + 1] : undefined;
    };
    const requirePath = (usage: string): string | undefined => {
      const path = option('--path');
      if (path === undefined) io.err(`usage: qq ${usage} --path PATH\nqq ${usage}: error: the following arguments are required: --path\n`);
      return path;
    };
    const answer = (value: unknown): number => {
      io.out(toJson(value, 4));
      return 0;
    };
    const fail = (message: string): number => {
      io.err(`${message}\n`);
      return 1;
    };
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
        return answer(this.cluster.status());
      case 'upgrade_verify_image': {
        const path = requirePath('upgrade_verify_image');
        if (path === undefined) return EXIT_USAGE;
        const image = this.cluster.verifyImage(path);
        if ('error' in image) return fail(image.error);
        return answer({ upgrade_type: image.type, current_version: this.cluster.version, target_version: image.version });
      }
      case 'upgrade_cluster': {
        const [phase] = rest;
        if (phase === 'prepare') {
          const path = requirePath('upgrade_cluster prepare');
          if (path === undefined) return EXIT_USAGE;
          const failure = this.env.faults.take('installFails');
          const error = this.cluster.prepare(path, failure && (failure.message ?? 'image verification failed: checksum mismatch'));
          return error ? fail(error) : answer(this.cluster.status());
        }
        if (phase === 'commit') {
          const error = this.cluster.commit(rest.includes('--rolling'));
          return error ? fail(error) : answer(this.cluster.status());
        }
        io.err(`usage: qq upgrade_cluster {prepare,commit} ...\nqq upgrade_cluster: error: argument phase: invalid choice: '${phase ?? ''}'\n`);
        return EXIT_USAGE;
      }
      default:
        io.err(
          `usage: qq [-h] [--host HOST] [--port PORT] COMMAND ...\nqq: error: argument command: invalid choice: '${command ?? ''}'\n`,
        );
        return EXIT_USAGE;
    }
  }
}

function uuidOf(name: string): string {
  const hex = Array.from({ length: 4 }, (_value, index) => stableNumber(`${name}:${index}`).toString(16).padStart(8, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
