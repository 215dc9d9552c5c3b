import { parseDuration } from './duration.js';
import type { CompletionProbe, Precheck, SnapshotDiffExpect, Step } from '../schema/runbook.js';
import { READ_ONLY_KINDS, type StepKind } from '../schema/vocabulary.js';
import type { PlannedStep } from '../schema/plan.js';
import { formatTransferCommand, nameArtifact } from '../plan/transfer-command.js';
import { MissingValueError, UnsafeValueError, analyseTemplateOnce, renderTemplate, type TemplateContext } from '../plan/template.js';
import { UserRegexError, compileUserRegex } from '../shared/user-regex.js';
import { TransportError, type ExecResult, type HostConnection, type PromptAnswer } from '../transport/types.js';
import type { Clock } from './clock.js';
import type { EmitEvent, StepRecord, StepSection } from './events.js';
import { captureValues, evaluateExpectations, type EvaluateExternal, type Verdict } from './expectations.js';
import { createRedactor } from './redact.js';
import { createOutputBudget } from './output-budget.js';
import { keepHeadAndTail } from '../shared/kept-output.js';

type Render = (template: string, own?: Record<string, string>, shell?: boolean) => string;

export const STEP_DEFAULTS = {
  commandTimeoutMs: 5 * 60_000,
  untilTimeoutMs: 10 * 60_000,
  intervalMs: 5_000,
  backoffMs: 2_000,
  reconnectTimeoutMs: 10 * 60_000,
  reconnectDelayMs: 2_000,
  reconnectIntervalMs: 2_000,
  /** Most output kept per stream in a step record: its first and last half (the end is what explains a failure). */
  outputLimit: 64 * 1024,
} as const;

export interface ApprovalRequest {
  host: string;
  stepId: string;
  message: string;
  /** Aborted when the run is told to stop: the question is withdrawn. */
  signal?: AbortSignal;
}

/** Runs a command on a host of the run over the run's own connection to it (snapshots collect this way). */
export type HostExec = (host: string, command: string, options: { timeoutMs: number }) => Promise<ExecResult>;

export interface SnapshotRequest {
  name: string;
  hosts: string[];
  profile: string;
  exec: HostExec;
  /** Add these hosts to the snapshot an earlier batch of the run took under this name. */
  extend?: boolean;
  /** The snapshot step's note. */
  note?: string;
  /** Hides the run's secrets in what the snapshot stores. */
  redact(text: string): string;
}

/** Where the files of fetch and put steps are on the controller; paths are absolute. */
export interface FileHooks {
  /** Where a fetched file of a host is kept, and how the report names it. */
  artifact(host: string, name: string): { path: string; label: string };
  /** A repository file a put step sends (`isFile` false when there is none); undefined when the path leaves the repository. */
  repositoryFile(file: string): { path: string; label: string; isFile: boolean } | undefined;
}

/** A run of the same runbook, as its committed report has it: what each host's steps came to. */
export interface PreviousRun {
  runId: string;
  startedAt: string;
  hosts: Record<string, Array<{ id: string; status: string; message?: string }>>;
}

export interface StepHooks {
  approve(request: ApprovalRequest): Promise<boolean>;
  /** Earlier runs of this runbook, oldest first, for `previousAttempts` pre-checks. */
  previousRuns?(): Promise<PreviousRun[]>;
  /** File transfers; absent, fetch and put steps fail saying so. */
  files?: FileHooks;
  /** Captures (and stores) a snapshot of the hosts. */
  takeSnapshot?(request: SnapshotRequest): Promise<{ ok: boolean; message?: string }>;
  /** Compares the run's snapshot before with the host as it is now (or with a named snapshot). */
  assertSnapshotDiff?(expect: SnapshotDiffExpect, context: { host: string; profile: string; exec: HostExec; redact: (text: string) => string }): Promise<Verdict>;
}

/** One host's connection and captured values, shared by its steps. */
export interface HostSession {
  readonly host: string;
  captures: Record<string, string>;
  connection(): Promise<HostConnection>;
  /** Forget the current connection (it dropped); the next call to connection() opens a new one. */
  reset(): void;
  /** Open a new connection now, retrying until the deadline (or until `signal` aborts); for reboots. */
  reconnect(deadline: number, intervalMs: number, signal?: AbortSignal): Promise<HostConnection>;
}

