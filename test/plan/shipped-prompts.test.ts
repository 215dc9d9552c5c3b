import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planFromFiles } from '../../engine/commands/plan.js';
import { loadDocument } from '../../engine/load/load-document.js';
import { renderTemplate } from '../../engine/plan/template.js';
import type { HostPlan } from '../../engine/schema/plan.js';
import type { Runbook } from '../../engine/schema/runbook.js';
import { compileUserRegex } from '../../engine/shared/user-regex.js';
import { createPromptResponder } from '../../engine/transport/output.js';
import type { DevicePrompt, Platform } from '../../lab/device.js';
import { EXOS_PROMPTS } from '../../lab/devices/exos.js';

// The `answer` rules of every shipped runbook against the exact questions the lab's devices print
// (their words come from the vendors' documents), through the engine's own prompt responder: the
// answer each question gets, the rule that gives it, and no question left unanswered or ambiguous.

const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** The questions each platform's commands ask, as the lab prints them. */
const DEVICE_PROMPTS: Record<Platform, readonly DevicePrompt[]> = { cumulus: [], qumulo: [], nso: [], exos: EXOS_PROMPTS };

/** The document gives the I/O module warning as "similar to" its words: another wording must get no answer at all. */
const REWORDED_WARNING: DevicePrompt = {
  id: 'a reworded I/O module warning',
  command: /^run\s+msm-failover\b/i,
  text: 'WARNING: The I/O modules run another image than the other MSM; they will all be reset.\nAre you sure you want to failover? (y/n) ',
};

/** A reboot question after a warning the runbook does not know: no answer either. */
const WARNED_REBOOT: DevicePrompt = {
  id: 'a warned reboot',
  command: /^reboot\b/i,
  text: 'WARNING: This MSM is the only one that holds the saved configuration.\nAre you sure you want to reboot? (y/n) ',
};

/** What each question must be answered, by runbook and params (`none`: nothing typed). Every runbook with `answer` rules has a case here. */
const CASES = [
  {
    runbook: 'chassis-hitless-upgrade',
    params: ['targetVersion=31.7.2.3'],
    extraPrompts: { exos: [REWORDED_WARNING, WARNED_REBOOT] },
    answers: { 'install after download': 'y', reboot: 'y', failover: 'y', 'I/O module warning': 'n', 'a reworded I/O module warning': 'none', 'a warned reboot': 'none' },
  },
  {
    runbook: 'chassis-hitless-upgrade',
    params: ['targetVersion=31.7.2.3', 'allowIoModuleReset=true'],
    extraPrompts: { exos: [REWORDED_WARNING, WARNED_REBOOT] },
    answers: { 'install after download': 'y', reboot: 'y', failover: 'y', 'I/O module warning': 'y', 'a reworded I/O module warning': 'none', 'a warned reboot': 'none' },
  },
] as const;

type AnyStep = NonNullable<Runbook['prechecks']>[number] | Runbook['steps'][number];

function loadRunbook(name: string): Runbook {
  const file = `runbooks/${name}.yaml`;
  const loaded = loadDocument(file, readFileSync(join(REPO_ROOT, file), 'utf8'), 'Runbook');
  if (!loaded.ok) throw new Error(`${file} does not load`);
  return loaded.value as Runbook;
}

const stepsOf = (runbook: Runbook): AnyStep[] => [...(runbook.prechecks ?? []), ...runbook.steps, ...(runbook.rollback ?? [])];
const plannedCommand = (host: HostPlan, id: string) => [...host.prechecks, ...host.steps, ...host.rollback].find((s) => s.id === id)?.command ?? '';

/** What the engine types at `text` (fed whole, or a character at a time as a slow link delivers it), and why it typed nothing. */
function answerOf(answers: Array<{ prompt: string; send: string }>, text: string, chunked: boolean) {
  const typed: string[] = [];
  let ambiguous: string | undefined;
  const respond = createPromptResponder(
    answers.map((a) => ({ prompt: compileUserRegex(a.prompt), send: a.send })),
    (t) => typed.push(t),
    (problem) => (ambiguous = problem),
  );
  // A PTY ends lines with CRLF.
  const shown = text.replaceAll('\n', '\r\n');
  for (const piece of chunked ? [...shown] : [shown]) respond(piece);
  return { typed, ambiguous };
}

describe('the answer rules of the shipped runbooks, against the questions the lab devices print', () => {
  it('every shipped runbook with answer rules has its expected answers listed here', () => {
    const shipped = readdirSync(join(REPO_ROOT, 'runbooks'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.replace(/\.yaml$/, ''));
    const answering = shipped.filter((name) => stepsOf(loadRunbook(name)).some((s) => (s.answer ?? []).length > 0));
    expect(answering.sort()).toEqual([...new Set(CASES.map((c) => c.runbook))].sort());
  });

  it.each(CASES)('$runbook with $params: each question gets its answer from the rule written for it', async ({ runbook: name, params, extraPrompts, answers: expected }) => {
    const runbook = loadRunbook(name);
    const { plan } = await planFromFiles({ runbookPath: join(REPO_ROOT, 'runbooks', `${name}.yaml`), inventoryPath: join(REPO_ROOT, 'inventories', 'lab.yaml'), params });
    const answered = new Map<string, string>();
    for (const [hostName, host] of Object.entries(plan.hostPlans)) {
      const platform = plan.hosts[hostName]!.platform as Platform;
      const extra: readonly DevicePrompt[] = (extraPrompts as Partial<Record<Platform, readonly DevicePrompt[]>>)[platform] ?? [];
      for (const step of stepsOf(runbook)) {
        const command = plannedCommand(host, step.id);
        const printed = DEVICE_PROMPTS[platform].filter((p) => p.command.test(command));
        const rules = (step.answer ?? []).map((a) => ({ prompt: a.prompt, send: renderTemplate(a.send, { params: plan.params, host: {}, run: {}, captures: {} }) }));
        if (rules.length === 0) {
          expect(printed.map((p) => p.id), `step ${step.id} (${command}) asks questions but answers none`).toEqual([]);
          continue;
        }
        expect(printed.length, `step ${step.id} has answer rules but ${platform} prints no question for \`${command}\``).toBeGreaterThan(0);
        // Each rule marked with its own index, to tell which one answers.
        const marked = rules.map((rule, i) => ({ prompt: rule.prompt, send: String(i) }));
        const deciding = new Set<string>();
        for (const prompt of [...printed, ...extra.filter((p) => p.command.test(command))]) {
          // The question is the first thing the command prints.
          for (const chunked of [false, true]) {
            const { typed, ambiguous } = answerOf(rules, prompt.text, chunked);
            expect(ambiguous, `${step.id}: ${prompt.id}`).toBeUndefined();
            // At most one answer: a generic rule never answers early, and nothing is typed twice.
            expect(typed.length, `${step.id}: ${prompt.id}${chunked ? ', a character at a time' : ''}`).toBeLessThanOrEqual(1);
            answered.set(`${step.id}: ${prompt.id}`, typed[0]?.trim() ?? 'none');
          }
          const decider = answerOf(marked, prompt.text, false).typed[0]?.trim();
          if (decider !== undefined) deciding.add(decider);
        }
        // Each rule answers some question: none is dead, none is written for words the device never prints.
        expect([...deciding].sort(), `step ${step.id}: the rules that answer a question`).toEqual(rules.map((_, i) => String(i)));
      }
    }
    expect(answered.size).toBeGreaterThan(0);
    for (const [key, send] of answered) expect(send, key).toBe(expected[key.slice(key.indexOf(': ') + 2) as keyof typeof expected]);
  });
});
