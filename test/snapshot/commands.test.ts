import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { runDiff } from '../../engine/commands/diff.js';
import { runSnapshotCreate, runSnapshotDelete, runSnapshotList, runSnapshotShow, type ExecFactory } from '../../engine/commands/snapshot.js';
import { RunbookError } from '../../engine/errors.js';
import { loadSnapshot, saveSnapshot } from '../../engine/io/snapshot-store.js';
import { HINT } from '../../engine/schema/vocabulary.js';
import { SnapshotDiff } from '../../engine/schema/snapshot.js';
import type { ResolvedHost } from '../../engine/plan/inventory.js';
import { bgp, buildSnapshot, route } from './build-snapshot.js';

let folder: string;
let output: string;
const write = (text: string) => {
  output += text;
};
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'runbook-snapshot-commands-'));
  output = '';
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

function saveExamplePair() {
  saveSnapshot(
    folder,
    buildSnapshot('pre', {
      bgp: [bgp('leaf01', 'swp51', 65199), bgp('leaf01', 'swp52', 65199), bgp('leaf02', 'swp51', 65199)],
      route: [route('leaf01', '10.10.10.1/32'), route('leaf01', '10.10.10.2/32')],
    }),
  );
  saveSnapshot(
    folder,
    buildSnapshot(
      'post',
      {
        bgp: [bgp('leaf01', 'swp51', 65199, { state: 'Idle', uptime: 3 }), bgp('leaf02', 'swp51', 65199), bgp('leaf02', 'swp53', 65199)],
        route: [route('leaf01', '10.10.10.1/32', { metric: 20 }), route('leaf01', '10.10.10.2/32')],
      },
      { notCollected: { lldp: { leaf01: 'net show lldp json timed out', leaf02: 'net show lldp json timed out' } }, createdAt: '2024-05-01T11:00:00.000Z' },
    ),
  );
}