export interface StepEnvironment {
  session: HostSession;
  context: () => TemplateContext;
  clock: Clock;
  emit: EmitEvent;
  /** Resolves once the events emitted so far are on disk. */
  persist: () => Promise<void>;
  hooks: StepHooks;
  snapshotProfile: string;
  exec: HostExec;
  /** Hides the run's secrets, as the snapshots on disk hide them. */
  redact: (text: string) => string;
  /** The run is stopping: no new command (no retry, no poll) starts, and waits end at once. */
  stop?: AbortSignal;
  /** The run is stopping at once: the command running is aborted too. */
  abort?: AbortSignal;
  /** The SHA-256 a fetch step of this host recorded for an artifact, so a put sends it only unchanged. */
  fetched?: (artifact: string) => string | undefined;
}

interface Attempt {
  ok: boolean;
  result?: ExecResult;
  failures: string[];
  captures: Record<string, string>;
  /** Trying again cannot help (authentication, host key, unsafe value), or must not happen (interrupted change). */
  final: boolean;
  interrupted: boolean;
  errorCode?: string;
}

const keepOutput = (text: string) => keepHeadAndTail(text, STEP_DEFAULTS.outputLimit / 2, STEP_DEFAULTS.outputLimit / 2);

/** The names a step captures with `secret: true`: redacted everywhere, never written to disk. */
export const secretCapturesOf = (step: Step | Precheck) => Object.entries(step.capture ?? {}).filter(([, c]) => c.secret).map(([name]) => name);

function createRender(env: StepEnvironment): Render {
  return (template, own = {}, shell = false) => {
    const context = env.context();
    return renderTemplate(template, { ...context, captures: { ...context.captures, ...own } }, { shell });
  };
}

/**
 * Runs the completion probe of a step a crash or a stop cut off: whether the step completed, and
 * what the probe saw. A probe that cannot run (host unreachable, a value missing) cannot tell.
 */
export async function runCompletionProbe(probe: CompletionProbe, env: StepEnvironment): Promise<{ passed: boolean; summary: string }> {
  const render = createRender(env);
  try {
    const command = render(probe.run, {}, true);
    const connection = await env.session.connection();
    const result = await connection.exec(command, { timeoutMs: parseDuration(probe.timeout) ?? STEP_DEFAULTS.commandTimeoutMs, signal: env.abort });
    const verdict = await evaluateExpectations(probe.expect ?? [], result, (template) => render(template));
    return verdict.ok ? { passed: true, summary: `\`${command}\` as expected` } : { passed: false, summary: `\`${command}\`: ${verdict.failures.join('; ')}` };
  } catch (error) {
    if (error instanceof TransportError || error instanceof UnsafeValueError || error instanceof MissingValueError) return { passed: false, summary: error.message };
    throw error;
  }
}

