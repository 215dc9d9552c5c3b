import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { askApproval } from '../../engine/commands/apply.js';

// An approval question on a terminal: the terminal is raw while it waits, so Ctrl-C arrives as a
// keystroke, not as a signal. It must stop the run as SIGINT does, not end it with an internal error.

const listeners: Array<() => void> = [];
afterEach(() => {
  for (const listener of listeners.splice(0)) process.off('SIGINT', listener);
});

function createTerminal() {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => input });
  return { input, output: new PassThrough() };
}

describe('askApproval', () => {
  it('takes y for yes', async () => {
    const terminal = createTerminal();
    const answer = askApproval({ host: 'h1', stepId: 'gate', message: 'Go on?' }, terminal);
    terminal.input.write('y\r');
    await expect(answer).resolves.toBe(true);
  });

  it('turns Ctrl-C at the prompt into SIGINT for the process, which stops the run', async () => {
    let signalled = 0;
    const onSigint = () => signalled++;
    listeners.push(onSigint);
    process.on('SIGINT', onSigint);
    const terminal = createTerminal();
    const answer = askApproval({ host: 'h1', stepId: 'gate', message: 'Go on?' }, terminal);
    terminal.input.write('\x03');
    await expect(answer).rejects.toThrow();
    expect(signalled).toBe(1);
  });
});
