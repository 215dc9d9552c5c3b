import { HOST_STATES, STEP_DECISIONS, STEP_STATUSES, STOP_SIGNALS } from '../run/events.js';
import { Type, type Static } from '@sinclair/typebox';
import { ApiVersion, defineMap, defineObject } from './common.js';
import { STEP_KINDS } from './vocabulary.js';

const PLAN_HASH_PATTERN = '^sha256:[0-9a-f]{64}$';
const TIMESTAMP_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$';
const Timestamp = (description: string) => Type.String({ pattern: TIMESTAMP_PATTERN, description: `${description} (ISO 8601, UTC).` });
const Milliseconds = (description: string) => Type.Integer({ minimum: 0, description: `${description}, in milliseconds.` });


export const Approval = defineObject(
  {
    planHash: Type.String({ pattern: PLAN_HASH_PATTERN, description: 'The approved plan hash.' }),
    commit: Type.Union([Type.String(), Type.Null()], { description: 'The git commit HEAD was at when the plan was approved.' }),
    approver: Type.String({
      minLength: 1,
      description: 'Who approved, `Name <email>`. In a report, the git author of the approval commit; in the approval file, as recorded (the gate reads git, not this).',
    }),
    approvedAt: Timestamp('When it was approved'),
    runbook: defineObject(
      {
        name: Type.String({ description: 'Runbook name.' }),
        version: Type.String({ description: 'Runbook version.' }),
      },
      { description: 'The runbook the plan runs.' },
    ),
    approvalCommit: Type.Optional(Type.String({ description: 'In a report: the commit that added the approval file, which the gate relied on.' })),
  },
  { title: 'Approval', description: 'An approval of one plan hash, committed as `approvals/<hex of the hash>.json`.' },
);

export const OutputExcerpt = defineObject(
  {
    text: Type.String({ description: 'The end of the output, secrets replaced by `***`.' }),
    truncated: Type.Boolean({ description: 'Whether lines or bytes were dropped from the start.' }),
    totalLines: Type.Integer({ minimum: 0, description: 'Lines in the whole output the executor kept.' }),
    totalBytes: Type.Integer({ minimum: 0, description: 'Bytes (UTF-8) in the whole output the executor kept.' }),
    droppedBytes: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'Of a long output the executor keeps the first and the last part: the bytes dropped between them (the text shows both parts around a line saying so).',
      }),
    ),
  },
  { description: 'The tail of a command output, truncated and redacted.' },
);

export const ReportStep = defineObject(
  {
    id: Type.String({ description: 'The step id.' }),
    kind: Type.Union(
      STEP_KINDS.map((k) => Type.Literal(k)),
      { description: 'The step kind.' },
    ),
    mutating: Type.Boolean({ description: 'Whether the step changes the host.' }),
    status: Type.Union(
      STEP_STATUSES.map((s) => Type.Literal(s)),
      { description: 'How the step ended.' },
    ),
    message: Type.Optional(Type.String({ description: 'Why it failed or was skipped (redacted).' })),
    errorCode: Type.Optional(Type.String({ description: "The transport's error code, e.g. AUTH_FAILED." })),
    command: Type.Optional(Type.String({ description: 'The command as it ran (redacted).' })),
    attempts: Type.Integer({ minimum: 0, description: 'Attempts made (0 when not run).' }),
    startedAt: Timestamp('When the step started'),
    durationMs: Milliseconds('How long it took, retries included'),
    exitCode: Type.Union([Type.Integer(), Type.Null()], { description: 'Exit code of the last attempt; null when none.' }),
    stdout: Type.Optional(OutputExcerpt),
    stderr: Type.Optional(OutputExcerpt),
    captured: Type.Array(Type.String(), { description: 'Names of the values captured (never the values).' }),
    severity: Type.Optional(Type.Union([Type.Literal('error'), Type.Literal('warning')], { description: 'Pre-checks: error stops the run, warning is reported. Read-only steps: warning reports a failure without failing the host.' })),
    hint: Type.Optional(Type.String({ description: 'Pre-checks: what to do when it fails.' })),
    transfer: Type.Optional(
      defineObject(
        {
          direction: Type.Union([Type.Literal('fetch'), Type.Literal('put')], { description: 'fetch: host to artifact; put: artifact or repository file to host.' }),
          remote: Type.String({ description: 'The file on the host.' }),
          local: Type.String({ description: 'The artifact (`artifacts/<host>/<name>` in the run folder, never committed) or the repository file.' }),
          bytes: Type.Integer({ minimum: 0, description: 'Size of the file.' }),
          sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the file, as fetched or as written and read back.' }),
        },
        { description: 'A file moved by a fetch or put step.' },
      ),
    ),
    hop: Type.Optional(Type.Integer({ minimum: 1, description: 'For a step of `hops`: the hop it ran in (see `hops`).' })),
  },
  { description: 'One step as it ran on one host.' },
);