describe('runbook diff', () => {
  it('renders a NetQ-style summary table, then the differences of each element in collapsed blocks', () => {
    saveExamplePair();
    expect(runDiff('pre', 'post', { format: 'markdown', folder, write })).toBe(0);
    expect(output).toContain('## Snapshot comparison: `pre` → `post`');
    expect(output).toContain('Before (A): `pre`, taken 2024-05-01T10:00:00.000Z. After (B): `post`, taken 2024-05-01T11:00:00.000Z.');
    expect(output).toContain('| element | before | after | added | removed | changed | notes |');
    expect(output).toContain('| bgp | 3 | 3 | 1 | 1 | 1 |  |');
    expect(output).toContain('| route | 2 | 2 | 0 | 0 | 1 |  |');
    expect(output).toMatch(/\| lldp \| not collected \| not collected \|  \|  \|  \| 2 hosts, e.g. leaf01: not collected after: net show lldp json timed out \|/);
    expect(output).toContain('<details>\n<summary>1 removed</summary>\n\n| host | vrf | peer | asn | state | localAsn | prefixesReceived |');
    expect(output).toContain('| leaf01 | default | swp52 | 65199 | Established | 65101 | 10 |');
    expect(output).toContain('| leaf01 vrf default peer swp51 asn 65199 | state | Established | Idle |');
    // Volatile fields are neither columns nor changes.
    expect(output).not.toMatch(/\| (uptime|messagesReceived) \|/);
    expect(output).toContain('In all: 1 added, 1 removed, 2 changed.');
  });

  it('exports every difference as JSON that validates against the diff schema', () => {
    saveExamplePair();
    runDiff('pre', join(folder, 'post.json'), { format: 'json', folder, write });
    const diff = JSON.parse(output);
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    ajv.addKeyword({ keyword: HINT, schemaType: 'string' });
    const validate = ajv.compile(SnapshotDiff);
    expect(validate(diff), JSON.stringify(validate.errors)).toBe(true);
    expect(diff.elements.bgp.changed).toEqual([
      { key: { host: 'leaf01', vrf: 'default', peer: 'swp51', asn: 65199 }, fields: [{ field: 'state', before: 'Established', after: 'Idle' }] },
    ]);
    expect(diff.elements.lldp).toMatchObject({ status: 'notCollected', counts: { before: null, after: null, removed: 0 } });
  });

  it('takes --element, --exclude, --no-default-exclusions and --tolerance', () => {
    saveExamplePair();
    runDiff('pre', 'post', { format: 'json', folder, write, elements: ['bgp'], exclude: ['bgp.state'], defaultExclusions: false });
    const diff = JSON.parse(output);
    expect(Object.keys(diff.elements)).toEqual(['bgp']);
    expect(diff.elements.bgp.changed[0].fields).toEqual([{ field: 'uptime', before: 3600, after: 3 }]);
    output = '';
    runDiff('pre', 'post', { format: 'json', folder, write, elements: ['route'], tolerances: ['route.metric=+20'] });
    expect(JSON.parse(output).elements.route.counts).toMatchObject({ changed: 0, tolerated: 1 });
  });

  it('filters by kind of difference (--only) and by host (--host); the counts before and after stay whole', () => {
    saveExamplePair();
    runDiff('pre', 'post', { format: 'json', folder, write, only: ['removed'] });
    const removedOnly = JSON.parse(output);
    expect(removedOnly.elements.bgp).toMatchObject({ counts: { before: 3, after: 3, added: 0, removed: 1, changed: 0 }, added: [], changed: [] });
    expect(removedOnly.elements.bgp.removed.map((r: { peer: string }) => r.peer)).toEqual(['swp52']);
    expect(removedOnly.totals).toMatchObject({ added: 0, removed: 1, changed: 0 });
    expect(removedOnly.options.filter).toEqual({ only: ['removed'] });
    output = '';
    runDiff('pre', 'post', { format: 'json', folder, write, only: ['added,changed'], hosts: ['leaf02'] });
    const leaf02 = JSON.parse(output);
    expect(leaf02.elements.bgp.added.map((r: { peer: string }) => `${r.peer}`)).toEqual(['swp53']);
    expect(leaf02.elements.bgp.changed).toEqual([]);
    expect(leaf02.elements.route.counts.changed).toBe(0);
    output = '';
    runDiff('pre', 'post', { format: 'markdown', folder, write, only: ['changed'], hosts: ['leaf01'] });
    expect(output).toContain('Filtered: only changed of `leaf01`');
    expect(output).toContain('| bgp | 3 | 3 | 0 | 0 | 1 |');
  });

  it('--exit-code exits 1 when a difference is left after the filters, 0 otherwise', () => {
    saveExamplePair();
    expect(runDiff('pre', 'post', { format: 'json', folder, write })).toBe(0);
    expect(runDiff('pre', 'post', { format: 'json', folder, write, exitCode: true })).toBe(1);
    expect(runDiff('pre', 'post', { format: 'json', folder, write, exitCode: true, only: ['added'], hosts: ['leaf01'] })).toBe(0);
    expect(runDiff('pre', 'pre', { format: 'markdown', folder, write, exitCode: true })).toBe(0);
  });

  it('refuses a misspelt element, an unknown snapshot and a malformed tolerance as bad input', () => {
    saveExamplePair();
    const failure = (action: () => unknown) => {
      try {
        action();
      } catch (error) {
        return error as RunbookError;
      }
      throw new Error('expected an error');
    };
    expect(failure(() => runDiff('pre', 'post', { format: 'markdown', folder, write, elements: ['bpg'] }))).toMatchObject({ exitCode: 2, message: expect.stringContaining('did you mean `bgp`?') });
    expect(failure(() => runDiff('pre', 'psot', { format: 'markdown', folder, write }))).toMatchObject({ code: 'RB1502', message: expect.stringContaining('did you mean `post`?') });
    expect(failure(() => runDiff('pre', 'post', { format: 'markdown', folder, write, tolerances: ['metric'] }))).toMatchObject({ code: 'RB1505' });
    expect(failure(() => runDiff('pre', 'post', { format: 'markdown', folder, write, only: ['gone'] }))).toMatchObject({ code: 'RB1510', exitCode: 2 });
  });

  it('caps the rows of a huge diff and points to the JSON export', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => route('leaf01', `10.${Math.floor(i / 256)}.${i % 256}.0/24`));
    saveSnapshot(folder, buildSnapshot('a', { route: many(500) }));
    saveSnapshot(folder, buildSnapshot('b', { route: [] }));
    runDiff('a', 'b', { format: 'markdown', folder, write, maxRows: 20 });
    expect(output).toContain('<summary>500 removed</summary>');
    expect(output.match(/^\| leaf01 \| default \| 10\./gm)).toHaveLength(20);
    expect(output).toContain('… and 480 more; the JSON export (`--format json`) has them all.');
  });
});

