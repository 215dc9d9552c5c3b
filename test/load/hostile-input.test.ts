import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { main } from '../../engine/cli.js';
import { RunbookError } from '../../engine/errors.js';
import { makePlan } from '../../engine/plan/make-plan.js';
import { createManualClock } from '../../engine/run/clock.js';
import { executePlan } from '../../engine/run/execute-plan.js';
import type { Host, Inventory } from '../../engine/schema/inventory.js';
import type { Plan } from '../../engine/schema/plan.js';
import type { Runbook, Step } from '../../engine/schema/runbook.js';
import { createLocalTransport } from '../../engine/transport/local.js';

// DESIGN section 5: every interpolated value is shell-quoted by `{{quote x}}`, and a bare `{{x}}`
// whose value holds shell metacharacters is refused: at plan time (exit 2, RB2004, naming the
// step, the host and the value) for params and inventory values, at run time for captures. A real
// /bin/sh is the oracle of what a rendered command does. (The loader's fuzzing and the YAML bomb
// are in invalid-corpus.test.ts.)

const HOSTILE = [
  'a;reboot',
  '$(reboot)',
  '`reboot`',
  'a\nreboot',
  'a\r\nreboot',
  "it's",
  '"double"',
  'a && b || c',
  'a | tee /etc/motd',
  '> /etc/passwd',
  '< /etc/shadow',
  '*',
  '~root',
  '$HOME',
  '${IFS}',
  'a b',
  'tab\there',
  'back\\slash',
  '!!',
  '#not-a-comment',
  '{{host.name}}',
  "'; reboot; '",
];
/** A param is one line of text: a control character other than tab is refused before any rendering (RB2007). */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
const HOSTILE_PARAMS = HOSTILE.filter((value) => !CONTROL.test(value));
const MULTILINE_PARAMS = HOSTILE.filter((value) => CONTROL.test(value));
/** Values made of safe characters only: a bare placeholder may hold them. */
const SAFE = ['4.4.0', '/var/images/cumulus-linux-4.4.0.bin', 'user@host:path', 'a=b,c+d%e', '%s%n', '-n', ''];

const HOST = 'sw1';

function createInventory(host: Partial<Host> = {}): Inventory {
  return {
    apiVersion: 'runbook/v1',
    kind: 'Inventory',
    hosts: { [HOST]: { address: '10.0.0.1', groups: ['fabric'], auth: { passwordEnv: 'SW_PASSWORD' }, ...host } },
  };
}

function createRunbook(steps: Step[], params: Runbook['params'] = { x: { type: 'string' } }): Runbook {
  return { apiVersion: 'runbook/v1', kind: 'Runbook', metadata: { name: 'hostile', version: '1.0.0' }, params, targets: { group: 'fabric' }, steps };
}

function plan(runbook: Runbook, params: Record<string, string>, inventory = createInventory()): Plan {
  return makePlan({
    runbook,
    inventory,
    files: { runbook: { path: 'r.yaml', sha256: '0'.repeat(64) }, inventory: { path: 'i.yaml', sha256: '1'.repeat(64) } },
    params,
    commit: null,
    engineVersion: 'test',
  });
}

/** The command the plan holds for the single step `show` of the single host. */
function renderedShow(run: string, params: Record<string, string>, inventory?: Inventory): string {
  return plan(createRunbook([{ id: 'show', run }]), params, inventory).hostPlans[HOST]!.steps[0]!.command!;
}

/** What `/bin/sh -c COMMAND` writes on stdout: the oracle. */
function shellOutput(command: string): string {
  return execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });
}

/** The plan-time refusal of `run` rendering `value`, or undefined when the plan was made. */
function refusal(make: () => unknown): RunbookError | undefined {
  try {
    make();
    return undefined;
  } catch (error) {
    if (error instanceof RunbookError) return error;
    throw error;
  }
}

