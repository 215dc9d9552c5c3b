import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PASSWORD_ENV, startLab, type Lab, type LabOptions } from './index.js';

/** The port `runbook lab` serves every device on (each device has its own loopback address). */
export const LAB_PORT = 2222;

export interface ServeLabOptions {
  /** Default 2222. */
  port?: number;
  /** Writes the inventory there instead of printing it. */
  inventoryOut?: string;
  /** Receives what the command prints (the inventory YAML, or a summary when it goes to a file). */
  print: (text: string) => void;
  /** Stops the lab when aborted, like SIGINT and SIGTERM do. */
  signal?: AbortSignal;
  lab?: Omit<LabOptions, 'port'>;
}

export interface ServedLab {
  lab: Lab;
  /** Resolves once the lab has stopped (after SIGINT, SIGTERM, the signal, or stop()). */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

/** `runbook lab [--inventory-out FILE]`: serves the lab until SIGINT or SIGTERM. */
export async function serveLab(options: ServeLabOptions): Promise<ServedLab> {
  const port = options.port ?? LAB_PORT;
  const lab = await startLab({ ...options.lab, port });
  const yaml = lab.inventoryYaml();
  const addresses = lab.devices.map((device) => device.address);
  const summary = [
    `runbook lab: ${lab.devices.length} devices on ${addresses[0]} .. ${addresses[addresses.length - 1]}, port ${lab.devices[0]?.port ?? port}`,
    `export ${PASSWORD_ENV}=${lab.password}`,
    'Ctrl-C stops the lab.',
  ];
  if (options.inventoryOut !== undefined) {
    try {
      await mkdir(dirname(options.inventoryOut), { recursive: true });
      await writeFile(options.inventoryOut, yaml);
    } catch (error) {
      await lab.stop();
      throw error;
    }
    options.print(`${summary[0]}\ninventory written to ${options.inventoryOut}\n${summary.slice(1).join('\n')}\n`);
  } else {
    // Comments keep the output valid YAML when it is redirected to a file.
    options.print(`${yaml}${summary.map((line) => `# ${line}`).join('\n')}\n`);
  }

  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      options.signal?.removeEventListener('abort', onSignal);
      await lab.stop();
      options.print('runbook lab: stopped\n');
      resolveStopped();
    })();
    return stopping;
  };
  const onSignal = (): void => void stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (options.signal?.aborted) void stop();
  else options.signal?.addEventListener('abort', onSignal, { once: true });
  return { lab, stopped, stop };
}
