// Validation cost against the bare YAML parse: `npx tsx bench/validate/index.ts`.
// Target (issue 2): loading a document (parse + schema + rules) costs at most 3x `yaml.parse`. A valid file is
// parsed by the js-yaml fast path; the `positions` phase is what `yaml`'s positional parse costs a file with a problem.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { checkInventoryRules } from '../../engine/load/check-inventory.js';
import { checkRunbookRules } from '../../engine/load/check-runbook.js';
import { formatDiagnostic } from '../../engine/load/diagnostic.js';
import { loadDocument } from '../../engine/load/load-document.js';
import { validateAgainstSchema } from '../../engine/load/validate-schema.js';
import { parseYamlSource, parseYamlSourceWithPositions } from '../../engine/load/yaml-source.js';
import { formatMs, formatTable, measure, type Timing } from '../lib/timing.js';

export interface ValidateBenchOptions {
  hosts?: number;
  steps?: number;
  runs?: number;
  warmup?: number;
  write?: (line: string) => void;
}

export interface ValidateBenchRow {
  name: string;
  bytes: number;
  parse: Timing;
  /** `yaml.parse` without its duplicate-key check, the least a parse can cost. */
  parseNoDuplicateCheck: Timing;
  load: Timing;
  /** The phases of `load`, measured apart. */
  phases: { source: Timing; positions: Timing; schema: Timing; rules: Timing };
  /** Median load time over median parse time. */
  ratio: number;
}

export interface ValidateBenchResult {
  rows: ValidateBenchRow[];
  /** Both documents: median load over median parse. */
  ratio: number;
  target: number;
}

const TARGET_RATIO = 3;
const ROLES = ['spine', 'leaf', 'border', 'storage'] as const;

