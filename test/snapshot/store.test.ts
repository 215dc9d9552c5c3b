import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunbookError } from '../../engine/errors.js';
import {
  deleteSnapshot,
  listSnapshots,
  loadSnapshot,
  readProfile,
  resolveSnapshot,
  saveSnapshot,
} from '../../engine/io/snapshot-store.js';
import { bgp, buildSnapshot } from './build-snapshot.js';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'runbook-snapshots-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

function codeOf(action: () => unknown): { code: string; exitCode: number; message: string } {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(RunbookError);
    const e = error as RunbookError;
    return { code: e.code, exitCode: e.exitCode, message: e.message };
  }
  throw new Error('expected an error');
}

describe('snapshot store', () => {
  const snapshot = buildSnapshot('pre-upgrade', { bgp: [bgp('leaf01', 'swp51', 65199), bgp('leaf02', 'swp51', 65199)] }, { notCollected: { lldp: { leaf02: 'timeout' } } });

  it('saves a snapshot as reports/snapshots/<name>.json, one record per line, and loads it back equal', () => {
    const path = saveSnapshot(join(folder, 'reports', 'snapshots'), snapshot);
    expect(path).toBe(join(folder, 'reports', 'snapshots', 'pre-upgrade.json'));
    const text = readFileSync(path, 'utf8');
    expect(text).toContain('\n        {"host":"leaf01","vrf":"default","peer":"swp51","asn":65199,');
    expect(JSON.parse(text)).toEqual(snapshot);
    expect(loadSnapshot(join(folder, 'reports', 'snapshots'), 'pre-upgrade')).toEqual(snapshot);
    expect(readdirSync(join(folder, 'reports', 'snapshots'))).toEqual(['pre-upgrade.json']);
  });

  it('refuses to overwrite a snapshot, leaving the first one intact', () => {
    saveSnapshot(folder, snapshot);
    const other = buildSnapshot('pre-upgrade', {});
    const error = codeOf(() => saveSnapshot(folder, other));
    expect(error).toMatchObject({ code: 'RB1503', exitCode: 2 });
    expect(error.message).toMatch(/snapshot `pre-upgrade` already exists .*delete it first with `runbook snapshot delete pre-upgrade`/);
    expect(loadSnapshot(folder, 'pre-upgrade')).toEqual(snapshot);
    expect(readdirSync(folder)).toEqual(['pre-upgrade.json']);
  });

  it('refuses names that are not safe file names', () => {
    for (const name of ['../etc', '.hidden', 'a/b', '', 'a b']) {
      expect(codeOf(() => saveSnapshot(folder, { ...snapshot, name }))).toMatchObject({ code: 'RB1506', exitCode: 2 });
    }
  });

  it('lists snapshots with time, hosts, counts and what was not collected everywhere; an unreadable file is listed as such', () => {
    saveSnapshot(folder, snapshot);
    saveSnapshot(folder, buildSnapshot('post-upgrade', {}, { createdAt: '2024-05-01T11:00:00.000Z' }));
    writeFileSync(join(folder, 'broken.json'), '{"kind": "Snapshot"');
    const list = listSnapshots(folder);
    expect(list.map((s) => s.name)).toEqual(['broken', 'post-upgrade', 'pre-upgrade']);
    expect(list[0]).toMatchObject({ ok: false, error: expect.stringMatching(/not a snapshot, the JSON does not parse/) });
    expect(list[2]).toMatchObject({
      ok: true,
      createdAt: '2024-05-01T10:00:00.000Z',
      hosts: ['leaf01', 'leaf02'],
      counts: expect.objectContaining({ bgp: 2, lldp: 0, route: 0 }),
      incomplete: ['lldp'],
    });
  });

  it('deletes a snapshot, and says which exist when the name is wrong', () => {
    saveSnapshot(folder, snapshot);
    expect(deleteSnapshot(folder, 'pre-upgrade')).toBe(join(folder, 'pre-upgrade.json'));
    expect(readdirSync(folder)).toEqual([]);
    saveSnapshot(folder, snapshot);
    expect(codeOf(() => deleteSnapshot(folder, 'pre-upgrad'))).toMatchObject({ code: 'RB1502', exitCode: 2, message: expect.stringMatching(/did you mean `pre-upgrade`\?/) });
    expect(codeOf(() => loadSnapshot(folder, 'nothing'))).toMatchObject({ code: 'RB1502' });
  });

  it('resolves a snapshot by name or by path, and refuses a file that is not a snapshot', () => {
    saveSnapshot(folder, snapshot);
    expect(resolveSnapshot(folder, 'pre-upgrade').name).toBe('pre-upgrade');
    expect(resolveSnapshot(join(folder, 'elsewhere'), join(folder, 'pre-upgrade.json')).name).toBe('pre-upgrade');
    writeFileSync(join(folder, 'plan.json'), JSON.stringify({ kind: 'Plan' }));
    expect(codeOf(() => resolveSnapshot(folder, join(folder, 'plan.json')))).toMatchObject({ code: 'RB1504', message: expect.stringContaining('`kind` is `Plan`') });
    writeFileSync(join(folder, 'bad.json'), JSON.stringify({ ...snapshot, elements: { ...snapshot.elements, bgp: { ...snapshot.elements.bgp, records: [{ host: 'x' }] } } }));
    expect(codeOf(() => resolveSnapshot(folder, join(folder, 'bad.json')))).toMatchObject({ code: 'RB1504', message: expect.stringContaining('/elements/bgp/records/0') });
    expect(codeOf(() => resolveSnapshot(folder, 'missing/x.json'))).toMatchObject({ code: 'RB1502' });
  });
});

describe('profile files', () => {
  it('finds a profile by name in the given folders, or by path, with positioned errors for a bad one', () => {
    writeFileSync(join(folder, 'mine.yaml'), 'apiVersion: runbook/v1\nkind: Profile\nmetadata: { name: mine }\ncollectors:\n  - { element: node, command: uname -n, text: { match: "^(?<hostname>\\\\S+)$" } }\n');
    expect(readProfile('mine', [folder]).name).toBe('mine');
    expect(readProfile(join(folder, 'mine.yaml')).collectors).toHaveLength(1);
    expect(codeOf(() => readProfile('mne', [folder]))).toMatchObject({ code: 'RB1507', message: expect.stringContaining('did you mean `mine`?') });
    writeFileSync(join(folder, 'bad.yaml'), 'apiVersion: runbook/v1\nkind: Profile\nmetadata: { name: bad }\ncollectors:\n  - { element: node, command: x, json: { fields: { versoin: v } } }\n');
    try {
      readProfile('bad', [folder]);
      expect.unreachable();
    } catch (error) {
      expect((error as RunbookError).exitCode).toBe(2);
      expect((error as RunbookError).diagnostics[0]).toMatchObject({ code: 'RB1101', line: 5, message: expect.stringContaining('did you mean `version`?') });
    }
  });

  it('finds the shipped fabric profile by name', () => {
    expect(readProfile('fabric').name).toBe('fabric');
  });
});
