import { createInputError } from '../errors.js';
import type { PlannedHop } from '../schema/plan.js';
import { MAX_HOPS, type Hops } from '../schema/runbook.js';
import type { ParamValue } from './params.js';
import { renderTemplate, type TemplateContext } from './template.js';

/** A runbook step as it runs: once, or once per hop under the id `<id>.hop<N>`. */
export interface SequencedStep<S> {
  step: S;
  id: string;
  hop?: number;
}

/** The id of a step of the path in one hop: `.` is not allowed in step ids, so it never names another step. */
export function formatHopStepId(id: string, hop: number): string {
  return `${id}.hop${hop}`;
}

/**
 * The steps in the order they run: those before `firstStep`, then the steps from `firstStep` to
 * `lastStep` once per hop, then the rest. Without hops, each step once under its own id.
 */
export function sequenceSteps<S extends { id: string }>(steps: readonly S[], hops: Pick<Hops, 'firstStep' | 'lastStep'> | undefined, count: number): Array<SequencedStep<S>> {
  const first = hops === undefined ? -1 : steps.findIndex((step) => step.id === hops.firstStep);
  const last = hops === undefined ? -1 : steps.findIndex((step) => step.id === hops.lastStep);
  if (first < 0 || last < first) return steps.map((step) => ({ step, id: step.id }));
  const path = steps.slice(first, last + 1);
  return [
    ...steps.slice(0, first).map((step) => ({ step, id: step.id })),
    ...Array.from({ length: count }, (_, i) => path.map((step) => ({ step, id: formatHopStepId(step.id, i + 1), hop: i + 1 }))).flat(),
    ...steps.slice(last + 1).map((step) => ({ step, id: step.id })),
  ];
}

/** What `{{hop.*}}` names in a step of the given hop. */
export function describeHopContext(hop: number, hops: readonly PlannedHop[]): Record<string, unknown> {
  return { value: hops[hop - 1]?.value ?? '', index: hop, count: hops.length };
}

/**
 * The hops of a plan: the list as written, or the template rendered over the params and split at
 * commas (blanks trimmed, empty items dropped); each hop's description rendered for it.
 */
export function resolveHops(hops: Hops, params: Record<string, ParamValue>): PlannedHop[] {
  const context: TemplateContext = { params, host: {}, run: {}, captures: {} };
  const values = Array.isArray(hops.over)
    ? hops.over
    : renderTemplate(hops.over, context)
        .split(',')
        .map((value) => value.trim())
        .filter((value) => value !== '');
  if (values.length === 0) {
    throw createInputError('RB2040', `\`hops.over\` (${JSON.stringify(hops.over)}) renders no hop with these params; give the path a value, e.g. --param path=7.2.0,7.3.0`);
  }
  if (values.length > MAX_HOPS) {
    throw createInputError('RB2041', `\`hops.over\` renders ${values.length} hops, more than ${MAX_HOPS}; split the path into several runs`);
  }
  return values.map((value, i) => {
    const description = hops.description === undefined ? undefined : renderTemplate(hops.description, { ...context, hop: { value, index: i + 1, count: values.length } });
    // Keys in canonical (sorted) order, as in hostPlans.
    return { description, index: i + 1, value };
  });
}