/** Runs one step on one host: condition, rendering, attempts with backoff, polling, expectations, captures. */
export async function runStep(
  step: Step | Precheck,
  planned: PlannedStep,
  section: StepSection,
  env: StepEnvironment,
): Promise<StepRecord> {
  const { clock, emit, session } = env;
  const startedAt = clock.now();
  const record = (fields: Partial<StepRecord> & Pick<StepRecord, 'status'>): StepRecord => ({
    id: step.id,
    section,
    kind: planned.kind,
    mutating: planned.mutating,
    attempts: 0,
    startedAt,
    durationMs: clock.now() - startedAt,
    exitCode: null,
    stdout: '',
    stderr: '',
    captured: [],
    ...(section === 'precheck' ? { severity: (step as Precheck).severity ?? 'error', hint: (step as Precheck).hint } : {}),
    ...(section !== 'precheck' && step.severity !== undefined ? { severity: step.severity, ...(step.hint ? { hint: step.hint } : {}) } : {}),
    ...fields,
  });
  const render = createRender(env);

  if (step.when !== undefined) {
    let decision: string;
    const missing = uncapturedNames(step.when, env.context().captures);
    try {
      // A value no step captured (its step did not run, or found nothing) reads as empty in a condition.
      decision = render(step.when, Object.fromEntries(missing.map((name) => [name, '']))).trim();
    } catch (error) {
      return record({ status: 'failed', message: `\`when\` cannot be evaluated: ${(error as Error).message}` });
    }
    if (decision === '' || decision === 'false') {
      const why = missing.length > 0 ? ` (${missing.map((name) => `\`${name}\``).join(', ')} ${missing.length > 1 ? 'were' : 'was'} not captured)` : '';
      return record({ status: 'skipped', message: `condition not met: ${step.when}${why}` });
    }
    if (decision !== 'true') return record({ status: 'failed', message: `\`when\` rendered ${JSON.stringify(decision)}; it must render true or false` });
  }

  if (planned.kind === 'approval') return runApproval(step, env, record, render);
  if (section === 'precheck' && (step as Precheck).previousAttempts) return checkPreviousAttempts(step as Precheck, env, record);
  if (planned.kind === 'fetch' || planned.kind === 'put') return runTransfer(step as Step, planned.kind, section, env, record, render);

  let command: string;
  let answers: PromptAnswer[] | undefined;
  try {
    command = render(step.run ?? '', {}, true);
    // Answers are typed at the device's prompt, not into a shell: rendered, not shell-checked.
    answers = step.answer?.map((a) => ({ prompt: compileUserRegex(a.prompt), send: render(a.send) }));
    // The reconnection check is a command too: an unsafe value in it stops the step before the reboot.
    if (step.reconnect?.check !== undefined) render(step.reconnect.check, {}, true);
  } catch (error) {
    if (error instanceof UnsafeValueError || error instanceof MissingValueError || error instanceof UserRegexError) {
      return record({ status: 'failed', message: error.message });
    }
    throw error;
  }

  const retries = step.retries ?? 0;
  const backoffMs = parseDuration(step.backoff) ?? STEP_DEFAULTS.backoffMs;
  let last: Attempt | undefined;
  let attempt = 0;
  while (attempt <= retries) {
    attempt++;
    emit({ type: 'step.started', at: clock.now(), host: session.host, section, stepId: step.id, kind: planned.kind, mutating: planned.mutating, attempt, command });
    // On disk before the command is sent: after a crash, the journal tells a step cut off from one never begun.
    try {
      await env.persist();
    } catch (error) {
      // The journal cannot be written: the command is not sent, and the run stops (the executor knows why).
      return record({ status: 'interrupted', message: `not started: ${(error as Error).message}`, command, attempts: attempt - 1 });
    }
    last = await runAttempt(step, planned.kind, { command, answers }, env, render);
    if (last.ok || last.final || attempt > retries) break;
    const delayMs = backoffMs * 2 ** (attempt - 1);
    // The executor learns a secret capture when the step ends; a retry is announced before that.
    const secrets = createRedactor(secretCapturesOf(step).flatMap((name) => last!.captures[name] ?? []));
    emit({ type: 'step.retried', at: clock.now(), host: session.host, section, stepId: step.id, attempt, delayMs, reason: secrets.redact(last.failures.join('; ')) });
    await clock.sleep(delayMs, env.stop);
    // A retry is a new command: a stopping run does not start it, and cannot call the step failed either.
    if (env.stop?.aborted) {
      last = { ...last, failures: [...last.failures, 'not retried: the run was interrupted'], final: true, interrupted: true };
      break;
    }
  }
  const outcome = last!;
  Object.assign(session.captures, outcome.captures);
  const hint = section === 'precheck' ? renderHint((step as Precheck).hint, render) : undefined;
  // A secret the capture did not find cannot be redacted: its output is not kept at all.
  const withheld = secretCapturesOf(step).some((name) => outcome.captures[name] === undefined);
  return record({
    status: outcome.ok ? 'succeeded' : outcome.interrupted ? 'interrupted' : 'failed',
    message: outcome.ok ? undefined : outcome.failures.join('; '),
    command,
    attempts: attempt,
    exitCode: outcome.result?.exitCode ?? null,
    stdout: withheld ? '' : keepOutput(outcome.result?.stdout ?? ''),
    stderr: withheld ? '' : keepOutput(outcome.result?.stderr ?? ''),
    captured: Object.keys(outcome.captures),
    errorCode: outcome.errorCode,
    ...(hint !== undefined ? { hint } : {}),
  });
}

