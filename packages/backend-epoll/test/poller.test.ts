// Backend-level tests of the epoll poller on real descriptors: batches, tokens and flags, the harvest loop,
// PRIORITY sources, error mapping, close semantics, keep-alive, GC and worker_threads. Runtime-level behaviour
// (watchers, run(), timers) is tested in @fdloop/core and the conformance suite.
import { execFile } from 'node:child_process';
import { openSync, closeSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { ErrnoError, Interest, InvalidArgumentError, Ready, type Poller } from '@fdloop/core';
import { type PollerRecording, recordPoller, settle, waitFor } from '@fdloop/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EPOLL_CAPABILITIES, createBackend, epoll, sys } from '../src/index.js';
import { loadNative } from '../src/native.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const run = promisify(execFile);

const open: Poller[] = [];
const fds: number[] = [];

afterEach(() => {
  for (const poller of open.splice(0)) poller.close();
  for (const fd of fds.splice(0)) sys.close(fd);
});

function track<T extends number[]>(...created: T): T {
  fds.push(...created);
  return created;
}

function recorder(batchSize = 64, maxRounds?: number): PollerRecording {
  const rec = recordPoller(maxRounds === undefined ? epoll() : epoll({ maxRounds }), { batchSize });
  open.push(rec.poller);
  return rec;
}

function errnoOf(name: string): number {
  return -(constants.errno as Record<string, number>)[name]!;
}

function expectErrno(fn: () => void, code: string, fd: number): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ErrnoError);
  expect(caught).toMatchObject({ code, errno: errnoOf(code), syscall: 'epoll_ctl', fd });
}

