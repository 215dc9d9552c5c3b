import net, { type AddressInfo, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, ClientInfo, Connection, ParsedKey, PseudoTtyInfo, ServerChannel, SFTPWrapper } from 'ssh2';
import type { CommandIo } from './shell.js';

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;

/** A device's files as SFTP sees them: bytes in, bytes out, and whether a path is a folder. */
export interface SftpFiles {
  read(path: string): Buffer | undefined;
  write(path: string, bytes: Buffer): void;
  isDirectory(path: string): boolean;
  exists(path: string): boolean;
  /** The absolute form of a path the client gave, relative to the user's home. */
  resolve(path: string, user: string): string;
}

/** Who may log in. */
export interface SshAuthPolicy {
  user: string;
  password: string;
  authorizedKeys: readonly ParsedKey[];
  /** True while every attempt must fail (the `wrongPassword` fault). */
  rejectAll(): boolean;
}

/** One command as the endpoint hands it to the device. */
export interface CommandSession {
  user: string;
  mode: 'exec' | 'shell';
  io: CommandIo;
  /** Aborts when the client goes away (channel or connection closed) or interrupts with ^C. */
  signal: AbortSignal;
  /** Cuts this command's connection at once, without an exit status. */
  dropConnection(): void;
}

export interface CommandRunner {
  /** The shell prompt before the session's `commandNumber`-th command (1-based). */
  prompt(commandNumber: number): string;
  /** Runs a command line; undefined when no exit status is to be sent (dropped or abandoned). */
  run(line: string, session: CommandSession): Promise<number | undefined>;
  /** The device's files, when it serves SFTP. */
  sftpFiles?(): SftpFiles | undefined;
  /** Logs a finished transfer (`get` or `put`) in the command log. */
  logTransfer?(user: string, operation: 'get' | 'put', path: string, ok: boolean): void;
}

export interface SshEndpointOptions {
  address: string;
  /** 0 picks a free port on the first listen; later listens reuse it. */
  port: number;
  /** OpenSSH private key text. */
  hostKey: string;
  /** Software version of the identification string (`SSH-2.0-<ident>`). */
  ident: string;
  auth: SshAuthPolicy;
  runner: CommandRunner;
}

const EXIT_INTERRUPTED = 130;

/** An SSH server on one address whose listener can be closed and reopened (reboots, outages). */
export class SshEndpoint {
  private server: net.Server | undefined;
  private readonly ssh: ssh2.Server;
  private readonly sockets = new Map<string, Socket>();
  private portNumber: number;

  constructor(private readonly options: SshEndpointOptions) {
    this.portNumber = options.port;
    this.ssh = new ssh2.Server({ hostKeys: [options.hostKey], ident: options.ident }, (client, info) =>
      this.onClient(client, info),
    );
  }

