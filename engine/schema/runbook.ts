import { Type, type Static } from '@sinclair/typebox';
import {
  ApiVersion,
  IDENTIFIER_PATTERN,
  Labels,
  NAME_PATTERN,
  Policy,
  SEMVER_PATTERN,
  defineDuration,
  defineMap,
  defineObject,
} from './common.js';
import { HINT, STEP_KINDS } from './vocabulary.js';


const Template = (description: string, examples?: string[]) =>
  Type.String({ description: `${description} Handlebars template.`, ...(examples ? { examples } : {}) });

const Regex = (description: string) =>
  Type.String({ description: `${description} A regular expression in the RE2 dialect (no lookaround or backreferences).`, minLength: 1 });

export const JsonExpect = defineObject(
  {
    path: Type.String({
      description: 'Path into the JSON output: dot-separated keys and [index], e.g. `state` or `peers[0].state`.',
      minLength: 1,
      examples: ['state', 'nodes[0].state'],
    }),
    equals: Type.Optional(
      Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()], {
        description: 'The value at `path` equals this (templates allowed in strings).',
      }),
    ),
    in: Type.Optional(
      Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]), {
        description: 'The value at `path` is one of these.',
        minItems: 1,
      }),
    ),
    matches: Type.Optional(Regex('The value at `path`, as a string, matches this.')),
    gte: Type.Optional(Type.Union([Type.Number(), Type.String()], { description: 'The value at `path` is at least this number.' })),
    lte: Type.Optional(Type.Union([Type.Number(), Type.String()], { description: 'The value at `path` is at most this number.' })),
  },
  { description: 'Parse the output as JSON and test one value in it.', examples: [{ path: 'state', equals: 'IDLE' }] },
);

export const NumberExpect = defineObject(
  {
    value: Type.Optional(Template('The number to test; the trimmed output when absent.', ['{{freeKb}}'])),
    gte: Type.Optional(Type.Number({ description: 'At least this.' })),
    lte: Type.Optional(Type.Number({ description: 'At most this.' })),
    between: Type.Optional(
      Type.Array(Type.Number(), { description: 'Within this closed range [low, high].', minItems: 2, maxItems: 2 }),
    ),
  },
  { description: 'Test a number.', examples: [{ value: '{{freeKb}}', gte: 2000000 }] },
);

export const SemverExpect = defineObject(
  {
    value: Template('The version to test.', ['{{current}}']),
    gte: Type.Optional(Template('The version is at least this.')),
    lt: Type.Optional(Template('The version is lower than this.')),
    sameMajorAs: Type.Optional(Template('The version has the same major number as this.')),
    sameMinorAs: Type.Optional(Template('The version has the same major and minor numbers as this.')),
  },
  {
    description: 'Compare semantic versions.',
    examples: [{ value: '{{current}}', sameMajorAs: '{{params.targetVersion}}' }],
  },
);

const Percent = Type.String({
  pattern: '^[0-9]+(\\.[0-9]+)?%$',
  description: 'A share of the records before, e.g. `5%`.',
  [HINT]: 'must be a percentage like 5%',
});

export const SnapshotDiffExpect = defineObject(
  {
    before: Type.Optional(Template('The snapshot before; `<run-id>-before` when absent.')),
    after: Type.Optional(Template('The snapshot after; `<run-id>-after` when absent.')),
    noRemoved: Type.Optional(
      Type.Array(Type.String(), { description: 'Element types that must lose no record, e.g. `[bgp, lldp]`.' }),
    ),
    noAdded: Type.Optional(Type.Array(Type.String(), { description: 'Element types that must gain no record.' })),
    maxChanged: Type.Optional(
      defineMap(
        Type.Union([Percent, Type.Integer({ minimum: 0, description: 'A number of records.' })], {
          description: 'The most records of this element type that may change.',
          [HINT]: 'must be a count like 3 or a percentage like 5%',
        }),
        {
          description: 'Element type to the most records that may change, as a count or a percentage.',
          examples: [{ route: '5%' }],
        },
      ),
    ),
  },
  {
    description: 'Assert on the comparison of the snapshots taken before and after the change.',
    examples: [{ noRemoved: ['bgp', 'lldp'], maxChanged: { route: '5%' } }],
  },
);

