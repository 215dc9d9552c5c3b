import { Type, type Static } from '@sinclair/typebox';
import { Auth } from './inventory.js';
import { ApiVersion, Labels, defineMap, defineObject } from './common.js';
import { Hops, MAX_HOPS, Precheck, Step } from './runbook.js';
import { STEP_KINDS } from './vocabulary.js';

const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the content, in hex.' });

export const PlanInput = defineObject(
  {
    path: Type.String({ description: 'The file, relative to the repository root (or the working folder outside one).' }),
    sha256: Sha256,
  },
  { description: 'An input file of the plan.' },
);

export const PlannedHost = defineObject(
  {
    address: Type.Optional(Type.String({ description: 'Where to reach the host.' })),
    port: Type.Integer({ description: 'SSH port.' }),
    user: Type.Optional(Type.String({ description: 'SSH user.' })),
    role: Type.Optional(Type.String({ description: 'The host role.' })),
    platform: Type.Optional(Type.String({ description: 'The device platform.' })),
    labels: Labels,
    transport: Type.Union([Type.Literal('ssh'), Type.Literal('local')], { description: 'How commands reach the host.' }),
    hostKey: Type.Optional(Type.String({ description: 'The pinned host key fingerprint.' })),
    auth: Type.Optional(Auth),
  },
  { description: 'How to reach a targeted host; credentials by reference only.' },
);

export const PlannedStep = defineObject(
  {
    id: Type.String({ description: 'The step id.' }),
    kind: Type.Union(
      STEP_KINDS.map((k) => Type.Literal(k)),
      { description: 'The step kind.' },
    ),
    mutating: Type.Boolean({ description: 'Whether the step changes the host (never run in a dry run).' }),
    command: Type.Optional(
      Type.String({ description: 'The command as it will run; `{{name}}` marks a value known only at run time.' }),
    ),
    when: Type.Optional(Type.String({ description: 'The condition, evaluated at run time.' })),
    hop: Type.Optional(Type.Integer({ minimum: 1, description: 'The hop (from 1) this step runs in, for a step of `hops`; its id is `<step id>.hop<N>`.' })),
  },
  { description: 'A step as it will run on one host.' },
);

export const PlannedHop = defineObject(
  {
    index: Type.Integer({ minimum: 1, description: 'The hop, from 1.' }),
    value: Type.String({ description: 'The value of the hop (`{{hop.value}}`).' }),
    description: Type.Optional(Type.String({ description: 'The hops\' description, rendered for this hop.' })),
  },
  { description: 'One hop of the path.' },
);

export const HostPlan = defineObject(
  {
    prechecks: Type.Array(PlannedStep, { description: 'Pre-checks on this host.' }),
    steps: Type.Array(PlannedStep, { description: 'Steps on this host, after `on` filtering.' }),
    rollback: Type.Array(PlannedStep, { description: 'Rollback steps if this host fails.' }),
  },
  { description: 'What runs on one host.' },
);

export const PlanCheck = defineObject(
  {
    code: Type.String({ description: 'Stable code of the check.' }),
    severity: Type.Union([Type.Literal('error'), Type.Literal('warning')], {
      description: 'error: the plan must not be applied; warning: reported.',
    }),
    message: Type.String({ description: 'What was found.' }),
    hint: Type.String({ description: 'What to do about it.' }),
    hosts: Type.Array(Type.String(), { description: 'The hosts concerned.' }),
  },
  { description: 'A finding of the planner about the inventory and strategy.' },
);

export const Stage = defineObject(
  {
    name: Type.String({ description: 'The role of the stage, or `(no role)` for the last stage.' }),
    batches: Type.Array(Type.Array(Type.String(), { description: 'Host names changed at once.' }), {
      description: 'Batches in order.',
    }),
  },
  { description: 'One stage of the rollout.' },
);