  get port(): number {
    return this.portNumber;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async listen(): Promise<void> {
    if (this.server !== undefined) return;
    const server = net.createServer((socket) => this.onSocket(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.options.address, port: this.portNumber, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.portNumber = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Closes the listener (new connections are refused) once its connections are gone. */
  async stopListening(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * `graceful` flushes what was written (the exit status of `reboot`) before closing, as a host
   * going down does; `abrupt` resets at once.
   */
  dropConnections(how: 'graceful' | 'abrupt'): void {
    for (const socket of this.sockets.values()) {
      if (how === 'abrupt') {
        socket.destroy();
      } else {
        socket.once('finish', () => socket.destroy());
        socket.end();
        setTimeout(() => socket.destroy(), 500).unref();
      }
    }
  }

  async close(): Promise<void> {
    const stopped = this.stopListening();
    this.dropConnections('abrupt');
    await stopped;
  }

  private onSocket(socket: Socket): void {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    this.sockets.set(key, socket);
    socket.once('close', () => this.sockets.delete(key));
    // Small interactive writes; Nagle plus delayed ACKs would add ~40 ms per round trip.
    socket.setNoDelay(true);
    // Clients vanish mid-conversation all the time in the lab (reboots, killed processes).
    socket.on('error', () => {});
    this.ssh.injectSocket(socket);
  }

  private onClient(client: Connection, info: ClientInfo): void {
    const socket = this.sockets.get(`${info.ip}:${info.port}`);
    const closed = new AbortController();
    const dropConnection = (): void => {
      socket?.destroy();
    };
    let user = '';
    client.on('error', () => {});
    client.on('close', () => closed.abort());
    client.on('authentication', (context) => {
      if (this.authenticate(context)) user = context.username;
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        let pty: PseudoTtyInfo | undefined;
        session.on('pty', (acceptPty, _reject, ptyInfo) => {
          pty = ptyInfo;
          acceptPty?.();
        });
        session.on('window-change', (acceptChange) => acceptChange?.());
        session.on('env', (acceptEnv) => acceptEnv?.());
        session.on('auth-agent', (_accept, reject) => reject?.());
        session.on('x11', (_accept, reject) => reject?.());
        session.on('sftp', (accept, reject) => {
          const files = this.options.runner.sftpFiles?.();
          if (files === undefined || accept === undefined) return reject?.();
          this.serveSftp(accept(), files, user);
        });
        session.on('subsystem', (_accept, reject) => reject?.());
        session.on('exec', (acceptExec, _reject, execInfo) => {
          const terminal = new Terminal(acceptExec(), pty !== undefined, closed.signal);
          void this.runExec(terminal, execInfo.command, user, dropConnection);
        });
        session.on('shell', (acceptShell) => {
          const terminal = new Terminal(acceptShell(), pty !== undefined, closed.signal);
          void this.runShell(terminal, user, dropConnection);
        });
      });
    });
    client.on('tcpip', (_accept, reject) => reject());
    client.on('request', (_accept, reject) => reject?.());
  }

  /**
   * Enough SFTP for whole-file transfers (ssh2's fastGet/fastPut, OpenSSH's sftp get/put): open,
   * read, write, stat, close, realpath. A file is read from the device when opened and written to
   * it when closed, so a transfer cut off half-way leaves the old file as it was.
   */
  private serveSftp(sftp: SFTPWrapper, files: SftpFiles, user: string): void {
    const open = new Map<number, { path: string; write: boolean; data: Buffer }>();
    let next = 1;
    const handleOf = (buffer: Buffer) => (buffer.length === 4 ? open.get(buffer.readUInt32BE(0)) : undefined);
    const attrsOf = (size: number, directory = false) => ({ mode: directory ? 0o40755 : 0o100644, uid: 0, gid: 0, size, atime: 0, mtime: 0 });
    const runner = this.options.runner;
    sftp.on('OPEN', (reqid, filename, flags) => {
      const path = files.resolve(filename, user);
      const write = (flags & OPEN_MODE.WRITE) !== 0;
      const existing = files.read(path);
      if (files.isDirectory(path)) return sftp.status(reqid, STATUS_CODE.FAILURE, `${filename} is a directory`);
      if (!write && existing === undefined) {
        runner.logTransfer?.(user, 'get', path, false);
        return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
      }
      if (write && existing === undefined && (flags & OPEN_MODE.CREAT) === 0) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
      if (write && !files.isDirectory(path.replace(/\/[^/]*$/, '') || '/')) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such directory');
      const id = next++;
      const truncate = (flags & OPEN_MODE.TRUNC) !== 0 || existing === undefined;
      open.set(id, { path, write, data: truncate && write ? Buffer.alloc(0) : (existing ?? Buffer.alloc(0)) });
      const handle = Buffer.alloc(4);
      handle.writeUInt32BE(id, 0);
      sftp.handle(reqid, handle);
    });
    sftp.on('READ', (reqid, handle, offset, length) => {
      const file = handleOf(handle);
      if (file === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
      if (offset >= file.data.length) return sftp.status(reqid, STATUS_CODE.EOF);
      sftp.data(reqid, file.data.subarray(offset, Math.min(file.data.length, offset + length)));
    });
    sftp.on('WRITE', (reqid, handle, offset, data) => {
      const file = handleOf(handle);
      if (file === undefined || !file.write) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
      const end = offset + data.length;
      if (end > file.data.length) {
        const grown = Buffer.alloc(end);
        file.data.copy(grown);
        file.data = grown;
      }
      data.copy(file.data, offset);
      sftp.status(reqid, STATUS_CODE.OK);
    });
    sftp.on('FSTAT', (reqid, handle) => {
      const file = handleOf(handle);
      if (file === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
      sftp.attrs(reqid, attrsOf(file.data.length));
    });
    const stat = (reqid: number, filename: string) => {
      const path = files.resolve(filename, user);
      if (files.isDirectory(path)) return sftp.attrs(reqid, attrsOf(4096, true));
      const data = files.read(path);
      if (data === undefined) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE, 'No such file');
      sftp.attrs(reqid, attrsOf(data.length));
    };
    sftp.on('STAT', stat);
    sftp.on('LSTAT', stat);
    sftp.on('FSETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK));
    sftp.on('SETSTAT', (reqid) => sftp.status(reqid, STATUS_CODE.OK));
    sftp.on('REALPATH', (reqid, filename) => {
      const path = files.resolve(filename, user);
      sftp.name(reqid, [{ filename: path, longname: path, attrs: attrsOf(0, files.isDirectory(path)) }]);
    });
    sftp.on('CLOSE', (reqid, handle) => {
      const file = handleOf(handle);
      if (file === undefined) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle');
      open.delete(handle.readUInt32BE(0));
      if (file.write) files.write(file.path, file.data);
      runner.logTransfer?.(user, file.write ? 'put' : 'get', file.path, true);
      sftp.status(reqid, STATUS_CODE.OK);
    });
    for (const unsupported of ['OPENDIR', 'READDIR', 'REMOVE', 'RMDIR', 'MKDIR', 'RENAME', 'READLINK', 'SYMLINK'] as const) {
      sftp.on(unsupported, (reqid: number) => sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED, `the lab does not simulate ${unsupported}`));
    }
  }

  private authenticate(context: AuthContext): boolean {
    const { auth } = this.options;
    const methods: Array<'password' | 'publickey'> = ['publickey', 'password'];
    if (auth.rejectAll() || context.username !== auth.user) {
      context.reject(methods);
      return false;
    }
    if (context.method === 'password' && context.password === auth.password) {
      context.accept();
      return true;
    }
    if (context.method === 'publickey') {
      const key = auth.authorizedKeys.find((candidate) => candidate.getPublicSSH().equals(context.key.data));
      // Without a signature the client only asks whether the key would do.
      const valid =
        key !== undefined &&
        (context.signature === undefined || key.verify(context.blob ?? Buffer.alloc(0), context.signature, context.hashAlgo));
      if (valid) {
        context.accept();
        return context.signature !== undefined;
      }
    }
    context.reject(methods);
    return false;
  }

  private async runExec(terminal: Terminal, command: string, user: string, dropConnection: () => void): Promise<void> {
    const interrupt = new AbortController();
    terminal.onInterrupt = () => interrupt.abort();
    const signal = AbortSignal.any([terminal.signal, interrupt.signal]);
    const code = await this.options.runner.run(command.trim(), {
      user,
      mode: 'exec',
      io: terminal.commandIo(signal, () => {}),
      signal,
      dropConnection,
    });
    terminal.finish(code ?? EXIT_INTERRUPTED);
  }

  private async runShell(terminal: Terminal, user: string, dropConnection: () => void): Promise<void> {
    let interrupt: AbortController | undefined;
    terminal.onInterrupt = () => (interrupt ? interrupt.abort() : terminal.pushLine(''));
    let commandNumber = 1;
    let exitCode: number | undefined;
    while (!terminal.closed && exitCode === undefined) {
      terminal.write(this.options.runner.prompt(commandNumber));
      const line = await terminal.nextLine();
      if (line === undefined) break;
      if (line.trim() === '') continue;
      commandNumber++;
      interrupt = new AbortController();
      let closeRequested = false;
      const signal = AbortSignal.any([terminal.signal, interrupt.signal]);
      const code = await this.options.runner.run(line.trim(), {
        user,
        mode: 'shell',
        io: terminal.commandIo(signal, () => (closeRequested = true)),
        signal,
        dropConnection,
      });
      interrupt = undefined;
      if (closeRequested) exitCode = code ?? 0;
    }
    terminal.finish(exitCode ?? 0);
  }
}

/**
 * One channel seen as a terminal: with a PTY, input is echoed and edited a line at a time (^C
 * interrupts, ^D on an empty line ends input) and output lines end in CRLF; without one, input is
 * plain lines of stdin.
 */
class Terminal {
  closed = false;
  onInterrupt: () => void = () => {};
  private readonly lines: string[] = [];
  private readonly waiters: Array<(line: string | undefined) => void> = [];
  private readonly aborted = new AbortController();
  private inputEnded = false;
  private partial = '';
  private lastWasCr = false;
  private inEscape = false;

  private readonly onConnectionClosed = (): void => this.markClosed();

  constructor(
    private readonly channel: ServerChannel,
    private readonly pty: boolean,
    private readonly connectionClosed: AbortSignal,
  ) {
    channel.on('data', (data: Buffer) => this.input(data.toString('utf8')));
    channel.on('end', () => this.endInput());
    channel.on('close', () => this.markClosed());
    // Writes racing a client that left are expected; the close event does the cleanup.
    channel.on('error', () => {});
    connectionClosed.addEventListener('abort', this.onConnectionClosed, { once: true });
  }

  /** Aborts when the channel or its connection closes. */
  get signal(): AbortSignal {
    return this.aborted.signal;
  }

  write(text: string): void {
    if (!this.closed) this.channel.write(this.pty ? text.replace(/\r?\n/g, '\r\n') : text);
  }

  writeError(text: string): void {
    // A terminal has one output stream; stderr only exists apart without a PTY.
    if (this.pty) this.write(text);
    else if (!this.closed) this.channel.stderr.write(text);
  }

  /** The command's view of this terminal; `ask` gives up when `signal` aborts. */
  commandIo(signal: AbortSignal, close: () => void): CommandIo {
    return {
      out: (text) => this.write(text),
      err: (text) => this.writeError(text),
      ask: (prompt) => {
        this.write(prompt);
        return this.nextLine(signal);
      },
      close,
    };
  }

  nextLine(signal?: AbortSignal): Promise<string | undefined> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.inputEnded || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        resolve(undefined);
      };
      const waiter = (value: string | undefined): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  pushLine(line: string): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(line);
    else this.lines.push(line);
  }

  finish(code: number): void {
    if (this.closed) return;
    this.channel.exit(code);
    this.channel.end();
    this.markClosed();
  }

  private input(text: string): void {
    if (!this.pty) {
      this.partial += text;
      let newline: number;
      while ((newline = this.partial.indexOf('\n')) >= 0) {
        this.pushLine(this.partial.slice(0, newline).replace(/\r$/, ''));
        this.partial = this.partial.slice(newline + 1);
      }
      return;
    }
    for (const char of text) this.inputCooked(char);
  }

  private inputCooked(char: string): void {
    const wasCr = this.lastWasCr;
    this.lastWasCr = char === '\r';
    if (this.inEscape) {
      // CSI sequences (arrow keys) end with a byte in @..~; the `[` that opens them does not count.
      if (char !== '[' && char >= '@' && char <= '~') this.inEscape = false;
      return;
    }
    if (char === '\x1b') this.inEscape = true;
    else if (char === '\n' && wasCr) return;
    else if (char === '\r' || char === '\n') {
      this.write('\n');
      const line = this.partial;
      this.partial = '';
      this.pushLine(line);
    } else if (char === '\x7f' || char === '\b') {
      if (this.partial.length > 0) {
        this.partial = this.partial.slice(0, -1);
        this.write('\b \b');
      }
    } else if (char === '\x03') {
      this.write('^C\n');
      this.partial = '';
      this.onInterrupt();
    } else if (char === '\x04') {
      if (this.partial === '') this.endInput();
    } else if (char >= ' ' || char === '\t') {
      this.partial += char;
      this.write(char);
    }
  }

  private endInput(): void {
    if (this.inputEnded) return;
    if (this.partial !== '') this.pushLine(this.partial);
    this.partial = '';
    this.inputEnded = true;
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    // Connections outlive many channels; do not leave a listener per channel behind.
    this.connectionClosed.removeEventListener('abort', this.onConnectionClosed);
    this.endInput();
    this.aborted.abort();
  }
}