describe('runbook snapshot list, show and delete', () => {
  it('lists snapshots as a table or as JSON', () => {
    saveExamplePair();
    runSnapshotList({ folder, format: 'text', write });
    const lines = output.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +CREATED +HOSTS +PROFILE +RECORDS +NOT COLLECTED EVERYWHERE +NOTE$/);
    expect(lines[1]).toMatch(/^post +2024-05-01T11:00:00.000Z +2 +fabric +bgp 3, clag 0, .*route 2.* +lldp$/);
    expect(lines[2]).toMatch(/^pre +2024-05-01T10:00:00.000Z +2 +fabric +bgp 3, clag 0, interface 0, address 0, link 0, lldp 0,/);
    output = '';
    runSnapshotList({ folder, format: 'json', write });
    expect(JSON.parse(output).map((s: { name: string }) => s.name)).toEqual(['post', 'pre']);
  });

  it('shows the records of one element, and what was not collected', () => {
    saveExamplePair();
    runSnapshotShow('post', { folder, format: 'text', write, element: 'bgp' });
    expect(output).toMatch(/^snapshot post: taken 2024-05-01T11:00:00.000Z .* 2 host\(s\): leaf01, leaf02\n\nbgp \(BGP session\): 3 record\(s\)\n/);
    expect(output).toMatch(/\n {2}host +vrf +peer +asn +state +localAsn +prefixesReceived +uptime +messagesReceived\n/);
    expect(output).toMatch(/\n {2}leaf01 +default +swp51 +65199 +Idle +65101 +10 +3 +100\n/);
    output = '';
    runSnapshotShow('post', { folder, format: 'text', write, element: 'lldp' });
    expect(output).toContain('lldp (LLDP neighbour): not collected\n  not collected on leaf01 (timeout): net show lldp json timed out');
    output = '';
    runSnapshotShow('post', { folder, format: 'json', write, element: 'route' });
    expect(JSON.parse(output).records).toHaveLength(2);
  });

  it('deletes only when every named snapshot exists', () => {
    saveExamplePair();
    expect(() => runSnapshotDelete(['pre', 'nope'], { folder, write })).toThrow(/no snapshot `nope`/);
    expect(readdirSync(folder).sort()).toEqual(['post.json', 'pre.json']);
    expect(runSnapshotDelete(['pre', 'post'], { folder, write })).toBe(0);
    expect(readdirSync(folder)).toEqual([]);
    expect(output).toContain('deleted snapshot pre');
  });
});