/** A production-sized inventory: every host with address, role, groups and labels; some with ports, keys and pinned host keys. */
export function generateInventory(hosts: number): string {
  const lines = [
    'apiVersion: runbook/v1',
    'kind: Inventory',
    'metadata:',
    '  name: datacentre',
    '  description: Generated for the validation benchmark',
    'policy: { requireApproval: true, forbidSelfApproval: true, maxConcurrentRuns: 3 }',
    'defaults:',
    '  user: cumulus',
    '  platform: cumulus',
    '  auth: { passwordEnv: FABRIC_PASSWORD }',
    'groups:',
    '  fabric: { description: All switches }',
    '  storage: { description: Storage nodes }',
    '  canary: { description: Hosts changed first }',
    'hosts:',
  ];
  for (let i = 0; i < hosts; i++) {
    const role = ROLES[i % ROLES.length]!;
    const name = `${role}${String(i).padStart(5, '0')}`;
    lines.push(`  ${name}:`);
    lines.push(`    address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    lines.push(`    role: ${role}`);
    lines.push(`    groups: [${role === 'storage' ? 'storage' : 'fabric'}${i % 50 === 0 ? ', canary' : ''}]`);
    lines.push(`    labels: { site: ${['ams', 'fra', 'lon'][i % 3]}, rack: r${i % 40}, pod: 'p${i % 7}' }`);
    if (i % 10 === 0) lines.push(`    port: ${2200 + (i % 100)}`);
    if (i % 5 === 0) lines.push(`    hostKey: SHA256:${fingerprint(i)}`);
    if (i % 20 === 0) lines.push('    auth: { keyFile: keys/ops_ed25519 }');
  }
  return `${lines.join('\n')}\n`;
}

function fingerprint(seed: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = '';
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < 43; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += alphabet[x % 64];
  }
  return out;
}

/** A long procedure using what real runbooks use: templates, captures, expectations, polling, answers, rollback. */
export function generateRunbook(steps: number): string {
  const lines = [
    'apiVersion: runbook/v1',
    'kind: Runbook',
    'metadata:',
    '  name: long-upgrade',
    '  version: 4.2.0',
    '  description: Generated for the validation benchmark',
    'params:',
    "  targetVersion: { type: string, pattern: '^\\d+\\.\\d+\\.\\d+$', required: true }",
    "  image: { type: string, default: 'cumulus-linux-{{params.targetVersion}}.bin' }",
    '  minFreeKb: { type: integer, default: 2000000 }',
    '  mode: { type: string, enum: [instant, platform], default: instant }',
    'targets: { group: fabric }',
    'strategy:',
    '  order: [spine, leaf, border]',
    '  batchSize: 4',
    '  maxFailures: 1',
    '  rollbackOnFailure: true',
    '  snapshot: { before: true, after: true, profile: fabric }',
    'prechecks:',
    '  - id: current-version',
    '    run: cat /etc/lsb-release',
    "    capture: { current: { regex: 'DISTRIB_RELEASE=(\\S+)' } }",
    "    expect: [{ semver: { value: '{{current}}', sameMajorAs: '{{params.targetVersion}}' } }]",
    '    hint: Lifecycle upgrades stay within one major release.',
    '  - id: free-space',
    '    run: df -k --output=avail /var | tail -1',
    "    capture: { freeKb: { regex: '(\\d+)' } }",
    "    expect: [{ number: { value: '{{freeKb}}', gte: 2000000 } }]",
    '    severity: warning',
    'steps:',
  ];
  const shapes: Array<(i: number) => string[]> = [
    (i) => [
      `  - id: backup-${i}`,
      '    kind: backup',
      `    run: 'tar czf /var/backups/pre-${i}-{{host.name}}.tgz /etc'`,
      '    expect: [{ exitCode: 0 }]',
    ],
    (i) => [
      `  - id: status-${i}`,
      '    kind: check',
      '    run: qq upgrade_status --json',
      `    capture: { state${i}: { json: state }, error${i}: { json: error_state } }`,
      '    expect:',
      "      - json: { path: state, in: [IDLE, UPGRADE_PREPARED] }",
      "      - json: { path: is_blocked, equals: false }",
    ],
    (i) => [
      `  - id: install-${i}`,
      '    kind: install',
      "    run: 'onie-install -a -i {{quote params.image}} --mode {{quote params.mode}}'",
      '    timeout: 20m',
      '    retries: 2',
      '    backoff: 30s',
      '    onFailure: rollback',
      "    answer: [{ prompt: 'Are you sure.*\\(y/n\\)', send: 'y' }]",
    ],
    (i) => [
      `  - id: wait-${i}`,
      '    kind: wait',
      "    run: 'show switch | grep -c \"In Sync\"'",
      "    until: [{ match: 'In Sync', everyLine: true }, { number: { gte: 1 } }]",
      '    interval: 10s',
      '    timeout: 15m',
    ],
    (i) => [
      `  - id: verify-${i}`,
      '    kind: verify',
      `    when: '{{semverLt current params.targetVersion}}'`,
      '    run: systemctl is-active frr lldpd',
      '    on: { role: leaf }',
      "    expect: [{ exitCode: [0, 3] }, { match: '^active$', everyLine: true }, { notMatch: 'failed', stream: stderr }]",
    ],
  ];
  for (let i = 0; i < steps; i++) lines.push(...shapes[i % shapes.length]!(i));
  lines.push(
    'rollback:',
    "  - id: restore",
    "    run: 'onie-install -a -i /var/images/cumulus-linux-{{current}}.bin && reboot'",
    '    idempotent: true',
  );
  return `${lines.join('\n')}\n`;
}

export function runValidateBench(options: ValidateBenchOptions = {}): ValidateBenchResult {
  const { hosts = 10_000, steps = 50, runs = 7, warmup = 2, write = (line: string) => console.log(line) } = options;
  // Written and read back so the measured texts are exactly what a user's files would hold.
  const folder = mkdtempSync(join(tmpdir(), 'runbook-bench-validate-'));
  let documents: Array<{ name: string; kind: 'Inventory' | 'Runbook'; file: string; text: string }>;
  try {
    const inventoryFile = join(folder, 'inventory.yaml');
    const runbookFile = join(folder, 'runbook.yaml');
    writeFileSync(inventoryFile, generateInventory(hosts));
    writeFileSync(runbookFile, generateRunbook(steps));
    documents = [
      { name: `inventory (${hosts} hosts)`, kind: 'Inventory', file: inventoryFile, text: readFileSync(inventoryFile, 'utf8') },
      { name: `runbook (${steps} steps)`, kind: 'Runbook', file: runbookFile, text: readFileSync(runbookFile, 'utf8') },
    ];
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }

  // A benchmark of the happy path is only meaningful if the generated documents are valid.
  for (const doc of documents) {
    const loaded = loadDocument(doc.file, doc.text);
    if (!loaded.ok) throw new Error(`generated ${doc.name} is invalid:\n${loaded.diagnostics.map(formatDiagnostic).join('\n')}`);
  }

  const rows: ValidateBenchRow[] = documents.map((doc) => {
    const parseTiming = measure(() => parse(doc.text), { runs, warmup });
    const parseNoDuplicateCheck = measure(() => parse(doc.text, { uniqueKeys: false }), { runs, warmup });
    const loadTiming = measure(() => loadDocument(doc.file, doc.text), { runs, warmup });
    const source = parseYamlSource(doc.file, doc.text);
    const rules = doc.kind === 'Inventory' ? checkInventoryRules : checkRunbookRules;
    const phases = {
      source: measure(() => parseYamlSource(doc.file, doc.text), { runs, warmup }),
      positions: measure(() => parseYamlSourceWithPositions(doc.file, doc.text), { runs, warmup }),
      schema: measure(() => validateAgainstSchema(source, doc.kind), { runs, warmup }),
      rules: measure(() => rules(source), { runs, warmup }),
    };
    return {
      name: doc.name,
      bytes: doc.text.length,
      parse: parseTiming,
      parseNoDuplicateCheck,
      load: loadTiming,
      phases,
      ratio: loadTiming.median / parseTiming.median,
    };
  });
  // Both documents: the sums of their medians and of their minimums (measuring them together again would double the run time).
  const sum = (pick: (r: ValidateBenchRow) => number) => rows.reduce((total, r) => total + pick(r), 0);
  const both = {
    parse: { median: sum((r) => r.parse.median), min: sum((r) => r.parse.min) },
    load: { median: sum((r) => r.load.median), min: sum((r) => r.load.min) },
  };
  const ratio = both.load.median / both.parse.median;

  write(`validate benchmark: median and min of ${runs} runs after ${warmup} warm-up runs, milliseconds (node ${process.version})`);
  write('');
  write(
    formatTable(
      ['document', 'KiB', 'parse med', 'parse min', 'load med', 'load min', 'load/parse'],
      [
        ...rows.map((r) => [
          r.name,
          (r.bytes / 1024).toFixed(0),
          formatMs(r.parse.median),
          formatMs(r.parse.min),
          formatMs(r.load.median),
          formatMs(r.load.min),
          `${r.ratio.toFixed(2)}x`,
        ]),
        [
          'both (sums)',
          (rows.reduce((sum, r) => sum + r.bytes, 0) / 1024).toFixed(0),
          formatMs(both.parse.median),
          formatMs(both.parse.min),
          formatMs(both.load.median),
          formatMs(both.load.min),
          `${ratio.toFixed(2)}x`,
        ],
      ],
    ),
  );
  write('');
  write('phases of load (median ms) and the parse without yaml\'s duplicate-key check:');
  write('');
  write(
    formatTable(
      ['document', 'parse', 'schema', 'rules', 'parse with positions', 'parse, no dup check', 'load/that'],
      rows.map((r) => [
        r.name,
        formatMs(r.phases.source.median),
        formatMs(r.phases.schema.median),
        formatMs(r.phases.rules.median),
        formatMs(r.phases.positions.median),
        formatMs(r.parseNoDuplicateCheck.median),
        `${(r.load.median / r.parseNoDuplicateCheck.median).toFixed(2)}x`,
      ]),
    ),
  );
  write('');
  write(
    `load/parse ${ratio.toFixed(2)}x (target: at most ${TARGET_RATIO}x) ${ratio <= TARGET_RATIO ? 'OK' : 'ABOVE TARGET'}; ` +
      'parse = yaml.parse, load = loadDocument (fast parse + schema + rules; `yaml` with positions only for a file with a problem)',
  );
  return { rows, ratio, target: TARGET_RATIO };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runValidateBench();
}