export const Plan = defineObject(
  {
    apiVersion: ApiVersion,
    kind: Type.Literal('Plan', { description: 'Always `Plan`.' }),
    hash: Type.String({
      pattern: '^sha256:[0-9a-f]{64}$',
      description: 'SHA-256 of the canonical JSON of the plan without `hash` and `commit`.',
    }),
    commit: Type.Union([Type.String(), Type.Null()], { description: 'The git commit the plan was made at, if any.' }),
    engineVersion: Type.String({ description: 'The engine version that made the plan.' }),
    runbook: defineObject(
      {
        name: Type.String({ description: 'Runbook name.' }),
        version: Type.String({ description: 'Runbook version.' }),
        description: Type.Optional(Type.String({ description: 'Runbook description.' })),
        prechecks: Type.Array(Precheck, { description: 'Pre-check definitions.' }),
        steps: Type.Array(Step, { description: 'Step definitions.' }),
        rollback: Type.Array(Step, { description: 'Rollback step definitions.' }),
        hops: Type.Optional(Hops),
      },
      { description: 'The runbook as written (templates unrendered).' },
    ),
    inputs: defineObject(
      { runbook: PlanInput, inventory: PlanInput },
      { description: 'The input files and their SHA-256.' },
    ),
    params: defineMap(Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
      description: 'Parameter values, defaults applied.',
    }),
    policy: defineObject(
      {
        requireApproval: Type.Boolean({ description: 'An approval is required.' }),
        forbidSelfApproval: Type.Boolean({ description: 'Who changed an input may not approve.' }),
        maxConcurrentRuns: Type.Integer({ description: 'Runs holding locks at once.' }),
        requireSignedApprovals: Type.Optional(Type.Boolean({ description: 'The approval commit must be signed; present when true.' })),
        allowedSignersFiles: Type.Optional(
          Type.Array(Type.String(), { description: 'The allowed-signers files the policies name; a signature must verify against each.' }),
        ),
      },
      { description: 'The stricter of the runbook and inventory policies.' },
    ),
    strategy: defineObject(
      {
        order: Type.Array(Type.String(), { description: 'Roles in stage order.' }),
        batchSize: Type.Integer({ description: 'Hosts per batch.' }),
        maxFailures: Type.Integer({ description: 'Failed hosts tolerated.' }),
        maxParallel: Type.Integer({ description: 'Hosts worked on at once.' }),
        rollbackOnFailure: Type.Boolean({ description: 'Roll failed hosts back.' }),
        isolation: Type.Optional(Type.Union([Type.Literal('error'), Type.Literal('warning')], { description: 'Batches cut to isolate no neighbour; present when the runbook asks.' })),
        snapshot: defineObject(
          {
            before: Type.Boolean({ description: 'Snapshot before.' }),
            after: Type.Boolean({ description: 'Snapshot after.' }),
            profile: Type.String({ description: 'Collection profile.' }),
          },
          { description: 'Snapshots around the run.' },
        ),
      },
      { description: 'The effective strategy, defaults applied.' },
    ),
    hosts: defineMap(PlannedHost, { description: 'Targeted hosts by name.', keyPattern: '^.+$' }),
    stages: Type.Array(Stage, { description: 'Stages in order.' }),
    hostPlans: defineMap(HostPlan, { description: 'What runs on each host.', keyPattern: '^.+$' }),
    checks: Type.Array(PlanCheck, { description: 'Planner findings.' }),
    topology: Type.Optional(
      defineObject(
        {
          snapshot: Type.Union([Type.String(), Type.Null()], { description: 'The committed snapshot whose LLDP records gave the links; null when none was available.' }),
          createdAt: Type.Optional(Type.String({ description: 'When that snapshot was taken.' })),
          links: Type.Optional(Type.Integer({ minimum: 0, description: 'How many LLDP links between inventory hosts it holds.' })),
        },
        { description: 'The topology `strategy.isolation` cut the batches by.' },
      ),
    ),
    hops: Type.Optional(Type.Array(PlannedHop, { description: 'The hops of `runbook.hops`, in order, resolved at plan time.', minItems: 1, maxItems: MAX_HOPS })),
  },
  {
    $id: 'https://runbook.dev/schemas/plan.schema.json',
    title: 'Plan',
    description: 'A dry-run plan: everything that will run, in order, with a content hash.',
  },
);

export type Plan = Static<typeof Plan>;
export type PlannedStep = Static<typeof PlannedStep>;
export type PlannedHop = Static<typeof PlannedHop>;
export type PlanCheck = Static<typeof PlanCheck>;
export type HostPlan = Static<typeof HostPlan>;
export type PlannedHost = Static<typeof PlannedHost>;