export const Expect = defineObject(
  {
    exitCode: Type.Optional(
      Type.Union([Type.Integer(), Type.Array(Type.Integer(), { minItems: 1 })], {
        description: 'The command exits with this code (or one of these codes).',
        examples: [0, [0, 1]],
      }),
    ),
    match: Type.Optional(Regex('The output matches this (a template: `{{escapeRegex x}}` puts a value in literally).')),
    notMatch: Type.Optional(Regex('The output does not match this (a template, as for `match`).')),
    contains: Type.Optional(Template('The output contains this text.')),
    json: Type.Optional(JsonExpect),
    number: Type.Optional(NumberExpect),
    semver: Type.Optional(SemverExpect),
    snapshotDiff: Type.Optional(SnapshotDiffExpect),
    everyLine: Type.Optional(
      Type.Boolean({ description: 'With `match`/`notMatch`: test each non-empty line rather than the whole output.' }),
    ),
    value: Type.Optional(
      Template('With `match`, `notMatch` or `contains`: test this text instead of the output, such as values captured from it or params.', [
        'MSM-A runs {{versionA}}, MSM-B runs {{versionB}}',
      ]),
    ),
    stream: Type.Optional(
      Type.Union([Type.Literal('stdout'), Type.Literal('stderr')], {
        description: 'Which output `match`, `notMatch`, `contains`, `json` and `number` read (default stdout).',
      }),
    ),
  },
  {
    description: 'One expectation: exactly one operator, with its modifiers.',
    examples: [{ exitCode: 0 }, { match: '^active$', everyLine: true }, { json: { path: 'state', equals: 'IDLE' } }],
  },
);

export const Capture = defineObject(
  {
    regex: Type.Optional(Regex('Capture the first group (or the whole match) of this.')),
    json: Type.Optional(
      Type.String({ description: 'Capture the value at this path of the JSON output.', examples: ['state'] }),
    ),
    stream: Type.Optional(
      Type.Union([Type.Literal('stdout'), Type.Literal('stderr')], { description: 'Which output to read (default stdout).' }),
    ),
    secret: Type.Optional(
      Type.Boolean({ description: 'Redact the value from plans, journals, reports and logs.' }),
    ),
  },
  { description: 'How to capture one value from the output: `regex` or `json`.', examples: [{ regex: 'DISTRIB_RELEASE=(\\S+)' }] },
);

export const HostSelector = defineObject(
  {
    role: Type.Optional(Type.String({ description: 'Hosts with this role.', examples: ['secondary'] })),
    labels: Type.Optional(Labels),
    hosts: Type.Optional(Type.Array(Type.String(), { description: 'These hosts by name.', minItems: 1 })),
  },
  { description: 'Which hosts of the batch run the step; all given conditions must hold.', minProperties: 1 },
);

export const Answer = defineObject(
  {
    prompt: Regex('A prompt printed by the command.'),
    send: Template('What to type in answer (a newline is added).', ['y']),
  },
  { description: 'An answer to an interactive prompt.', examples: [{ prompt: 'Are you sure.*\\(y/n\\)', send: 'y' }] },
);

export const Reconnect = defineObject(
  {
    timeout: Type.Optional(defineDuration('How long the host may take to come back.')),
    delay: Type.Optional(defineDuration('Wait this long before the first reconnection attempt.')),
    interval: Type.Optional(defineDuration('Time between reconnection attempts.')),
    check: Type.Optional(Template('A command that must exit 0 once the host is back.', ['uptime'])),
  },
  { description: 'For `kind: reboot` (and `kind: failover` that drops the session): wait for the host to go away and come back.' },
);