/** Capture names a template uses that hold no value yet. */
function uncapturedNames(source: string, captures: Record<string, unknown>): string[] {
  const names = analyseTemplateOnce(source).refs.filter((ref) => ref.scope === 'capture').map((ref) => ref.name);
  return [...new Set(names)].filter((name) => captures[name] === undefined);
}

/** A failed pre-check's hint, rendered like its command (its own captures included); as written when a value is missing. */
function renderHint(hint: string | undefined, render: Render): string | undefined {
  if (hint === undefined) return undefined;
  try {
    return render(hint);
  } catch (error) {
    if (error instanceof MissingValueError) return hint;
    throw error;
  }
}

async function runAttempt(
  step: Step | Precheck,
  kind: StepKind,
  { command, answers }: { command: string; answers: PromptAnswer[] | undefined },
  env: StepEnvironment,
  render: Render,
): Promise<Attempt> {
  const { clock, session } = env;
  // The output of a step capturing a secret holds it before the executor knows the value to
  // redact: it is not streamed (the step's record keeps it, redacted).
  const budget =
    secretCapturesOf(step).length > 0
      ? undefined
      : createOutputBudget((stream, text) => env.emit({ type: 'output', at: clock.now(), host: session.host, stepId: step.id, stream, line: text }));
  const onOutput = budget?.write;
  const assertDiff = env.hooks.assertSnapshotDiff;
  const external: EvaluateExternal | undefined = assertDiff
    ? async (expect) =>
        expect.snapshotDiff ? assertDiff(expect.snapshotDiff, { host: session.host, profile: env.snapshotProfile, exec: env.exec, redact: env.redact }) : undefined
    : undefined;
  const rerunnable = READ_ONLY_KINDS.includes(kind) || step.idempotent === true;
  const timeoutMs = parseDuration(step.timeout);
  try {
    if (step.until !== undefined) {
      const deadline = clock.now() + (timeoutMs ?? STEP_DEFAULTS.untilTimeoutMs);
      const intervalMs = parseDuration(step.interval) ?? STEP_DEFAULTS.intervalMs;
      for (;;) {
        const connection = await session.connection();
        const result = await connection.exec(command, { timeoutMs: Math.max(1, Math.min(STEP_DEFAULTS.commandTimeoutMs, deadline - clock.now())), answers, onOutput, signal: env.abort });
        if (result.ambiguousPrompt !== undefined) return ambiguousAttempt(result, result.ambiguousPrompt);
        const until = await evaluateExpectations(step.until, result, render);
        if (until.ok) return await finishAttempt(step, result, render, external);
        if (clock.now() + intervalMs > deadline) {
          return { ok: false, result, failures: [`condition not met within ${step.timeout ?? '10m'}: ${until.failures.join('; ')}`], captures: {}, final: false, interrupted: false };
        }
        await clock.sleep(intervalMs, env.stop);
        if (env.stop?.aborted) return stopAttempt(result, `the run was interrupted while waiting: ${until.failures.join('; ')}`);
      }
    }
    const connection = await session.connection();
    const result = await connection.exec(command, { timeoutMs: timeoutMs ?? STEP_DEFAULTS.commandTimeoutMs, answers, onOutput, signal: env.abort });
    if (result.ambiguousPrompt !== undefined) return ambiguousAttempt(result, result.ambiguousPrompt);
    if (expectsDisconnect(kind, step)) return await awaitReboot(step, result, connection, env, render, external);
    return await finishAttempt(step, result, render, external);
  } catch (error) {
    if (!(error instanceof TransportError)) throw error;
    const partial: ExecResult | undefined = error.partial
      ? { ...error.partial, exitCode: null, signal: null, durationMs: 0, timedOut: false }
      : undefined;
    if (error.code === 'ABORTED') return stopAttempt(partial, error.message);
    if (error.code === 'CONNECTION_LOST') {
      session.reset();
      if (expectsDisconnect(kind, step)) return await awaitReboot(step, partial, undefined, env, render, external);
      // A change cut off half-way may or may not have happened: never repeat it blindly.
      return { ok: false, result: partial, failures: [`interrupted: ${error.message}`], captures: {}, final: !rerunnable, interrupted: !rerunnable };
    }
    return { ok: false, result: partial, failures: [error.message], captures: {}, final: error.nonRetryable, interrupted: false, errorCode: error.code };
  } finally {
    budget?.finish();
  }
}

