// Real ptys for the port tests, two kinds:
// - ptyPeer(): a pty from the project's own openpty (backend-epoll `sys`). The port under test opens the slave
//   (/dev/pts/N); the test talks to the master through a PtyPeer. No outside tool: most tests use this.
// - socatPair(): `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`, two ptys joined by a process. Only
//   for what needs that process: a device that vanishes (socat killed: both sides hang up) and comes back on the
//   same path, and link paths that appear and disappear (hot-plug).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Interest, createRuntime, type Runtime, type Watcher } from '@fdloop/core';
import { epoll, sys } from '@fdloop/backend-epoll';

export interface SocatPair {
  readonly a: string;
  readonly b: string;
  readonly dir: string;
  /** Kill socat (both ptys hang up) and wait until it exited and removed its links. */
  stop(): Promise<void>;
  /** Start socat again with the same links. */
  start(): Promise<void>;
  /** stop() and remove the directory. */
  dispose(): Promise<void>;
}

const pairs = new Set<SocatPair>();

async function until(what: string, check: () => boolean, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function socatPair(): Promise<SocatPair> {
  const dir = mkdtempSync(join(tmpdir(), 'fdloop-serial-'));
  const a = join(dir, 'A');
  const b = join(dir, 'B');
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const pair: SocatPair = {
    a,
    b,
    dir,
    async start() {
      const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      proc = child;
      exited = new Promise((resolve) => child.once('exit', () => resolve()));
      // "starting data transfer loop" is printed once both ptys and links exist.
      await until(`socat to start (${stderr})`, () => /starting data transfer loop/.test(stderr) && existsSync(a) && existsSync(b));
    },
    async stop() {
      if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      proc = undefined;
    },
    async dispose() {
      pairs.delete(pair);
      await pair.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await pair.start();
  pairs.add(pair);
  return pair;
}

/**
 * The test's side of a pty: the master of a pair from `sys.openpty()`, driven by a runtime of its own (so it
 * never shares a watcher slot with the port under test). What the port writes to `path` arrives in `chunks()` /
 * `read()`; what `write()` sends arrives at the port. Bytes the test does not consume stay in the kernel, so a
 * peer that is not being read applies real backpressure to the port.
 */
export class PtyPeer {
  /** The slave's path, for `open()`. */
  readonly path: string;
  readonly master: number;
  private readonly slave: number;
  private readonly rt = createRuntime({ backend: epoll() });
  private watcher: Watcher | undefined;
  private readonly received: Buffer[] = [];
  private readonly pending: Buffer[] = [];
  private readonly writeWaiters: Array<() => void> = [];
  private wake: (() => void) | undefined;
  private reading = false;
  private closed = false;
  private readonly buf = Buffer.alloc(65536);

  constructor() {
    const { master, slave } = sys.openpty();
    this.master = master;
    // Held open for the pair's lifetime: the pty stays usable while the port under test closes and reopens it.
    this.slave = slave;
    this.path = readlinkSync(`/proc/self/fd/${slave}`);
  }

  /** Queue bytes for the port; resolves once the kernel took all of them. */
  write(data: string | Uint8Array): Promise<void> {
    this.pending.push(Buffer.from(data));
    this.flush();
    if (this.pending.length === 0) return Promise.resolve();
    this.update();
    return new Promise((resolve) => this.writeWaiters.push(resolve));
  }

  /** What the port sent, chunk by chunk, as it arrives; reading stops (backpressure) while nobody pulls. */
  async *chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      while (this.received.length > 0) yield this.received.shift() as Buffer;
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.reading = true;
        this.update();
      });
    }
  }

  /** Exactly `size` bytes from the port. */
  async read(size: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    for await (const chunk of this.chunks()) {
      const take = Math.min(chunk.byteLength, size - got);
      parts.push(chunk.subarray(0, take));
      if (take < chunk.byteLength) this.received.unshift(chunk.subarray(take));
      got += take;
      if (got >= size) break;
    }
    return Buffer.concat(parts);
  }

  /** Answer every chunk the port sends with `reply(chunk)`, until close(). */
  echo(reply: (chunk: Buffer) => string | Uint8Array): void {
    void (async () => {
      for await (const chunk of this.chunks()) await this.write(reply(chunk));
    })();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    this.wake?.();
    for (const w of this.writeWaiters.splice(0)) w();
    await this.rt.close();
    sys.close(this.master);
    sys.close(this.slave);
    peers.delete(this);
  }

  private onReady(): void {
    if (this.reading) {
      const n = sys.read(this.master, this.buf);
      if (n > 0) {
        this.received.push(Buffer.from(this.buf.subarray(0, n)));
        this.reading = false;
        const wake = this.wake;
        this.wake = undefined;
        wake?.();
      }
    }
    this.flush();
    this.update();
  }

  private flush(): void {
    while (this.pending.length > 0) {
      const head = this.pending[0] as Buffer;
      const n = sys.write(this.master, head);
      if (n === sys.WOULD_BLOCK) return;
      if (n < head.byteLength) this.pending[0] = head.subarray(n);
      else this.pending.shift();
    }
    for (const w of this.writeWaiters.splice(0)) w();
  }

  private update(): void {
    if (this.closed) return;
    const interest = (this.reading ? Interest.READABLE : 0) | (this.pending.length > 0 ? Interest.WRITABLE : 0);
    // Watched only while there is something to do: a level-triggered watch of a master nobody reads would spin.
    if (interest === 0) {
      this.watcher?.close();
      this.watcher = undefined;
    } else if (this.watcher === undefined) {
      this.watcher = this.rt.watch(this.master, interest, () => this.onReady());
    } else {
      this.watcher.modify(interest);
    }
  }
}

const peers = new Set<PtyPeer>();

/** A pty from openpty() and the test's side of it; closed by {@link disposeAllPairs}. */
export function ptyPeer(): PtyPeer {
  const peer = new PtyPeer();
  peers.add(peer);
  return peer;
}

export async function disposeAllPairs(): Promise<void> {
  await Promise.all([...pairs].map((p) => p.dispose()));
  await Promise.all([...peers].map((p) => p.close()));
}

export function runtime(): Runtime {
  return createRuntime({ backend: epoll() });
}

/** A deterministic pseudo-random buffer (xorshift32), so a failure can be reproduced. */
export function pattern(size: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export { until };
