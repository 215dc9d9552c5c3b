import { appendFileSync, fsync, mkdtempSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JOURNAL_FILE, openJournal, readJournal, type JournalOptions } from '../../engine/io/journal.js';
import type { RunEvent } from '../../engine/run/events.js';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'runbook-journal-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

const started = (host: string): RunEvent => ({ type: 'host.started', at: 1, host });

/** The real fsync, held until the test lets each call finish: the calls the journal made, in order. */
function createHeldFsync() {
  const calls: Array<{ fd: number; release: () => void; fail: (error: NodeJS.ErrnoException) => void }> = [];
  const fsyncFile: JournalOptions['fsync'] = (fd, done) => {
    calls.push({ fd, release: () => fsync(fd, done), fail: (error) => done(error) });
  };
  return { calls, fsync: fsyncFile };
}

const settled = async (promise: Promise<unknown>) => {
  let state = 'pending';
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return state;
};

describe('the run journal', () => {
  it('reads back what was appended, in order', async () => {
    const journal = openJournal(folder);
    journal.append(started('a'));
    journal.append(started('b'));
    await journal.persist();
    await journal.close();
    expect(readJournal(folder)).toEqual([started('a'), started('b')]);
  });

  it('gives callers that persist while an fsync runs one fsync after it, which covers all their writes', async () => {
    const held = createHeldFsync();
    const journal = openJournal(folder, { fsync: held.fsync });
    journal.append(started('a'));
    const first = journal.persist();
    expect(held.calls).toHaveLength(1);
    // Written after the first fsync began: it may not cover them.
    journal.append(started('b'));
    const second = journal.persist();
    journal.append(started('c'));
    const third = journal.persist();
    expect(third).toBe(second);
    expect(held.calls).toHaveLength(1);

    held.calls[0]!.release();
    await first;
    expect(await settled(second)).toBe('pending');
    await new Promise((resolve) => setImmediate(resolve));
    expect(held.calls).toHaveLength(2);
    // A write after the queued fsync began waits for one more.
    journal.append(started('d'));
    const fourth = journal.persist();
    expect(fourth).not.toBe(second);
    held.calls[1]!.release();
    await second;
    expect(await settled(fourth)).toBe('pending');
    await new Promise((resolve) => setImmediate(resolve));
    held.calls[2]!.release();
    await fourth;
    expect(held.calls).toHaveLength(3);
    await journal.close();
  });

  it('fails persist when the disk does', async () => {
    const held = createHeldFsync();
    const journal = openJournal(folder, { fsync: held.fsync });
    journal.append(started('a'));
    const persisted = journal.persist();
    held.calls[0]!.fail(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await expect(persisted).rejects.toThrow(/EIO/);
    await journal.close();
  });

  it('closes only after a running fsync is done with the file', async () => {
    const held = createHeldFsync();
    const journal = openJournal(folder, { fsync: held.fsync });
    journal.append(started('a'));
    const persisted = journal.persist();
    const closed = journal.close();
    expect(await settled(closed)).toBe('pending');
    // The real fsync on the descriptor: it would fail with EBADF had the file been closed already.
    held.calls[0]!.release();
    await persisted;
    await closed;
    expect(readJournal(folder)).toEqual([started('a')]);
  });
});

describe('the run journal off the happy path', () => {
  it('drops a last line cut off by a crash before appending, so nothing after it is lost', async () => {
    const first = openJournal(folder);
    first.append(started('a'));
    await first.close();
    appendFileSync(join(folder, JOURNAL_FILE), '{"type":"host.sta');
    const second = openJournal(folder);
    second.append(started('b'));
    await second.close();
    expect(readJournal(folder)).toEqual([started('a'), started('b')]);
    expect(readFileSync(join(folder, JOURNAL_FILE), 'utf8')).not.toContain('host.sta"');
  });

  it('after a failed write, writes nothing more, rejects persist with the file named, and closes quietly', async () => {
    let fail = false;
    const journal = openJournal(folder, {
      write: (fd, text) => {
        if (fail) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        writeSync(fd, text);
      },
    });
    journal.append(started('a'));
    fail = true;
    journal.append(started('b'));
    fail = false;
    journal.append(started('c'));
    await expect(journal.persist()).rejects.toMatchObject({ code: 'RB5001', message: expect.stringContaining(`cannot write the journal ${join(folder, JOURNAL_FILE)} (ENOSPC: no space left on device)`) });
    await expect(journal.close()).resolves.toBeUndefined();
    expect(readJournal(folder)).toEqual([started('a')]);
  });
});