describe('runbook snapshot create', () => {
  const inventory = () => {
    const path = join(folder, 'inventory.yaml');
    writeFileSync(
      path,
      [
        'apiVersion: runbook/v1',
        'kind: Inventory',
        'defaults: { platform: cumulus, user: lab }',
        'hosts:',
        '  leaf01: { address: 127.0.0.1, groups: [fabric] }',
        '  leaf02: { address: 127.0.0.2, groups: [fabric] }',
        '  oob: { address: 127.0.0.3, platform: linux, groups: [oob] }',
      ].join('\n'),
    );
    return path;
  };
  const profile = () => {
    const path = join(folder, 'mini.yaml');
    writeFileSync(
      path,
      [
        'apiVersion: runbook/v1',
        'kind: Profile',
        'metadata: { name: mini }',
        'collectors:',
        '  - { element: node, platforms: [cumulus], command: hostname, text: { match: "^(?<hostname>\\\\S+)$" } }',
        '  - { element: service, platforms: [cumulus], command: services, text: { match: "^(?<name>\\\\S+) (?<vrf>\\\\S+)$" } }',
      ].join('\n'),
    );
    return path;
  };

  /** The injected exec factory: an in-memory device per host; leaf02 cannot list its services. */
  const factory: ExecFactory & { opened: string[][]; closed: number } = Object.assign(
    (hosts: readonly ResolvedHost[]) => {
      factory.opened.push(hosts.map((h) => h.name));
      return {
        exec: async (host: string, command: string) =>
          command === 'hostname'
            ? { stdout: `${host}\n`, stderr: '', exitCode: 0 }
            : host === 'leaf02'
              ? { stdout: '', stderr: 'permission denied', exitCode: 1 }
              : { stdout: 'frr default\n', stderr: '', exitCode: 0 },
        close: () => {
          factory.closed++;
        },
      };
    },
    { opened: [] as string[][], closed: 0 },
  );

  it('captures the targets, saves the snapshot, reports what was not collected and exits 1 for a failed collector', async () => {
    let errors = '';
    const code = await runSnapshotCreate('pre', {
      folder,
      inventoryPath: inventory(),
      profile: profile(),
      targets: ['leaf01,leaf02'],
      createExec: factory,
      write,
      writeError: (text) => {
        errors += text;
      },
    });
    expect(code).toBe(1);
    expect(factory.opened).toEqual([['leaf01', 'leaf02']]);
    expect(factory.closed).toBe(1);
    expect(output).toMatch(/^saved snapshot pre to .*pre\.json: 2 host\(s\); node 2, service 1\n$/);
    expect(errors).toContain('warning: service not collected on leaf02 (commandFailed): `services` exited with 1: permission denied');
    expect(errors).toContain('1 element collection(s) failed');
    const saved = loadSnapshot(folder, 'pre');
    expect(saved.elements.node.records).toEqual([{ host: 'leaf01', hostname: 'leaf01' }, { host: 'leaf02', hostname: 'leaf02' }]);
    expect(saved.elements.service.status).toBe('partial');
  });

  it('refuses an existing name before connecting, and an unknown target with a suggestion', async () => {
    saveSnapshot(folder, buildSnapshot('pre', {}));
    await expect(runSnapshotCreate('pre', { folder, inventoryPath: inventory(), profile: profile(), createExec: factory, write })).rejects.toMatchObject({ code: 'RB1503', exitCode: 2 });
    await expect(runSnapshotCreate('new', { folder, inventoryPath: inventory(), profile: profile(), targets: ['leaf3'], createExec: factory, write })).rejects.toMatchObject({
      code: 'RB1508',
      message: expect.stringContaining('hosts: leaf01, leaf02, oob'),
    });
    expect(factory.opened.some((hosts) => hosts.includes('pre'))).toBe(false);
    expect(existsSync(join(folder, 'new.json'))).toBe(false);
  });

  it('exits 0 when every collector the profile has for a host succeeded; a host it covers not at all is one line', async () => {
    const code = await runSnapshotCreate('ok', { folder, inventoryPath: inventory(), profile: profile(), targets: ['leaf01', 'oob'], createExec: factory, write });
    expect(code).toBe(0);
    expect(output).toContain('note: profile mini has no collector for the platform of 1 host(s), so nothing was collected there: oob (linux)\n');
    expect(output).not.toContain('not collected on oob');
  });

  it('selects the hosts of a group (--group), and refuses an unknown group with a suggestion', async () => {
    const code = await runSnapshotCreate('leaves', { folder, inventoryPath: inventory(), profile: profile(), group: 'fabric', targets: ['leaf01,oob'], createExec: factory, write });
    expect(code).toBe(0);
    expect(loadSnapshot(folder, 'leaves').hosts.map((h) => h.name)).toEqual(['leaf01']);
    await expect(runSnapshotCreate('x', { folder, inventoryPath: inventory(), profile: profile(), group: 'fabirc', createExec: factory, write })).rejects.toMatchObject({
      code: 'RB1512',
      exitCode: 2,
      message: expect.stringContaining('did you mean `fabric`?'),
    });
  });

  it('keeps a note, shown by list, show and diff', async () => {
    await runSnapshotCreate('noted', { folder, inventoryPath: inventory(), profile: profile(), targets: ['leaf01'], note: 'before the VLAN change', createExec: factory, write });
    expect(loadSnapshot(folder, 'noted').note).toBe('before the VLAN change');
    output = '';
    runSnapshotList({ folder, format: 'text', write });
    expect(output).toMatch(/NOTE\n.*noted .*before the VLAN change\n/s);
    output = '';
    runSnapshotShow('noted', { folder, format: 'text', write });
    expect(output).toContain('\nnote: before the VLAN change\n');
    output = '';
    runDiff('noted', 'noted', { format: 'markdown', folder, write });
    expect(output).toContain('(note: before the VLAN change)');
  });
});