/** The epoll descriptors of this process (libuv's own loops included). */
function epollFdCount(): number {
  let count = 0;
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${entry}`) === 'anon_inode:[eventpoll]') count += 1;
    } catch {
      // The entry for the directory handle itself is gone by the time it is read; it is not an epoll fd anyway.
    }
  }
  return count;
}

describe('epoll backend', () => {
  it('describes itself', () => {
    const backend = epoll();
    expect(backend.name).toBe('epoll');
    expect(backend.capabilities).toBe(EPOLL_CAPABILITIES);
    expect(EPOLL_CAPABILITIES).toMatchObject({ edge: true, oneshot: true, priority: true, readHangup: true, timer: true, signal: true, notifier: true, pathWatch: true, processExit: true, fanotify: true, gpio: true, completionIo: false });
    expect(Object.isFrozen(EPOLL_CAPABILITIES)).toBe(true);
    expect(createBackend().name).toBe('epoll');
  });

  it('rejects invalid options', () => {
    expect(() => epoll({ maxRounds: 0 })).toThrow(InvalidArgumentError);
    expect(() => epoll({ maxRounds: 1.5 })).toThrow(InvalidArgumentError);
    const backend = epoll();
    const sink = { onEvents() {} };
    expect(() => backend.createPoller({ batchSize: 0, sink })).toThrow(InvalidArgumentError);
    expect(() => backend.createPoller({ batchSize: 2 ** 21, sink })).toThrow(InvalidArgumentError);
    expect(() => backend.createPoller({ batchSize: 8, sink: {} as never })).toThrow(InvalidArgumentError);
  });
});

describe('poller: batches', () => {
  it('delivers a readable pipe as one (token, flags) pair', async () => {
    const rec = recorder(16);
    const [r, w] = track(...sys.pipe());
    expect(rec.poller.events).toBeInstanceOf(Float64Array);
    expect(rec.poller.events.length).toBe(32);
    rec.poller.register(r, 12345, Interest.READABLE | Interest.ONESHOT);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.batches.length > 0, 'the event');
    await settle();
    expect(rec.batches).toEqual([1]);
    expect(rec.pairs).toEqual([[12345, Ready.READABLE]]);
  });

  it('reports tokens up to 2^53 - 1 exactly', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, Number.MAX_SAFE_INTEGER, Interest.READABLE | Interest.ONESHOT);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.pairs.length > 0, 'the event');
    expect(rec.pairs[0]).toEqual([Number.MAX_SAFE_INTEGER, Ready.READABLE]);
  });

  it('maps writable, read-hangup and hangup', async () => {
    const rec = recorder();
    const [a, b] = track(...sys.socketpair());
    rec.poller.register(a, 1, Interest.READABLE | Interest.WRITABLE | Interest.ONESHOT);
    await waitFor(() => rec.pairs.length > 0, 'writable');
    expect(rec.pairs[0]).toEqual([1, Ready.WRITABLE]);

    const [r, w] = sys.pipe();
    track(r);
    rec.poller.register(r, 2, Interest.READABLE | Interest.ONESHOT);
    sys.close(w);
    await waitFor(() => rec.pairs.some(([token]) => token === 2), 'hang-up of the pipe');
    // An empty pipe whose writer is gone reports HANGUP alone (Linux sets EPOLLIN only while data is queued).
    expect(rec.pairs.find(([token]) => token === 2)?.[1]).toBe(Ready.HANGUP);

    rec.poller.reregister(a, 3, Interest.READABLE | Interest.ONESHOT);
    sys.close(b);
    fds.splice(fds.indexOf(b), 1);
    await waitFor(() => rec.pairs.some(([token]) => token === 3), 'hang-up of the socket');
    const flags = rec.pairs.find(([token]) => token === 3)?.[1] ?? 0;
    expect(flags & (Ready.READABLE | Ready.READ_HANGUP | Ready.HANGUP)).toBe(Ready.READABLE | Ready.READ_HANGUP | Ready.HANGUP);
  });

  it('delivers 3000 ready descriptors in batches of at most batchSize, each token once', async () => {
    const rec = recorder(256);
    const count = 3000;
    for (let token = 0; token < count; token++) {
      const [fd] = track(sys.eventfd(1));
      rec.poller.register(fd as number, token, Interest.READABLE | Interest.ONESHOT);
    }
    await waitFor(() => rec.pairs.length >= count, `${count} events`);
    await settle();
    expect(rec.batches.length).toBeGreaterThanOrEqual(Math.ceil(count / 256));
    expect(Math.max(...rec.batches)).toBeLessThanOrEqual(256);
    expect(rec.batches.reduce((sum, n) => sum + n, 0)).toBe(count);
    const tokens = rec.pairs.map(([token]) => token).sort((x, y) => x - y);
    expect(tokens).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(rec.pairs.every(([, flags]) => flags === Ready.READABLE)).toBe(true);
  });

  it('drains at most maxRounds full batches before letting the loop turn', async () => {
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns += 1;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    try {
      for (const maxRounds of [1, 4]) {
        const rec = recorder(10, maxRounds);
        const turnOfBatch: number[] = [];
        rec.onBatch = () => turnOfBatch.push(turns);
        for (let token = 0; token < 100; token++) {
          const [fd] = track(sys.eventfd(1));
          rec.poller.register(fd as number, token, Interest.READABLE | Interest.ONESHOT);
        }
        await waitFor(() => rec.pairs.length >= 100, '100 events');
        const perTurn = new Map<number, number>();
        for (const turn of turnOfBatch) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
        expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(maxRounds);
        expect(perTurn.size).toBeGreaterThanOrEqual(Math.ceil(10 / maxRounds));
      }
    } finally {
      ticking = false;
    }
  });

  it('calls onEvents inside a callback scope: microtasks and nextTicks run before the next phase', async () => {
    const rec = recorder();
    const order: string[] = [];
    rec.onBatch = () => {
      setImmediate(() => order.push('immediate'));
      void Promise.resolve().then(() => order.push('promise'));
      process.nextTick(() => order.push('nextTick'));
      order.push('onEvents');
    };
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 1, Interest.READABLE | Interest.ONESHOT);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => order.includes('immediate'), 'the immediate');
    expect(order).toEqual(['onEvents', 'nextTick', 'promise', 'immediate']);
  });

  it('edge-triggered: one event per edge', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 5, Interest.READABLE | Interest.EDGE);
    sys.write(w, Buffer.from('a'));
    await waitFor(() => rec.pairs.length === 1, 'the first edge');
    await settle();
    expect(rec.pairs.length).toBe(1);
    sys.write(w, Buffer.from('b'));
    await waitFor(() => rec.pairs.length === 2, 'the second edge');
  });

  it('one-shot: disarmed after one event, re-armed by reregister', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 5, Interest.READABLE | Interest.ONESHOT);
    sys.write(w, Buffer.from('a'));
    await waitFor(() => rec.pairs.length === 1, 'the event');
    await settle();
    expect(rec.pairs.length).toBe(1);
    rec.poller.reregister(r, 6, Interest.READABLE | Interest.ONESHOT);
    await waitFor(() => rec.pairs.length === 2, 'the re-armed event');
    expect(rec.pairs[1]).toEqual([6, Ready.READABLE]);
  });

  it('deregister stops events', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 5, Interest.READABLE);
    rec.poller.deregister(r);
    sys.write(w, Buffer.from('a'));
    await settle();
    expect(rec.batches).toEqual([]);
  });

  it('two pollers on one thread are independent', async () => {
    const one = recorder();
    const two = recorder();
    const [r1, w1] = track(...sys.pipe());
    const [r2, w2] = track(...sys.pipe());
    one.poller.register(r1, 1, Interest.READABLE | Interest.ONESHOT);
    two.poller.register(r2, 2, Interest.READABLE | Interest.ONESHOT);
    sys.write(w1, Buffer.from('a'));
    sys.write(w2, Buffer.from('b'));
    await waitFor(() => one.pairs.length === 1 && two.pairs.length === 1, 'both events');
    expect(one.pairs).toEqual([[1, Ready.READABLE]]);
    expect(two.pairs).toEqual([[2, Ready.READABLE]]);
  });
});

describe('poller: priority sources', () => {
  it('reports PRIORITY for TCP urgent data (MSG_OOB) on loopback', async () => {
    const rec = recorder();
    const listener = sys.tcpListen('127.0.0.1', 0);
    track(listener.fd);
    rec.poller.register(listener.fd, 1, Interest.READABLE);
    const client = sys.tcpConnect('127.0.0.1', listener.port);
    track(client);
    rec.poller.register(client, 2, Interest.WRITABLE | Interest.ONESHOT);
    await waitFor(() => rec.pairs.some(([t]) => t === 1) && rec.pairs.some(([t]) => t === 2), 'accept and connect');
    expect(sys.socketError(client)).toBeNull();
    const server = sys.tcpAccept(listener.fd);
    expect(server).toBeGreaterThanOrEqual(0);
    track(server);
    rec.poller.deregister(listener.fd);

    rec.poller.register(server, 3, Interest.PRIORITY);
    expect(sys.send(client, Buffer.from('!'), sys.MSG_OOB)).toBe(1);
    await waitFor(() => rec.pairs.some(([t, f]) => t === 3 && (f & Ready.PRIORITY) !== 0), 'PRIORITY');
    const urgent = Buffer.alloc(1);
    expect(sys.recv(server, urgent, sys.MSG_OOB)).toBe(1);
    expect(urgent.toString()).toBe('!');
  });

  it('reports PRIORITY for a pty packet-mode status change', async () => {
    const rec = recorder();
    const { master, slave } = sys.openpty();
    track(master, slave);
    sys.ptyPacketMode(master, true);
    // The kernel wakes pty readers for status changes with an EPOLLIN key, so PRIORITY is only seen together with
    // READABLE on a pty master (the README notes this).
    rec.poller.register(master, 9, Interest.READABLE | Interest.PRIORITY | Interest.ONESHOT);
    // ^S typed into the terminal stops its output: a status change (TIOCPKT_STOP) for the master.
    sys.write(master, Buffer.from([0x13]));
    await waitFor(() => rec.pairs.length > 0, 'the status change');
    expect(rec.pairs[0]).toEqual([9, Ready.READABLE | Ready.PRIORITY]);
    const status = Buffer.alloc(8);
    expect(sys.read(master, status)).toBe(1);
    expect(status[0]).toBe(sys.PTY_PACKET.STOP);
  });
});

describe('poller: errors', () => {
  it('EBADF for a closed descriptor', () => {
    const { poller } = recorder();
    const [r, w] = sys.pipe();
    sys.close(r);
    sys.close(w);
    expectErrno(() => poller.register(r, 1, Interest.READABLE), 'EBADF', r);
  });

  it('EPERM for a regular file', () => {
    const { poller } = recorder();
    const path = join(tmpdir(), `fdloop-epoll-${process.pid}-${Date.now()}`);
    const fd = openSync(path, 'w');
    try {
      expectErrno(() => poller.register(fd, 1, Interest.READABLE), 'EPERM', fd);
    } finally {
      closeSync(fd);
      unlinkSync(path);
    }
  });

  it('EEXIST on a second register, ENOENT on reregister/deregister of an unknown descriptor', () => {
    const { poller } = recorder();
    const [r] = track(...sys.pipe());
    poller.register(r, 1, Interest.READABLE);
    expectErrno(() => poller.register(r, 2, Interest.READABLE), 'EEXIST', r);
    poller.deregister(r);
    expectErrno(() => poller.reregister(r, 1, Interest.READABLE), 'ENOENT', r);
    expectErrno(() => poller.deregister(r), 'ENOENT', r);
  });

  it('an error leaves the registration as it was', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 1, Interest.READABLE | Interest.ONESHOT);
    expect(() => rec.poller.register(r, 2, Interest.READABLE)).toThrow(ErrnoError);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.pairs.length > 0, 'the event');
    expect(rec.pairs[0]).toEqual([1, Ready.READABLE]);
  });

  it('rejects invalid arguments with InvalidArgumentError', () => {
    const { poller } = recorder();
    const [r] = track(...sys.pipe());
    for (const fd of [-1, 1.5, Number.NaN, '3' as unknown as number]) {
      expect(() => poller.register(fd, 1, Interest.READABLE)).toThrow(InvalidArgumentError);
    }
    for (const token of [-1, 0.5, 2 ** 53, Number.NaN]) {
      expect(() => poller.register(r, token, Interest.READABLE)).toThrow(InvalidArgumentError);
    }
    expect(() => poller.register(r, 1, 64)).toThrow(InvalidArgumentError);
    expect(() => poller.register(r, 1, -1)).toThrow(InvalidArgumentError);
  });

  it('EBADF naming the closed poller after close()', () => {
    const { poller } = recorder();
    const [r] = track(...sys.pipe());
    poller.close();
    expectErrno(() => poller.register(r, 1, Interest.READABLE), 'EBADF', r);
    expect(() => poller.register(r, 1, Interest.READABLE)).toThrow(/poller is closed/);
  });
});

describe('poller: close', () => {
  it('is idempotent, and no batch is delivered after it', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 1, Interest.READABLE);
    sys.write(w, Buffer.from('x'));
    rec.poller.close();
    rec.poller.close();
    rec.poller.ref();
    rec.poller.unref();
    await settle();
    expect(rec.batches).toEqual([]);
    expect(rec.poller.events.length).toBe(128);
  });

  it('close() inside onEvents stops the harvest loop at once', async () => {
    const rec = recorder(1, 8);
    rec.onBatch = () => rec.poller.close();
    for (let token = 0; token < 5; token++) {
      const [fd] = track(sys.eventfd(1));
      rec.poller.register(fd as number, token, Interest.READABLE);
    }
    await waitFor(() => rec.batches.length > 0, 'the first batch');
    await settle();
    expect(rec.batches).toEqual([1]);
  });

  it('releases its epoll descriptor', () => {
    const before = epollFdCount();
    const { poller } = recorder();
    expect(epollFdCount()).toBe(before + 1);
    poller.close();
    expect(epollFdCount()).toBe(before);
  });

  it('reports -EFAULT once if the events buffer is transferred away, instead of writing into it', async () => {
    const rec = recorder(4);
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 1, Interest.READABLE);
    const buffer = rec.poller.events.buffer as ArrayBuffer;
    structuredClone(buffer, { transfer: [buffer] });
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.batches.length > 0, 'the failure report');
    await settle();
    expect(rec.batches).toEqual([errnoOf('EFAULT')]);
  });
});

describe('poller: lifetime', () => {
  it('an open poller is not garbage collected even with no references left', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const [r, w] = track(...sys.pipe());
    const seen: number[] = [];
    (() => {
      const poller = epoll().createPoller({ batchSize: 4, sink: { onEvents: (count) => seen.push(count) } });
      poller.register(r, 1, Interest.READABLE | Interest.ONESHOT);
    })();
    for (let i = 0; i < 3; i++) {
      gc();
      await settle();
    }
    sys.write(w, Buffer.from('x'));
    await waitFor(() => seen.length > 0, 'the event of the unreferenced poller');
    expect(seen).toEqual([1]);
  });

  it('the native poller is retained while open and collectable once closed', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { Poller } = loadNative();
    const collected: number[] = [];
    const registry = new FinalizationRegistry<number>((index) => collected.push(index));
    (() => {
      for (let i = 0; i < 10; i++) {
        const poller = new Poller(8, () => {});
        registry.register(poller, i);
        // Pollers 5 to 9 stay open with nothing referring to them. They cannot be closed afterwards (anything that
        // could close them would also keep them alive); unref'd and without registrations, they cost one epoll
        // descriptor each until this test process exits.
        if (i < 5) poller.close();
      }
    })();
    for (let i = 0; i < 5; i++) {
      gc();
      await settle();
    }
    expect(collected.sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('starts unref\'d: an idle open poller does not keep the process alive', async () => {
    const { stdout } = await run(process.execPath, [fixture('child-poller.mjs'), 'unref']);
    expect(stdout).toBe('');
  });

  it('ref() keeps the process alive until the poller is closed', async () => {
    const { stdout } = await run(process.execPath, [fixture('child-poller.mjs'), 'ref']);
    expect(stdout).toBe('event\n');
  });

  it('an exception thrown by onEvents is an uncaught exception, not a crash', async () => {
    const failure = await run(process.execPath, [fixture('child-poller.mjs'), 'throw']).then(
      () => undefined,
      (error: { code?: number; signal?: string | null; stderr?: string }) => error,
    );
    expect(failure).toMatchObject({ code: 1, signal: null });
    expect(failure?.stderr).toContain('boom from onEvents');

    const { stdout } = await run(process.execPath, [fixture('child-poller.mjs'), 'caught']);
    expect(stdout).toBe('caught boom from onEvents\n');
  });
});

describe('poller: worker_threads', () => {
  function startWorker(mode: string): Worker {
    return new Worker(fixture('worker-poller.mjs'), { workerData: { mode } });
  }

  // Listen for 'exit' from the start: a worker that posts and ends at once has its last messages and 'exit'
  // emitted in the same tick, before code awaiting the message could add a listener.
  function exitCode(worker: Worker): Promise<number> {
    return new Promise((resolve) => worker.once('exit', resolve));
  }

  function nextMessage<T>(worker: Worker): Promise<T> {
    return new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  }

  it('a poller works in a worker, on the worker\'s own loop', async () => {
    const worker = startWorker('event');
    const exited = exitCode(worker);
    const message = await nextMessage<{ count: number; pairs: Array<[number, number]> }>(worker);
    expect(message).toEqual({ count: 1, pairs: [[77, Ready.READABLE]] });
    expect(await exited).toBe(0);
  });

  it('a worker that ends with an open poller closes it', async () => {
    const before = epollFdCount();
    const worker = startWorker('finish');
    const exited = exitCode(worker);
    const { fds: leftover } = await nextMessage<{ fds: number[] }>(worker);
    track(...leftover);
    expect(await exited).toBe(0);
    // The worker's libuv loop and its poller are both gone.
    await waitFor(() => epollFdCount() === before, 'the epoll descriptors to be closed');
  });

  it('terminating a worker that holds 1,000 busy registrations leaves this process healthy', async () => {
    const before = epollFdCount();
    for (let round = 0; round < 3; round++) {
      const worker = startWorker('hold');
      const { fds: held } = await nextMessage<{ fds: number[] }>(worker);
      expect(held.length).toBe(1000);
      expect(await worker.terminate()).toBe(1);
      // The descriptors belong to the process, not the worker: close them as their owner would have.
      for (const fd of held) sys.close(fd);
    }
    // A worker terminated while still starting up.
    const early = startWorker('hold');
    await new Promise((resolve) => early.once('online', resolve));
    await early.terminate();

    await waitFor(() => epollFdCount() === before, 'the epoll descriptors to be closed');
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 4, Interest.READABLE | Interest.ONESHOT);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.pairs.length > 0, 'an event on the main thread');
    expect(rec.pairs).toEqual([[4, Ready.READABLE]]);
  });
});
