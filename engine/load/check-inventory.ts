import type { Diagnostic } from './diagnostic.js';
import { suggestName } from './suggest.js';
import type { YamlSource } from './yaml-source.js';

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Rules the schema cannot express: a host's groups exist when the inventory declares its groups. */
export function checkInventoryRules(source: YamlSource): Diagnostic[] {
  const doc = source.value;
  if (!isObject(doc) || !isObject(doc.hosts) || !isObject(doc.groups)) return [];
  const declared = Object.keys(doc.groups);
  const out: Diagnostic[] = [];
  for (const [name, host] of Object.entries(doc.hosts)) {
    if (!isObject(host) || !Array.isArray(host.groups)) continue;
    host.groups.forEach((group, i) => {
      if (typeof group !== 'string' || declared.includes(group)) return;
      const suggestion = suggestName(group, declared);
      out.push(
        source.diagnose(
          'RB1301',
          `group \`${group}\` of host \`${name}\` is not declared under \`groups\`; ${suggestion ? `did you mean \`${suggestion}\`?` : 'declare it there'}`,
          ['hosts', name, 'groups', i],
        ),
      );
    });
  }
  return out;
}