function expectRefused(make: () => unknown, what: { step: string; variable: string; value: string }) {
  const error = refusal(make);
  expect(error, `${JSON.stringify(what.value)} was not refused`).toBeInstanceOf(RunbookError);
  expect(error!.code).toBe('RB2004');
  expect(error!.exitCode).toBe(2);
  expect(error!.message).toContain(`step \`${what.step}\` on host \`${HOST}\``);
  expect(error!.message).toContain(`{{${what.variable}}}`);
  expect(error!.message).toContain(JSON.stringify(what.value));
  expect(error!.message).toContain(`{{quote ${what.variable}}}`);
}

describe('a param value with shell metacharacters', () => {
  it.each(HOSTILE_PARAMS)('%j renders as one quoted word through {{quote}}', (value) => {
    const command = renderedShow('printf %s {{quote params.x}}', { x: value });
    expect(shellOutput(command)).toBe(value);
  });

  it.each(MULTILINE_PARAMS)('%j, holding a line break, is refused at plan time even through {{quote}}', (value) => {
    const error = refusal(() => renderedShow('printf %s {{quote params.x}}', { x: value }));
    expect(error).toMatchObject({ code: 'RB2007', exitCode: 2 });
    expect(error!.message).toContain('param `x` holds the control character');
  });

  it.each(HOSTILE_PARAMS)('%j in a bare {{params.x}} is refused at plan time', (value) => {
    expectRefused(() => renderedShow('printf %s {{params.x}}', { x: value }), { step: 'show', variable: 'params.x', value });
  });

  it.each(SAFE)('%j, made of safe characters, may be bare', (value) => {
    const command = renderedShow('printf %s {{params.x}}', { x: value });
    expect(command).toBe(`printf %s ${value}`);
    expect(shellOutput(command)).toBe(value);
  });

  it('is refused wherever it reaches a command unquoted: triple braces, if blocks, pass-through helpers, defaults over it', () => {
    const value = '$(reboot)';
    for (const run of ['echo {{{params.x}}}', 'echo {{#if params.x}}{{params.x}}{{/if}}', 'echo {{default params.x "none"}}', 'echo {{escapeRegex params.x}}', 'echo {{default params.empty params.x}}']) {
      const runbook = createRunbook([{ id: 'show', run }], { x: { type: 'string' }, empty: { type: 'string', default: '' } });
      expectRefused(() => plan(runbook, { x: value }), { step: 'show', variable: 'params.x', value });
    }
    // A default built from the hostile value carries it along.
    const derived = createRunbook([{ id: 'show', run: 'echo {{params.y}}' }], { x: { type: 'string' }, y: { type: 'string', default: 'v-{{params.x}}' } });
    expectRefused(() => plan(derived, { x: value }), { step: 'show', variable: 'params.y', value: `v-${value}` });
  });

  it('is quoted when a helper result goes through {{quote}}', () => {
    const value = "a'; reboot; echo '";
    expect(shellOutput(renderedShow('printf %s {{quote (default params.x "none")}}', { x: value }))).toBe(value);
  });

  it('is refused in a reboot step\'s reconnection check, which the host runs too', () => {
    const runbook = createRunbook([{ id: 'reboot', kind: 'reboot', run: 'reboot', reconnect: { check: 'systemctl is-active {{params.x}}' } }]);
    expectRefused(() => plan(runbook, { x: 'frr; reboot' }), { step: 'reboot', variable: 'params.x', value: 'frr; reboot' });
    expect(() => plan(createRunbook([{ id: 'reboot', kind: 'reboot', run: 'reboot', reconnect: { check: 'systemctl is-active {{quote params.x}}' } }]), { x: 'frr; reboot' })).not.toThrow();
  });
});

describe('an inventory value with shell metacharacters', () => {
  const fields: Array<[string, Partial<Host>, string]> = [
    ['host.labels.note', { labels: { note: '$(reboot)' } }, '$(reboot)'],
    ['host.labels.note', { labels: { note: 'x`reboot`\ny' } }, 'x`reboot`\ny'],
    ['host.user', { user: "admin'; reboot; '" }, "admin'; reboot; '"],
    ['host.role', { role: 'leaf;reboot' }, 'leaf;reboot'],
  ];

  it.each(fields)('{{%s}} bare is refused, naming the host', (variable, host, value) => {
    expectRefused(() => renderedShow(`printf %s {{${variable}}}`, {}, createInventory(host)), { step: 'show', variable, value });
  });

  it.each(fields)('{{quote %s}} prints the value exactly', (variable, host, value) => {
    expect(shellOutput(renderedShow(`printf %s {{quote ${variable}}}`, {}, createInventory(host)))).toBe(value);
  });
});