export const ReportHost = defineObject(
  {
    state: Type.Union(
      HOST_STATES.map((s) => Type.Literal(s)),
      { description: 'How the host ended.' },
    ),
    message: Type.Optional(Type.String({ description: 'Why it failed, was skipped or interrupted (redacted).' })),
    stage: Type.String({ description: 'The stage the host belongs to.' }),
    batch: Type.Integer({ minimum: 0, description: 'Index of its batch within the stage.' }),
    role: Type.Optional(Type.String({ description: 'The host role.' })),
    address: Type.Optional(Type.String({ description: 'Where the host was reached.' })),
    startedAt: Type.Optional(Timestamp('When its steps started')),
    finishedAt: Type.Optional(Timestamp('When its steps (and rollback) finished')),
    durationMs: Type.Optional(Milliseconds('Steps and rollback')),
    prechecks: Type.Array(ReportStep, { description: 'Pre-check results.' }),
    steps: Type.Array(ReportStep, { description: 'Step results, in order.' }),
    rollback: Type.Array(ReportStep, { description: 'Rollback step results, when the host was rolled back.' }),
  },
  { description: 'The outcome of one host.' },
);

const ElementCount = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Records; null when not collected.' });

export const SnapshotComparisonSummary = defineObject(
  {
    before: Type.String({ description: 'Name of the snapshot taken before.' }),
    after: Type.String({ description: 'Name of the snapshot taken after.' }),
    totals: defineObject(
      {
        added: Type.Integer({ minimum: 0, description: 'Records added, all elements.' }),
        removed: Type.Integer({ minimum: 0, description: 'Records removed, all elements.' }),
        changed: Type.Integer({ minimum: 0, description: 'Records changed, all elements.' }),
      },
      { description: 'Totals over all elements.' },
    ),
    notCollected: Type.Array(Type.String(), { description: 'Elements not compared on every host.' }),
    elements: defineMap(
      defineObject(
        {
          status: Type.Union([Type.Literal('compared'), Type.Literal('partial'), Type.Literal('notCollected')], {
            description: 'compared: on every host; partial: on some; notCollected: on none.',
          }),
          before: ElementCount,
          after: ElementCount,
          added: Type.Integer({ minimum: 0, description: 'Records only after.' }),
          removed: Type.Integer({ minimum: 0, description: 'Records only before.' }),
          changed: Type.Integer({ minimum: 0, description: 'Records whose compared fields differ.' }),
        },
        { description: 'Counts for one element type.' },
      ),
      { description: 'Element type to its counts, in model order.' },
    ),
  },
  { description: 'The counts of the snapshot comparison; the snapshot files hold the records.' },
);

export const SnapshotFile = defineObject(
  {
    name: Type.String({ description: 'The snapshot name.' }),
    file: Type.Optional(Type.String({ description: 'Its file, relative to the repository root, when it was saved.' })),
  },
  { description: 'A snapshot taken around the run.' },
);