const stepProperties = {
  id: Type.String({
    pattern: IDENTIFIER_PATTERN,
    description: 'A name unique within the runbook; reports and the journal use it.',
    examples: ['install'],
  }),
  kind: Type.Optional(
    Type.Union(
      STEP_KINDS.map((kind) => Type.Literal(kind)),
      {
        description:
          'What the step does. check, verify, snapshot and wait are read-only; backup, install, failover, reboot and command change the host; approval pauses for an operator. Default: check in prechecks, command elsewhere.',
      },
    ),
  ),
  description: Type.Optional(Type.String({ description: 'What the step is for, shown in plans and reports.' })),
  run: Type.Optional(Template('The shell command to run on the host.', ['systemctl is-active frr'])),
  on: Type.Optional(HostSelector),
  when: Type.Optional(
    Template('Run the step only when this renders to `true`.', ["{{semverLt current params.targetVersion}}"]),
  ),
  timeout: Type.Optional(defineDuration('The longest the command (or the whole `until` polling) may take.')),
  retries: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 5, description: 'Extra attempts after a failure (never after an authentication failure).' }),
  ),
  backoff: Type.Optional(defineDuration('Delay before the first retry; it doubles with each further retry.')),
  until: Type.Optional(
    Type.Array(Expect, { description: 'Poll the command until all of these hold, within `timeout`.', minItems: 1 }),
  ),
  interval: Type.Optional(defineDuration('Time between polls of `until`.')),
  expect: Type.Optional(Type.Array(Expect, { description: 'All of these must hold for the step to succeed.' })),
  capture: Type.Optional(
    defineMap(Capture, {
      description: 'Values to capture from the output, by name; later steps on the same host use them as `{{name}}`.',
    }),
  ),
  answer: Type.Optional(Type.Array(Answer, { description: 'Answers to interactive prompts; the command runs in a terminal.' })),
  onFailure: Type.Optional(
    Type.Union([Type.Literal('stop'), Type.Literal('continue'), Type.Literal('rollback')], {
      description: 'On failure: stop the host (default), continue with its next step, or roll it back.',
    }),
  ),
  reconnect: Type.Optional(Reconnect),
  message: Type.Optional(Template('For `kind: approval`: what the operator is asked.')),
  idempotent: Type.Optional(
    Type.Boolean({ description: 'Safe to run twice: may be re-run when a crash interrupted it.' }),
  ),
  profile: Type.Optional(Type.String({ description: 'For `kind: snapshot`: the collection profile.', examples: ['fabric'] })),
  snapshot: Type.Optional(
    Template('For `kind: snapshot`: the snapshot name; `<run-id>-<step id>` when absent.'),
  ),
  note: Type.Optional(Template('For `kind: snapshot`: a note kept with the snapshot, as `snapshot create --note`.', ['before the VLAN change'])),
  remote: Type.Optional(
    Template('For `kind: fetch` and `kind: put`: the absolute path of the file on the host, read or written over SFTP (a put reads it back).', [
      '/var/backups/config.tgz',
      '/upgrade/qumulo_core_{{hop.value}}.qimg',
    ]),
  ),
  artifact: Type.Optional(
    Template(
      'For `kind: fetch`: the name the file is saved under in the run\'s artifacts (`.runbook/runs/<run-id>/artifacts/<host>/<name>`; default the remote file\'s name). For `kind: put`: the artifact of this host, fetched earlier in the run, to write to `remote`.',
      ['config-backup.tgz'],
    ),
  ),
  file: Type.Optional(
    Template('For `kind: put`: the file of the repository (relative to its root, never outside it) to write to `remote`; params and `hop.*` only.', [
      'images/qumulo_core_{{hop.value}}.qimg',
    ]),
  ),
};

export const CompletionProbe = defineObject(
  {
    run: Template('A read-only command that tells whether the step completed.', ['show switch']),
    expect: Type.Optional(
      Type.Array(Expect, { description: 'All of these hold when the step completed (without an `exitCode` item, the command must exit 0).' }),
    ),
    timeout: Type.Optional(defineDuration('The longest the probe may take.')),
  },
  {
    description:
      'Only used when a crash or a stop cut this changing step off: on resume the probe runs first. If it passes the step is recorded done; if not, an `idempotent` step runs again, any other waits for the operator (`--mark-done`, `--mark-failed`, `--rerun-interrupted`).',
    examples: [{ run: 'cat /etc/lsb-release', expect: [{ contains: 'DISTRIB_RELEASE={{params.targetVersion}}' }] }],
  },
);

