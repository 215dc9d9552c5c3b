import semver from 'semver';

/** A version read leniently (`v4.4.0`, `4.4`, `Cumulus Linux 4.4.0`), with a fourth number when it has one. */
export interface LooseVersion {
  semver: semver.SemVer;
  /** ExtremeXOS numbers releases with four numbers (31.7.2.3): the fourth, compared after the first three; 0 when absent. */
  fourth: number;
  /** The version as compared: `31.7.2.3`, or semver's own form. */
  shown: string;
}

const FOUR_NUMBERS = /(\d+)\.(\d+)\.(\d+)\.(\d+)/;

export function parseLooseVersion(text: string): LooseVersion | undefined {
  const parsed = semver.coerce(text, { includePrerelease: true });
  if (!parsed) return undefined;
  const four = FOUR_NUMBERS.exec(text);
  // The fourth number belongs to the version semver found, not to some later one.
  const same = four !== null && [four[1], four[2], four[3]].map(Number).join('.') === `${parsed.major}.${parsed.minor}.${parsed.patch}` && parsed.prerelease.length === 0;
  return same ? { semver: parsed, fourth: Number(four[4]), shown: `${parsed.version}.${four[4]}` } : { semver: parsed, fourth: 0, shown: parsed.version };
}

/** Negative, zero or positive, as `a` is lower than, equal to or higher than `b`. */
export function compareLooseVersions(a: LooseVersion, b: LooseVersion): number {
  return semver.compare(a.semver, b.semver) || Math.sign(a.fourth - b.fourth);
}
