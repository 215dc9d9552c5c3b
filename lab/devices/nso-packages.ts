/**
 * NSO packages as the lab keeps them (seed 002, "Single Instance Upgrade" and "Package Upgrade"):
 * archives in /opt/ncs/packages named for the release they were built for (`ncs-6.1-<name>-<version>.tar.gz`),
 * and symbolic links to the set in use in the load path /var/opt/ncs/packages. An archive's content in
 * the lab is its package-meta-data.xml, so `zgrep` finds the same lines it finds in a real archive.
 */
import { compareDottedVersions } from '../versions.js';

export interface PackageMeta {
  name: string;
  version: string;
  /** The NSO branch (major.minor) the package was compiled for: its `ncs-min-version`. */
  builtFor: string;
  description: string;
}

/** A package NSO loaded, and the file it loaded it from. */
export interface LoadedPackage extends PackageMeta {
  file: string;
}

export type OperStatus = 'up' | 'file-load-error' | 'bad-ncs-version';

export const STORE = '/opt/ncs/packages';
export const LOAD_PATH = '/var/opt/ncs/packages';

export const DEFAULT_PACKAGES: ReadonlyArray<Omit<PackageMeta, 'builtFor'>> = [
  { name: 'cisco-ios-cli-6.100', version: '6.100.2', description: 'NED package for Cisco IOS' },
  { name: 'cisco-iosxr-cli-7.52', version: '7.52.1', description: 'NED package for Cisco IOS XR' },
  { name: 'resource-manager', version: '4.2.9', description: 'Resource allocation for services' },
];

/** `6.1` of `6.1.4`: the branch; a maintenance upgrade stays in it, a major one leaves it. */
export function branchOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}


/** The file name the seed's naming scheme gives a package: the release first, so sets for several releases coexist. */
export function packageFileName(meta: Pick<PackageMeta, 'name' | 'version' | 'builtFor'>): string {
  return `ncs-${meta.builtFor}-${meta.name}-${meta.version}.tar.gz`;
}

export function formatPackageMeta(meta: PackageMeta): string {
  return [
    '<ncs-package xmlns="http://tail-f.com/ns/ncs-packages">',
    `  <name>${meta.name}</name>`,
    `  <package-version>${meta.version}</package-version>`,
    `  <description>${meta.description}</description>`,
    `  <ncs-min-version>${meta.builtFor}</ncs-min-version>`,
    '</ncs-package>',
    '',
  ].join('\n');
}

export function parsePackageMeta(text: string): PackageMeta | undefined {
  const field = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(text)?.[1];
  const name = field('name');
  const version = field('package-version');
  const builtFor = field('ncs-min-version');
  if (name === undefined || version === undefined || builtFor === undefined) return undefined;
  return { name, version, builtFor, description: field('description') ?? '' };
}

/** A package loads on the branch it was compiled for; the seed promises binary compatibility within a branch only. */
export function operStatusOf(loaded: PackageMeta, runningVersion: string): { status: OperStatus; info: string } {
  const running = branchOf(runningVersion);
  if (loaded.builtFor === running) return { status: 'up', info: '' };
  const newer = compareDottedVersions(loaded.builtFor, running) > 0;
  return { status: newer ? 'bad-ncs-version' : 'file-load-error', info: `package built for NSO ${loaded.builtFor}, running ${runningVersion}` };
}

/** `name@version` of each package, in name order: two nodes must agree on it to form an HA cluster. */
export function describePackageSet(packages: readonly PackageMeta[]): string[] {
  return packages.map((p) => `${p.name}@${p.version}`).sort();
}