const StepSectionName = Type.Union([Type.Literal('precheck'), Type.Literal('step'), Type.Literal('rollback')], {
  description: 'Where the step is: pre-checks, steps or rollback.',
});

export const RunHistory = defineObject(
  {
    processes: Type.Integer({ minimum: 1, description: 'Processes that worked on the run: more than 1 when it was resumed.' }),
    interruptions: Type.Array(
      defineObject(
        {
          at: Timestamp('When it stopped'),
          reason: Type.String({ description: 'Why: a signal, an unwritable journal, or a process that ended without finishing.' }),
          signal: Type.Optional(Type.Union(STOP_SIGNALS.map((s) => Type.Literal(s)), { description: 'The signal that stopped it.' })),
          cutOff: Type.Array(
            defineObject(
              { host: Type.String({ description: 'The host.' }), section: StepSectionName, step: Type.String({ description: 'The step id.' }) },
              { description: 'A step that had started and not finished.' },
            ),
            { description: 'The steps it cut off.' },
          ),
        },
        { description: 'A time the run stopped before its end.' },
      ),
      { description: 'Each time the run stopped before its end, in order.' },
    ),
    decisions: Type.Array(
      defineObject(
        {
          at: Timestamp('When it was decided'),
          host: Type.String({ description: 'The host.' }),
          section: StepSectionName,
          step: Type.String({ description: 'The step id.' }),
          decision: Type.Union(STEP_DECISIONS.map((d) => Type.Literal(d)), {
            description: 'done: recorded as finished; failed: handled as a failure; rerun: run again; wait: left for the operator.',
          }),
          by: Type.String({ description: 'The operator (git identity), or `runbook` when a rule or the completion probe decided.' }),
          reason: Type.String({ description: 'Why (redacted).' }),
        },
        { description: 'What was decided about a step a crash or a stop cut off.' },
      ),
      { description: 'Decisions about cut-off steps, in order.' },
    ),
  },
  { description: 'Interruptions and resumes: each stop, and who decided what about the steps it cut off.' },
);