export const Step = defineObject(
  {
    ...stepProperties,
    completedWhen: Type.Optional(CompletionProbe),
    severity: Type.Optional(
      Type.Union([Type.Literal('error'), Type.Literal('warning')], {
        description:
          'For read-only steps (check, verify, wait): error (default) fails the host; warning reports the failure and the host goes on and may still succeed, as post-checks that only warn.',
      }),
    ),
    hint: Type.Optional(Type.String({ description: 'What the operator should do when the step fails.' })),
  },
  {
    description: 'One step, run on each targeted host.',
    examples: [{ id: 'install', kind: 'install', run: 'onie-install -a -i {{quote params.image}}', timeout: '20m', retries: 2 }],
  },
);

export const Precheck = defineObject(
  {
    ...stepProperties,
    severity: Type.Optional(
      Type.Union([Type.Literal('error'), Type.Literal('warning')], {
        description: 'error (default) stops the run before any change; warning is reported and the run goes on.',
      }),
    ),
    hint: Type.Optional(Type.String({ description: 'What the operator should do when the check fails.' })),
    previousAttempts: Type.Optional(
      defineObject(
        {
          steps: Type.Array(Type.String({ pattern: IDENTIFIER_PATTERN }), {
            description: 'Step ids (main or rollback) of this runbook; the check fails when one failed on the host in its last run.',
            minItems: 1,
          }),
        },
        {
          description:
            'Instead of a command: read the run reports committed in reports/runs/ and check the last earlier run of this runbook that worked on the host.',
          examples: [{ steps: ['fetch-backup'] }],
        },
      ),
    ),
  },
  { description: 'A read-only check run on every target before any change.' },
);

/** The most hops a path may have: each hop repeats its steps, and a plan lists them all. */
export const MAX_HOPS = 100;

export const Hops = defineObject(
  {
    over: Type.Union(
      [
        Type.Array(Type.String({ minLength: 1, description: 'One hop, e.g. a release to install.' }), {
          description: 'The hops, in order.',
          minItems: 1,
          maxItems: MAX_HOPS,
        }),
        Template('A comma-separated list rendered at plan time from params only, e.g. `{{params.path}}`; blanks around items and empty items are dropped.', ['{{params.path}}']),
      ],
      {
        description: 'The hops, in order: a list, or a template over params that renders a comma-separated list at plan time.',
        [HINT]: 'must be a list of values or a template such as {{params.path}} rendering a comma-separated list',
      },
    ),
    firstStep: Type.String({ pattern: IDENTIFIER_PATTERN, description: 'The id of the first step (under `steps`) run once per hop.' }),
    lastStep: Type.String({ pattern: IDENTIFIER_PATTERN, description: 'The id of the last step run once per hop; the steps from `firstStep` to it form the hop.' }),
    description: Type.Optional(
      Template('What one hop does and what it means for the hosts and their clients, shown in the plan and the report for each hop; params and `hop.*` only.'),
    ),
  },
  {
    description:
      'Run the steps from `firstStep` to `lastStep` once per hop of a list, in order (an upgrade path through intermediate releases, say). In those steps `{{hop.value}}`, `{{hop.index}}` (from 1) and `{{hop.count}}` name the hop; each hop has its own captures, plan and report section and journal entries (step ids `<id>.hop<N>`); a hop that fails stops the path there.',
    examples: [{ over: '{{params.path}}', firstStep: 'prepare', lastStep: 'verify', description: 'Install release {{hop.value}}' }],
  },
);

