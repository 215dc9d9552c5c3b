// The formats' fixed words, apart from the TypeBox definitions that use them: code that only needs a
// word (the planner, the executor, the loader's rules) then does not load TypeBox at start-up.

/** Annotation keyword: the message shown when a value fails this schema, instead of ajv's own. */
export const HINT = 'x-hint';

export const STEP_KINDS = ['check', 'backup', 'install', 'failover', 'verify', 'snapshot', 'wait', 'reboot', 'approval', 'command', 'fetch', 'put'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Kinds that never change a device: they may run in a dry run and be re-run after a crash. */
export const READ_ONLY_KINDS: readonly StepKind[] = ['check', 'verify', 'snapshot', 'wait', 'fetch'];

/** Kinds that move a file over SFTP instead of running a command: `fetch` (host to artifact) is read-only, `put` changes the host. */
export const TRANSFER_KINDS: readonly StepKind[] = ['fetch', 'put'];

/** Kinds whose failure may be declared a warning (`severity: warning`): a failed read-only check need not fail the host. */
export const WARNING_KINDS: readonly StepKind[] = ['check', 'verify', 'wait'];

/** The operator keys of an expectation; each item of an `expect` list holds exactly one. */
export const EXPECT_OPERATORS = ['exitCode', 'match', 'notMatch', 'contains', 'json', 'number', 'semver', 'snapshotDiff'] as const;
export type ExpectOperator = (typeof EXPECT_OPERATORS)[number];