async function finishAttempt(
  step: Step | Precheck,
  result: ExecResult,
  render: Render,
  external: EvaluateExternal | undefined,
): Promise<Attempt> {
  const captured = captureValues(step.capture ?? {}, result);
  // Expectations may refer to values the step itself captures.
  const verdict = await evaluateExpectations(step.expect ?? [], result, (template) => render(template, captured.values), external);
  // A secret not captured cannot be hidden: expectation failures, which quote the output, are left out.
  const withheld = secretCapturesOf(step).some((name) => captured.values[name] === undefined);
  const failures = withheld ? captured.failures : [...verdict.failures, ...captured.failures];
  return { ok: failures.length === 0, result, failures, captures: captured.values, final: false, interrupted: false };
}

/** No answer was typed: the command stopped at its prompt, and a retry would meet the same prompt and rules. */
function ambiguousAttempt(result: ExecResult, problem: string): Attempt {
  return { ok: false, result, failures: [problem], captures: {}, final: true, interrupted: false };
}

/** The run stopped this attempt (a signal): the step is interrupted, whatever its kind, and decided on resume. */
function stopAttempt(result: ExecResult | undefined, message: string): Attempt {
  return { ok: false, result, failures: [message], captures: {}, final: true, interrupted: true };
}

/** A reboot, or a failover with `reconnect`, takes the connection down by design. */
function expectsDisconnect(kind: StepKind, step: Step | Precheck): boolean {
  return kind === 'reboot' || (kind === 'failover' && step.reconnect !== undefined);
}

/** After a reboot command: the host must go away, come back within the timeout, and pass the check. */
async function awaitReboot(
  step: Step | Precheck,
  result: ExecResult | undefined,
  connection: HostConnection | undefined,
  env: StepEnvironment,
  render: Render,
  external: EvaluateExternal | undefined,
): Promise<Attempt> {
  const { clock, session } = env;
  const reconnect = 'reconnect' in step ? step.reconnect : undefined;
  const deadline = clock.now() + (parseDuration(reconnect?.timeout) ?? STEP_DEFAULTS.reconnectTimeoutMs);
  const fail = (message: string): Attempt => ({ ok: false, result, failures: [message], captures: {}, final: true, interrupted: false });
  if (result && ((result.exitCode !== null && result.exitCode !== 0) || result.timedOut)) return failCommand(step, result, render);
  const stopped = () => stopAttempt(result, 'the run was interrupted while waiting for the host to come back');
  while (connection && !connection.closed) {
    if (clock.now() >= deadline) return fail(`the host did not go down within ${reconnect?.timeout ?? '10m'} of the reboot command`);
    await clock.sleep(100, env.stop);
    if (env.stop?.aborted) return stopped();
  }
  session.reset();
  await clock.sleep(parseDuration(reconnect?.delay) ?? STEP_DEFAULTS.reconnectDelayMs, env.stop);
  if (env.stop?.aborted) return stopped();
  let back: HostConnection;
  try {
    back = await session.reconnect(deadline, parseDuration(reconnect?.interval) ?? STEP_DEFAULTS.reconnectIntervalMs, env.stop);
  } catch (error) {
    if (env.stop?.aborted) return stopped();
    // The last reason it could not be reached (refused, AUTH_FAILED...) says what to look at.
    const errorCode = error instanceof TransportError ? error.code : undefined;
    return { ...fail(`the host did not come back: ${(error as Error).message}`), errorCode };
  }
  if (reconnect?.check !== undefined) {
    const checkCommand = render(reconnect.check, {}, true);
    for (;;) {
      let check: ExecResult;
      try {
        check = await back.exec(checkCommand, { timeoutMs: STEP_DEFAULTS.commandTimeoutMs, signal: env.abort });
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        if (error.code === 'ABORTED') return stopped();
        return { ...fail(`the host came back but \`${checkCommand}\` could not run: ${error.message}`), errorCode: error.code };
      }
      if (check.exitCode === 0) break;
      if (clock.now() >= deadline) return fail(`the host came back but \`${checkCommand}\` exited ${check.exitCode}`);
      await clock.sleep(parseDuration(reconnect.interval) ?? STEP_DEFAULTS.reconnectIntervalMs, env.stop);
      if (env.stop?.aborted) return stopped();
    }
  }
  const done: ExecResult = result ?? { stdout: '', stderr: '', exitCode: 0, signal: null, durationMs: 0, timedOut: false };
  return finishAttempt(step, { ...done, exitCode: 0 }, render, external);
}