export const RunReport = defineObject(
  {
    apiVersion: ApiVersion,
    kind: Type.Literal('RunReport', { description: 'Always `RunReport`.' }),
    runId: Type.String({ minLength: 1, description: 'The run id; the report files are named after it.' }),
    outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')], { description: 'succeeded when every host succeeded.' }),
    message: Type.Optional(Type.String({ description: 'Why the run failed or stopped (redacted).' })),
    runbook: defineObject(
      {
        name: Type.String({ description: 'Runbook name.' }),
        version: Type.String({ description: 'Runbook version.' }),
        description: Type.Optional(Type.String({ description: 'Runbook description.' })),
      },
      { description: 'The runbook that ran.' },
    ),
    planHash: Type.String({ pattern: PLAN_HASH_PATTERN, description: 'The hash of the plan that ran.' }),
    planCommit: Type.Union([Type.String(), Type.Null()], { description: 'The git commit the plan was made at.' }),
    commit: Type.Union([Type.String(), Type.Null()], { description: 'The git commit HEAD was at when the run started.' }),
    engineVersion: Type.String({ description: 'The engine version that made the plan.' }),
    inputs: defineObject(
      {
        runbook: defineObject(
          { path: Type.String({ description: 'Relative to the repository root.' }), sha256: Type.String({ description: 'SHA-256 of the file.' }) },
          { description: 'The runbook file.' },
        ),
        inventory: defineObject(
          { path: Type.String({ description: 'Relative to the repository root.' }), sha256: Type.String({ description: 'SHA-256 of the file.' }) },
          { description: 'The inventory file.' },
        ),
      },
      { description: 'The input files of the plan.' },
    ),
    params: defineMap(Type.Union([Type.String(), Type.Number(), Type.Boolean()], { description: 'A parameter value.' }), {
      description: 'Parameter values, defaults applied (secrets redacted).',
    }),
    policy: defineObject(
      {
        requireApproval: Type.Boolean({ description: 'An approval was required.' }),
        forbidSelfApproval: Type.Boolean({ description: 'Who changed an input could not approve.' }),
        requireSignedApprovals: Type.Optional(Type.Boolean({ description: 'The approval commit had to be signed.' })),
      },
      { description: 'The approval policy in force.' },
    ),
    approvals: Type.Array(Approval, { description: 'Approvals of the plan hash found at the run.' }),
    allowDirty: Type.Optional(
      Type.Boolean({ description: 'Present and true when the run was admitted with `--allow-dirty`: its runbook or inventory was not as committed at HEAD.' }),
    ),
    runBy: defineObject(
      {
        user: Type.String({ description: 'The operating-system user.' }),
        machine: Type.String({ description: 'The host name of the machine the engine ran on.' }),
        gitName: Type.Optional(Type.String({ description: 'git user.name, when set.' })),
        gitEmail: Type.Optional(Type.String({ description: 'git user.email, when set.' })),
      },
      { description: 'Who ran it.' },
    ),
    startedAt: Timestamp('When the run started'),
    finishedAt: Timestamp('When the run finished'),
    durationMs: Milliseconds('How long the run took'),
    summary: defineMap(Type.Integer({ minimum: 0, description: 'Hosts in this state.' }), {
      description: 'How many hosts ended in each state (states with none are left out).',
      keyPattern: '^[a-z-]+$',
    }),
    stages: Type.Array(
      defineObject(
        {
          name: Type.String({ description: 'The stage name (a role, or `(no role)`).' }),
          batches: Type.Array(Type.Array(Type.String()), { description: 'Host names of each batch, in order.' }),
        },
        { description: 'One stage of the rollout.' },
      ),
      { description: 'Stages in order.' },
    ),
    hosts: defineMap(ReportHost, { description: 'Each targeted host by name, in plan order.', keyPattern: '^.+$' }),
    snapshots: defineObject(
      {
        before: Type.Optional(SnapshotFile),
        after: Type.Optional(SnapshotFile),
        comparison: Type.Optional(SnapshotComparisonSummary),
      },
      { description: 'Snapshots around the run and their comparison.' },
    ),
    history: Type.Optional(RunHistory),
    hops: Type.Optional(
      Type.Array(
        defineObject(
          {
            index: Type.Integer({ minimum: 1, description: 'The hop, from 1.' }),
            value: Type.String({ description: 'Its value (a release, say).' }),
            description: Type.Optional(Type.String({ description: "The runbook's description of the hop, as planned." })),
          },
          { description: 'One hop of the path.' },
        ),
        { description: 'The hops of the path the runbook ran its `hops` steps over, in order; each step of a hop names it in `hop`.' },
      ),
    ),
    limits: defineObject(
      {
        outputLines: Type.Integer({ minimum: 1, description: 'Most lines kept of each output.' }),
        outputBytes: Type.Integer({ minimum: 1, description: 'Most bytes kept of each output.' }),
      },
      { description: 'How outputs were truncated.' },
    ),
  },
  {
    $id: 'https://runbook.dev/schemas/report.schema.json',
    title: 'Run report',
    description: 'What a run did: who, when, which plan, per-host and per-step outcomes, outputs (truncated, redacted), snapshots.',
  },
);

export type Approval = Static<typeof Approval>;
export type OutputExcerpt = Static<typeof OutputExcerpt>;
export type ReportStep = Static<typeof ReportStep>;
export type ReportHost = Static<typeof ReportHost>;
export type SnapshotComparisonSummary = Static<typeof SnapshotComparisonSummary>;
export type RunReport = Static<typeof RunReport>;
export type RunHistoryReport = Static<typeof RunHistory>;
