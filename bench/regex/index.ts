// User regexes on RE2 (re2js) against the built-in backtracking RegExp: `npx tsx bench/regex/index.ts`.
// No target: RE2 buys linear time whatever the pattern, this says what it costs on the hot paths, as
// ratios (re2js over RegExp) for the same calls on the same text, and as a share of the whole parse.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileUserRegex, type UserRegexOptions } from '../../engine/shared/user-regex.js';
import { loadProfile, type CompiledCollector } from '../../engine/snapshot/profile.js';
import { formatMs, formatTable, measure, type Timing } from '../lib/timing.js';

export interface RegexBenchOptions {
  /** Records (links, neighbours) or lines (text output) per case. */
  records?: number;
  runs?: number;
  warmup?: number;
  write?: (line: string) => void;
}

export interface RegexBenchRow {
  name: string;
  /** Calls to the regex in one run. */
  calls: number;
  native: Timing;
  re2: Timing;
  /** Median re2js over median RegExp. */
  ratio: number;
  /** The whole parse through the engine (re2js), when the case is a profile collector. */
  parse?: Timing;
}

export interface RegexBenchResult {
  rows: RegexBenchRow[];
}

const ROOT = join(import.meta.dirname, '..', '..');

/** `ip -j -d link show` of a big switch: each link's flags are tested with `^UP$`. */
function linkOutput(count: number): { text: string; values: string[] } {
  const links = Array.from({ length: count }, (_, i) => ({
    ifindex: i + 1,
    ifname: `swp${i + 1}`,
    flags: i % 7 === 0 ? ['BROADCAST', 'MULTICAST'] : ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    mtu: 9216,
    operstate: i % 7 === 0 ? 'DOWN' : 'UP',
    address: `44:38:39:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    linkinfo: { info_kind: i % 3 === 0 ? 'bond' : 'device' },
  }));
  return { text: JSON.stringify(links), values: links.flatMap((l) => l.flags) };
}

/** `ip -j neigh show`: each neighbour's address is tested with `(:)` to tell IPv6. */
function neighborOutput(count: number): { text: string; values: string[] } {
  const neighbours = Array.from({ length: count }, (_, i) => ({
    dst: i % 4 === 0 ? `fe80::4638:39ff:fe00:${(i & 0xffff).toString(16)}` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    dev: `vlan${10 + (i % 20)}`,
    lladdr: `44:38:39:00:00:${(i & 255).toString(16).padStart(2, '0')}`,
    state: ['REACHABLE'],
  }));
  return { text: JSON.stringify(neighbours), values: neighbours.map((n) => n.dst) };
}

/** `systemctl list-unit-files` lines, read by a text collector with named groups. */
const SERVICE_MATCH = '^(?<name>[\\w@.-]+?)(@(?<vrf>\\w+))?\\.service\\s+(?<state>\\S+)';
function serviceLines(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${i % 5 === 0 ? `ssh@vrf${i}` : `svc${i}`}.service${' '.repeat(8)}${i % 3 ? 'enabled' : 'disabled'}`);
}

function collectorOf(profileText: string, element: string): CompiledCollector {
  const loaded = loadProfile('bench.yaml', profileText);
  if (!loaded.ok) throw new Error(`the profile does not load: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  const collector = loaded.compiled.collectors.find((c) => c.element === element && (c.platforms === undefined || c.platforms.includes('cumulus')));
  if (!collector) throw new Error(`no ${element} collector`);
  return collector;
}

/** The same pattern on both engines, called as the engine calls it. */
function compare(pattern: string, inputs: readonly string[], how: 'test' | 'exec', options: UserRegexOptions, measureOptions: { runs: number; warmup: number }) {
  const native = new RegExp(pattern.replace(/\(\?P</g, '(?<'), options.multiline ? 'm' : '');
  const re2 = compileUserRegex(pattern, options);
  let sink = 0;
  const nativeRun =
    how === 'test'
      ? () => inputs.forEach((input) => (sink += native.test(input) ? 1 : 0))
      : () => inputs.forEach((input) => (sink += native.exec(input)?.index ?? 0));
  const re2Run =
    how === 'test' ? () => inputs.forEach((input) => (sink += re2.test(input) ? 1 : 0)) : () => inputs.forEach((input) => (sink += re2.exec(input)?.index ?? 0));
  const timings = { native: measure(nativeRun, measureOptions), re2: measure(re2Run, measureOptions) };
  if (sink < 0) throw new Error('unreachable: keeps the calls from being optimised away');
  return { ...timings, ratio: timings.re2.median / timings.native.median };
}

export function runRegexBench(options: RegexBenchOptions = {}): RegexBenchResult {
  const records = options.records ?? 20_000;
  const measureOptions = { runs: options.runs ?? 5, warmup: options.warmup ?? 2 };
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const fabric = readFileSync(join(ROOT, 'profiles', 'fabric.yaml'), 'utf8');
  const rows: RegexBenchRow[] = [];

  const links = linkOutput(records);
  const link = collectorOf(fabric, 'link');
  rows.push({
    name: `fabric link: ^UP$ on flags (${records} links)`,
    calls: links.values.length,
    ...compare('^UP$', links.values, 'exec', {}, measureOptions),
    parse: measure(() => link.parse(links.text), measureOptions),
  });

  const neighbours = neighborOutput(records);
  const neighbor = collectorOf(fabric, 'neighbor');
  rows.push({
    name: `fabric neighbor: (:) on dst (${records} neighbours)`,
    calls: neighbours.values.length,
    ...compare('(:)', neighbours.values, 'exec', {}, measureOptions),
    parse: measure(() => neighbor.parse(neighbours.text), measureOptions),
  });

  const lines = serviceLines(records);
  const service = collectorOf(
    [
      'apiVersion: runbook/v1',
      'kind: Profile',
      'metadata: { name: bench }',
      'collectors:',
      '  - element: service',
      '    command: systemctl list-unit-files',
      '    text:',
      `      match: '${SERVICE_MATCH}'`,
      "      fields: { vrf: { path: '{vrf}', default: default }, enabled: { path: '{state}', map: { enabled: true, '*': false } } }",
    ].join('\n'),
    'service',
  );
  rows.push({
    name: `text collector: named groups per line (${records} lines)`,
    calls: lines.length,
    ...compare(SERVICE_MATCH, lines, 'exec', {}, measureOptions),
    parse: measure(() => service.parse(lines.join('\n')), measureOptions),
  });

  // An expectation over a step's whole kept output (64 KiB head and tail): one call on a long text.
  const output = Array.from({ length: 4000 }, (_, i) => `swp${i} active up 9216`).join('\n');
  rows.push({ name: `expect match: ^swp3999 active (${output.length} chars, multi-line)`, calls: 1, ...compare('^swp3999 active', [output], 'test', { multiline: true }, measureOptions) });
  rows.push({ name: `expect notMatch: "OFFLINE" (${output.length} chars)`, calls: 1, ...compare('"OFFLINE"', [output], 'test', { multiline: true }, measureOptions) });

  write(
    formatTable(
      ['case', 'calls', 'RegExp ms', 're2js ms', 'ratio', 'parse ms', 'regex share'],
      rows.map((r) => [
        r.name,
        String(r.calls),
        formatMs(r.native.median),
        formatMs(r.re2.median),
        `${r.ratio.toFixed(1)}x`,
        r.parse ? formatMs(r.parse.median) : '-',
        r.parse ? `${Math.round((100 * r.re2.median) / r.parse.median)}%` : '-',
      ]),
    ),
  );
  return { rows };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) runRegexBench();