/**
 * A pre-check with no command: the last earlier run of this runbook that worked on the host, from
 * its committed report; it fails (as its severity says) when one of the named steps failed there.
 */
async function checkPreviousAttempts(
  step: Precheck,
  env: StepEnvironment,
  record: (fields: Partial<StepRecord> & Pick<StepRecord, 'status'>) => StepRecord,
): Promise<StepRecord> {
  const watched = step.previousAttempts?.steps ?? [];
  env.emit({ type: 'step.started', at: env.clock.now(), host: env.session.host, section: 'precheck', stepId: step.id, kind: 'check', mutating: false, attempt: 1 });
  const runs = env.hooks.previousRuns ? await env.hooks.previousRuns() : [];
  // A run that never reached the host (stopped by its pre-checks, or the host skipped) says nothing about it.
  const last = runs.filter((run) => (run.hosts[env.session.host] ?? []).some((s) => s.status !== 'skipped' && s.status !== 'pending')).at(-1);
  if (last === undefined) return record({ status: 'succeeded', attempts: 1, message: 'no earlier run of this runbook worked on this host' });
  const failed = (last.hosts[env.session.host] ?? []).filter((s) => watched.includes(s.id) && (s.status === 'failed' || s.status === 'interrupted'));
  if (failed.length === 0) return record({ status: 'succeeded', attempts: 1, message: `last run ${last.runId}: ${watched.join(', ')} did not fail` });
  const what = failed.map((s) => `\`${s.id}\` ${s.status}${s.message ? ` (${s.message})` : ''}`).join('; ');
  return record({ status: 'failed', attempts: 1, message: `in the previous run ${last.runId} (${last.startedAt}): ${what}` });
}