describe('`runbook plan` on a hostile value', () => {
  let work: string;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'runbook-hostile-'));
    return () => rmSync(work, { recursive: true, force: true });
  });

  function writeFiles(labels: Record<string, string> = {}) {
    const runbook = join(work, 'runbook.yaml');
    const inventory = join(work, 'inventory.yaml');
    writeFileSync(
      runbook,
      stringify({
        apiVersion: 'runbook/v1',
        kind: 'Runbook',
        metadata: { name: 'hostile', version: '1.0.0' },
        params: { image: { type: 'string', required: true } },
        targets: { group: 'fabric' },
        steps: [
          { id: 'install', kind: 'install', run: 'onie-install -a -i {{params.image}}' },
          { id: 'note', kind: 'check', run: 'echo {{host.labels.note}}' },
        ],
      }),
    );
    writeFileSync(inventory, stringify(createInventory({ labels })));
    return { runbook, inventory };
  }

  async function runPlan(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await main(['plan', ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
  }

  it('exits 2 with RB2004 naming the step, the host and the param value', async () => {
    const { runbook, inventory } = writeFiles({ note: 'fine' });
    const out = await runPlan([runbook, '-i', inventory, '--param', 'image=/var/images/x.bin; reboot', '--out', join(work, 'plan.json')]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('error RB2004: step `install` on host `sw1`: `{{params.image}}` holds shell metacharacters ("/var/images/x.bin; reboot")');
    expect(out.stdout).toBe('');
    expect(existsSync(join(work, 'plan.json'))).toBe(false);
  });

  it('exits 2 with RB2004 for an inventory label used bare', async () => {
    const { runbook, inventory } = writeFiles({ note: '$(reboot)' });
    const out = await runPlan([runbook, '-i', inventory, '--param', 'image=/var/images/x.bin']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('error RB2004: step `note` on host `sw1`: `{{host.labels.note}}` holds shell metacharacters ("$(reboot)")');
  });

  it('plans the same files when the values are safe', async () => {
    const { runbook, inventory } = writeFiles({ note: 'fine' });
    const out = await runPlan([runbook, '-i', inventory, '--param', 'image=/var/images/x.bin', '--format', 'json']);
    expect(out.code).toBe(0);
    const planned = JSON.parse(out.stdout) as Plan;
    expect(planned.hostPlans.sw1!.steps.map((s) => s.command)).toEqual(['onie-install -a -i /var/images/x.bin', 'echo fine']);
  });
});

describe('a captured value with shell metacharacters, known only at run time', () => {
  let work: string;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'runbook-hostile-run-'));
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('fails a reboot step whose reconnection check uses it bare, before the reboot command runs', async () => {
    const runbook: Runbook = {
      ...createRunbook([]),
      params: { dir: { type: 'string' } },
      prechecks: [{ id: 'read', run: `printf '%s' '$(touch {{params.dir}}/injected)'`, capture: { unit: { regex: '^(.*)$' } } }],
      steps: [{ id: 'restart', kind: 'reboot', run: 'touch {{quote params.dir}}/rebooted', reconnect: { timeout: '1s', check: 'test -n {{unit}}' } }],
    };
    const local = createLocalTransport();
    const inventory: Inventory = { apiVersion: 'runbook/v1', kind: 'Inventory', hosts: { [HOST]: { transport: 'local', groups: ['fabric'] } } };
    const result = await executePlan(plan(runbook, { dir: work }, inventory), {
      clock: createManualClock(0),
      emit: () => {},
      connect: (host) => local.connect({ name: host, transport: 'local', port: 0 }),
      approve: async () => true,
    }, { runId: 'hostile' });
    const step = result.hosts[HOST]!.steps[0]!;
    expect(step).toMatchObject({ id: 'restart', status: 'failed' });
    expect(step.message).toContain('`{{unit}}` holds shell metacharacters ("$(touch');
    expect(existsSync(join(work, 'rebooted'))).toBe(false);
    expect(existsSync(join(work, 'injected'))).toBe(false);
  });
});

