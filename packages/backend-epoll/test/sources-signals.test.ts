// Signals inside Node (issue 3, section 3): a signal sent to the process goes to any thread that does not block
// it, and Node runs many threads. These tests run a child process with extra threads (worker_threads, the libuv
// pool), a Node `process.on('SIGUSR2')` listener AND an fdloop subscription, and send it real signals with the
// `kill` command, one at a time (standard signals sent while one is still pending merge into one: that is the
// kernel's rule, so each send waits for the previous delivery).
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/signal-child.mjs', import.meta.url));

class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private buffer = '';

  constructor() {
    this.proc = spawn(process.execPath, [FIXTURE], { stdio: 'pipe' });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, i));
        this.buffer = this.buffer.slice(i + 1);
      }
      this.waiter?.();
    });
  }

  /** The next line starting with `prefix` (lines before it with other prefixes are kept). */
  async next(prefix: string, ms = 10000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) return this.lines.splice(i, 1)[0] as string;
      if (Date.now() > deadline || this.proc.exitCode !== null) {
        throw new Error(`no "${prefix}" line from the child; got: ${JSON.stringify(this.lines)} (exit ${this.proc.exitCode})`);
      }
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 50);
      });
    }
  }

  has(prefix: string): boolean {
    return this.lines.some((l) => l.startsWith(prefix));
  }

  send(line: string): void {
    this.proc.stdin.write(`${line}\n`);
  }
}

let child: Child | undefined;
afterEach(() => {
  child?.proc.kill('SIGKILL');
  child = undefined;
});

function kill(args: string[]): void {
  const r = spawnSync('/bin/kill', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kill ${args.join(' ')} failed: ${r.stderr}`);
}

describe('signals inside Node', () => {
  it('delivers 100 of 100 `kill -USR2 <pid>` to the subscriber, none to Node, with every thread blocking it', async () => {
    child = new Child();
    const pid = Number((await child.next('ready ')).split(' ')[1]);
    child.send('masks');
    // Every thread, including V8's, the libuv pool's and three worker_threads (one created after subscribing).
    expect(await child.next('masks ')).toBe('masks 0');
    for (let i = 1; i <= 100; i++) {
      kill(['-USR2', String(pid)]);
      const line = await child.next(`got ${i} `);
      const [, , code, sender] = line.split(' ');
      expect(code).toBe('0'); // SI_USER: sent with kill(2)
      expect(Number(sender)).toBeGreaterThan(0);
    }
    expect(child.has('node ')).toBe(false);

    // Coexistence: after the subscription closes, the mask is restored and Node's own listener gets the signal.
    child.send('close');
    const closed = await child.next('closed ');
    expect(Number(closed.split(' ')[1])).toBeGreaterThan(0);
    kill(['-USR2', String(pid)]);
    expect(await child.next('node ')).toBe('node 1');
    child.send('exit');
  });

  it('reports the sigqueue value, SI_QUEUE and the sender pid', async () => {
    child = new Child();
    const pid = Number((await child.next('ready ')).split(' ')[1]);
    const sender = spawn('/bin/kill', ['-s', 'USR2', '-q', '42', String(pid)]);
    const senderPid = sender.pid;
    await new Promise((r) => sender.once('exit', r));
    const [, , code, from, value] = (await child.next('got 1 ')).split(' ');
    expect(code).toBe('-1'); // SI_QUEUE
    expect(Number(from)).toBe(senderPid);
    expect(value).toBe('42');
    child.send('exit');
  });
});