/** A fetch or put: the whole file, checksummed, with the step's retries (a read-back mismatch is retried too). */
async function runTransfer(
  step: Step,
  kind: 'fetch' | 'put',
  section: StepSection,
  env: StepEnvironment,
  record: (fields: Partial<StepRecord> & Pick<StepRecord, 'status'>) => StepRecord,
  render: Render,
): Promise<StepRecord> {
  const { clock, emit, session } = env;
  const files = env.hooks.files;
  let remote: string;
  let artifactName: string;
  let file: string | undefined;
  try {
    remote = render(step.remote ?? '');
    artifactName = nameArtifact(remote, step.artifact === undefined ? undefined : render(step.artifact));
    file = kind === 'put' && step.file !== undefined ? render(step.file) : undefined;
  } catch (error) {
    if (error instanceof UnsafeValueError || error instanceof MissingValueError) return record({ status: 'failed', message: error.message });
    throw error;
  }
  // Named as the plan names it.
  const command = formatTransferCommand(kind, { remote, artifact: artifactName, ...(file === undefined ? {} : { file }) });
  if (files === undefined) return record({ status: 'failed', command, message: 'file transfers are not available in this run' });
  if (!remote.startsWith('/')) return record({ status: 'failed', command, message: `\`remote\` must be an absolute path on the host, not ${JSON.stringify(remote)}` });
  if (file === undefined && (artifactName === '' || artifactName.includes('/') || artifactName === '.' || artifactName === '..')) {
    return record({ status: 'failed', command, message: `the artifact name ${JSON.stringify(artifactName)} must be a plain file name` });
  }
  const repositoryFile = file === undefined ? undefined : files.repositoryFile(file);
  if (file !== undefined && repositoryFile === undefined) return record({ status: 'failed', command, message: `\`file\` ${JSON.stringify(file)} must be a path inside the repository` });
  // No retry brings a missing file: fail before connecting.
  if (repositoryFile?.isFile === false) return record({ status: 'failed', command, message: `the repository has no file ${repositoryFile.label}; nothing was written` });
  const local = repositoryFile ?? files.artifact(session.host, artifactName);
  const expectedSha256 = kind === 'put' && file === undefined ? env.fetched?.(artifactName) : undefined;
  const retries = step.retries ?? 0;
  const backoffMs = parseDuration(step.backoff) ?? STEP_DEFAULTS.backoffMs;
  let attempt = 0;
  for (;;) {
    attempt++;
    emit({ type: 'step.started', at: clock.now(), host: session.host, section, stepId: step.id, kind, mutating: kind === 'put', attempt, command });
    try {
      await env.persist();
    } catch (error) {
      return record({ status: 'interrupted', message: `not started: ${(error as Error).message}`, command, attempts: attempt - 1 });
    }
    try {
      const connection = await session.connection();
      if ((kind === 'fetch' ? connection.fetchFile : connection.putFile) === undefined) return record({ status: 'failed', command, attempts: attempt, message: 'this transport cannot transfer files' });
      const moved =
        kind === 'fetch'
          ? await connection.fetchFile!(remote, local.path, { signal: env.abort })
          : await connection.putFile!(local.path, remote, { signal: env.abort, ...(expectedSha256 ? { expectedSha256 } : {}) });
      const transfer = { direction: kind, remote, local: local.label, bytes: moved.bytes, sha256: moved.sha256 };
      const message = `${kind === 'fetch' ? `fetched ${remote} to ${local.label}` : `put ${local.label} to ${remote}, read back`} (${moved.bytes} bytes, sha256 ${moved.sha256})`;
      return record({ status: 'succeeded', command, attempts: attempt, exitCode: 0, message, transfer });
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      const cutOff = error.code === 'ABORTED' || (error.code === 'CONNECTION_LOST' && kind === 'put');
      if (error.code === 'CONNECTION_LOST') session.reset();
      if (cutOff) return record({ status: 'interrupted', command, attempts: attempt, message: `interrupted: ${error.message}` });
      if (error.nonRetryable || attempt > retries || env.stop?.aborted) {
        return record({ status: 'failed', command, attempts: attempt, message: error.message, errorCode: error.code });
      }
      const delayMs = backoffMs * 2 ** (attempt - 1);
      emit({ type: 'step.retried', at: clock.now(), host: session.host, section, stepId: step.id, attempt, delayMs, reason: error.message });
      await clock.sleep(delayMs, env.stop);
      if (env.stop?.aborted) return record({ status: 'interrupted', command, attempts: attempt, message: `not retried: the run was interrupted (${error.message})` });
    }
  }
}

/**
 * A reboot or failover command that refused (a declined confirmation, say): the step's own expectations
 * on its output, when it has some, say why better than the exit code does.
 */
async function failCommand(step: Step | Precheck, result: ExecResult, render: Render): Promise<Attempt> {
  const kind = step.kind === 'failover' ? 'failover' : 'reboot';
  const onOutput = (step.expect ?? []).filter((e) => e.exitCode === undefined && e.snapshotDiff === undefined);
  const verdict = await evaluateExpectations(onOutput, { ...result, exitCode: 0, timedOut: false }, render);
  // Timed out: still at a question no rule answered, say; the channel is closed, which cancels it.
  const what = result.timedOut ? `the ${kind} command timed out` : `the ${kind} command exited ${result.exitCode}`;
  return { ok: false, result, failures: [what, ...verdict.failures], captures: {}, final: true, interrupted: false };
}

async function runApproval(
  step: Step | Precheck,
  env: StepEnvironment,
  record: (fields: Partial<StepRecord> & Pick<StepRecord, 'status'>) => StepRecord,
  render: Render,
): Promise<StepRecord> {
  const message = render(step.message ?? `Approve step ${step.id}?`);
  env.emit({ type: 'step.started', at: env.clock.now(), host: env.session.host, section: 'step', stepId: step.id, kind: 'approval', mutating: false, attempt: 1 });
  let approved: boolean;
  try {
    approved = await env.hooks.approve({ host: env.session.host, stepId: step.id, message, signal: env.stop });
  } catch (error) {
    if (!env.stop?.aborted) throw error;
    return record({ status: 'interrupted', attempts: 1, message: `not answered: the run was interrupted (${message})` });
  }
  return record({ status: approved ? 'succeeded' : 'failed', attempts: 1, message: approved ? `approved: ${message}` : `not approved: ${message}` });
}