describe('any string', () => {
  // Any Unicode text but NUL (which no argv can hold), with the shell's own characters weighted in.
  const shellish = fc.constantFrom(...`;&|<>()$\`\\"' \t\n\r*?[]{}~#!=%-`.split(''));
  const anyValue = fc.oneof(fc.string({ unit: 'binary', maxLength: 24 }), fc.string({ unit: shellish, maxLength: 24 })).filter((s) => !s.includes('\0'));
  const scope = fc.constantFrom('param', 'label');

  const render = (value: string, where: 'param' | 'label', quoted: boolean) => {
    const variable = where === 'param' ? 'params.x' : 'host.labels.x';
    const run = `printf %s ${quoted ? `{{quote ${variable}}}` : `{{${variable}}}`}`;
    return where === 'param' ? renderedShow(run, { x: value }) : renderedShow(run, {}, createInventory({ labels: { x: value } }));
  };

  /** A param holding a control character is refused whatever the template: RB2007, the character shown escaped. */
  const expectControlRefused = (value: string, error: RunbookError | undefined) => {
    expect(error?.code).toBe('RB2007');
    expect(error!.message).not.toMatch(CONTROL);
    expect(error!.message).toContain('param `x` holds the control character U+');
  };

  it('{{quote x}} makes /bin/sh print exactly the value', () => {
    fc.assert(
      fc.property(anyValue, scope, (value, where) => {
        if (where === 'param' && CONTROL.test(value)) expectControlRefused(value, refusal(() => render(value, where, true)));
        else expect(shellOutput(render(value, where, true))).toBe(value);
      }),
      { numRuns: 200 },
    );
  });

  it('a bare {{x}} is refused, or holds safe characters only and prints exactly the value', () => {
    fc.assert(
      fc.property(anyValue, scope, (value, where) => {
        const error = refusal(() => render(value, where, false));
        if (where === 'param' && CONTROL.test(value)) expectControlRefused(value, error);
        else if (error) {
          expect(error.code).toBe('RB2004');
          expect(error.message).toContain(JSON.stringify(value));
          expect(value).not.toMatch(/^[A-Za-z0-9_./:=@%+,-]*$/);
        } else {
          expect(value).toMatch(/^[A-Za-z0-9_./:=@%+,-]*$/);
          expect(shellOutput(render(value, where, false))).toBe(value);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('`runbook plan` given any --param', () => {
  let work: string;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'runbook-any-param-'));
    writeFileSync(
      join(work, 'runbook.yaml'),
      stringify(createRunbook([{ id: 'show', kind: 'check', run: 'printf %s {{quote params.x}} {{quote params.n}}' }], { x: { type: 'string', pattern: '^[^;]*$' }, n: { type: 'integer', default: 1 } })),
    );
    writeFileSync(join(work, 'inventory.yaml'), stringify(createInventory()));
    return () => rmSync(work, { recursive: true, force: true });
  });

  // Names and values from the whole of Unicode, Object.prototype's own names, control characters.
  const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('constructor', '__proto__', 'toString', 'x', 'n', '\u0000', '\u001b[2J', 'a\nb'));
  const pair = fc.oneof(fc.tuple(fc.constantFrom('x', 'n'), text).map(([name, value]) => `${name}=${value}`), fc.tuple(text, text).map(([name, value]) => `${name}=${value}`), text);

  it('plans or refuses with an input error, never an internal error, never printing a control character', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(pair, { maxLength: 3 }), async (pairs) => {
        let stdout = '';
        let stderr = '';
        const params = pairs.filter((p) => !p.includes('\u0000')).flatMap((p) => ['--param', p]);
        const code = await main(['plan', join(work, 'runbook.yaml'), '-i', join(work, 'inventory.yaml'), ...params], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
        expect(stderr).not.toContain('internal error');
        expect([0, 2]).toContain(code);
        expect(stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      }),
      { numRuns: 150 },
    );
  });
});