export const Param = defineObject(
  {
    type: Type.Optional(
      Type.Union([Type.Literal('string'), Type.Literal('number'), Type.Literal('integer'), Type.Literal('boolean')], {
        description: 'The value type (default string).',
      }),
    ),
    description: Type.Optional(Type.String({ description: 'What the parameter means.' })),
    required: Type.Optional(Type.Boolean({ description: 'The plan is refused without a value.' })),
    pattern: Type.Optional(Regex('A string value must match this.')),
    enum: Type.Optional(
      Type.Array(Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        description: 'The allowed values.',
        minItems: 1,
      }),
    ),
    default: Type.Optional(
      Type.Union([Type.String(), Type.Number(), Type.Boolean()], {
        description: 'The value when none is given; a string may be a template over other params.',
      }),
    ),
  },
  { description: 'A declared parameter.', examples: [{ type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+$', required: true }] },
);

export const Targets = defineObject(
  {
    group: Type.Optional(Type.String({ description: 'Hosts in this inventory group.', examples: ['fabric'] })),
    hosts: Type.Optional(Type.Array(Type.String(), { description: 'These hosts by name.', minItems: 1 })),
    labels: Type.Optional(Labels),
  },
  {
    description: 'Which inventory hosts the runbook changes; all given selectors must hold.',
    minProperties: 1,
    examples: [{ group: 'fabric' }, { labels: { site: 'ams' } }],
  },
);

export const SnapshotStrategy = defineObject(
  {
    before: Type.Optional(Type.Boolean({ description: 'Snapshot the targets before the first change.' })),
    after: Type.Optional(Type.Boolean({ description: 'Snapshot the targets after the last step, and compare.' })),
    profile: Type.Optional(Type.String({ description: 'The collection profile.', examples: ['fabric'] })),
  },
  { description: 'Snapshots around the run, named `<run-id>-before` and `<run-id>-after`.' },
);

export const Strategy = defineObject(
  {
    order: Type.Optional(
      Type.Array(Type.String(), {
        description: 'Stages by role, in order; hosts with no listed role form a last stage.',
        examples: [['spine', 'leaf']],
      }),
    ),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, description: 'Hosts changed at once within a stage (default 1).' })),
    maxFailures: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Failed hosts tolerated before the run stops (default 0).' }),
    ),
    maxParallel: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Most hosts worked on at once across the run (default: the batch size).' }),
    ),
    rollbackOnFailure: Type.Optional(Type.Boolean({ description: 'Run the `rollback` steps on a host that fails.' })),
    snapshot: Type.Optional(SnapshotStrategy),
    isolation: Type.Optional(
      Type.Union([Type.Literal('error'), Type.Literal('warning')], {
        description:
          'Cut batches so that none leaves a host outside it with no LLDP neighbour up in a role it depends on (a leaf with both its spines in one batch), by the latest committed snapshot. A host that isolates a neighbour on its own is reported with this severity (error: the plan must not be applied).',
      }),
    ),
  },
  { description: 'How the targets are ordered and batched.' },
);

export const Metadata = defineObject(
  {
    name: Type.String({ pattern: NAME_PATTERN, description: 'The runbook name: lower case, digits and dashes.', examples: ['fabric-upgrade'] }),
    version: Type.String({
      pattern: SEMVER_PATTERN,
      description: "The runbook's own semantic version; plans and reports record it.",
      examples: ['1.3.0'],
      [HINT]: 'must be a semantic version like 1.3.0',
    }),
    description: Type.Optional(Type.String({ description: 'One line on what the runbook does.' })),
  },
  { description: 'Name, version and description.' },
);

export const Runbook = defineObject(
  {
    $schema: Type.Optional(Type.String({ description: 'The JSON Schema of this file, for editors.' })),
    apiVersion: ApiVersion,
    kind: Type.Literal('Runbook', { description: 'Always `Runbook`.' }),
    metadata: Metadata,
    params: Type.Optional(defineMap(Param, { description: 'Declared parameters, used as `{{params.name}}`.' })),
    targets: Targets,
    strategy: Type.Optional(Strategy),
    policy: Type.Optional(Policy),
    prechecks: Type.Optional(Type.Array(Precheck, { description: 'Read-only checks run on every target before any change.' })),
    steps: Type.Array(Step, { description: 'The procedure, run on each host in order.', minItems: 1 }),
    hops: Type.Optional(Hops),
    rollback: Type.Optional(Type.Array(Step, { description: 'Steps that restore a failed host.' })),
  },
  {
    $id: 'https://runbook.dev/schemas/runbook.schema.json',
    title: 'Runbook',
    description: 'A versioned procedure of check, backup, install, failover and verify steps.',
  },
);

export type Runbook = Static<typeof Runbook>;
export type Step = Static<typeof Step>;
export type CompletionProbe = Static<typeof CompletionProbe>;
export type Precheck = Static<typeof Precheck>;
export type Expect = Static<typeof Expect>;
export type Capture = Static<typeof Capture>;
export type Param = Static<typeof Param>;
export type Hops = Static<typeof Hops>;
export type HostSelector = Static<typeof HostSelector>;
export type Strategy = Static<typeof Strategy>;
export type SnapshotDiffExpect = Static<typeof SnapshotDiffExpect>;
