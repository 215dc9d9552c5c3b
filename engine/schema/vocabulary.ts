// The formats' fixed words, apart from the TypeBox definitions that use them: code that only needs a
// word (the planner, the executor, the loader's rules) then does not load TypeBox at start-up.

/** Annotation keyword: the message shown when a value fails this schema, instead of ajv's own. */
export const HINT = 'x-hint';

export const STEP_KINDS = ['check', 'backup', 'install', 'failover', 'verify', 'snapshot', 'wait', 'reboot', 'approval', 'command', 'put'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Kinds that never change a device: they may run in a dry run and be re-run after a crash. */
export const READ_ONLY_KINDS: readonly StepKind[] = ['check', 'verify', 'snapshot', 'wait'];

/** The operator keys of an expectation; each item of an `expect` list holds exactly one. */
export const EXPECT_OPERATORS = ['exitCode', 'match', 'notMatch', 'contains', 'json', 'number', 'semver', 'snapshotDiff'] as const;
export type ExpectOperator = (typeof EXPECT_OPERATORS)[number];
