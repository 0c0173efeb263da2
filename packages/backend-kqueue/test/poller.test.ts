// Backend-level tests of the kqueue poller, run on Linux against the kqueue emulation (test/emulation): the
// poller's real code (registration table, filter transitions, EV_RECEIPT handling, per-batch merging of filters,
// ONESHOT across filters, EV_EOF mapping) on real pipes, socketpairs and TCP on 127.0.0.1, plus what it shares with
// backend-epoll (batches, close, lifetime, worker threads). The conformance suite is in conformance.test.ts.
import { execFile } from 'node:child_process';
import { closeSync, openSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { ErrnoError, Interest, InvalidArgumentError, Ready, UnsupportedError, type Poller } from '@fdloop/core';
import { type PollerRecording, recordPoller, settle, waitFor } from '@fdloop/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createKqueueBackend, kqueueCapabilities } from '../src/backend.js';
import { KQUEUE_CAPABILITIES, createBackend, kqueue } from '../src/index.js';
import { emulatedBinding, emulatedKqueue, priorityPair, sys } from './emulated.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const run = promisify(execFile);

const open: Poller[] = [];
const fds: number[] = [];

afterEach(() => {
  for (const poller of open.splice(0)) poller.close();
  for (const fd of fds.splice(0)) {
    try {
      sys.close(fd);
    } catch {
      // Closed by the test.
    }
  }
});

function track<T extends number[]>(...created: T): T {
  fds.push(...created);
  return created;
}

function recorder(batchSize = 64, maxRounds?: number): PollerRecording {
  const rec = recordPoller(emulatedKqueue(maxRounds === undefined ? undefined : { maxRounds }), { batchSize });
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
  expect(caught).toMatchObject({ code, errno: errnoOf(code), syscall: 'kevent', fd });
}

/** The epoll descriptors of this process: libuv's loops, and the emulated kqueues (each is an epoll instance). */
function epollFdCount(): number {
  let count = 0;
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${entry}`) === 'anon_inode:[eventpoll]') count += 1;
    } catch {
      // The directory handle's own entry is gone by the time it is read.
    }
  }
  return count;
}

describe('kqueue backend (emulated kqueue on Linux)', () => {
  it('describes itself; the emulated build reports out-of-band data as macOS does', () => {
    const backend = emulatedKqueue();
    expect(backend.name).toBe('kqueue');
    expect(backend.capabilities).toEqual(kqueueCapabilities(true));
    expect(backend.capabilities).toEqual(KQUEUE_CAPABILITIES);
    expect(kqueueCapabilities(false)).toMatchObject({ edge: true, oneshot: true, priority: false, readHangup: true, signal: true });
    expect(Object.isFrozen(backend)).toBe(true);
  });

  it('kqueue() and createBackend() refuse to load on Linux, saying why', () => {
    expect(() => kqueue()).toThrow(/kqueue exists on macOS and FreeBSD; this is linux \(use @fdloop\/backend-epoll\)/);
    expect(() => createBackend()).toThrow(/macOS and FreeBSD/);
  });

  it('rejects invalid options', () => {
    for (const maxRounds of [0, 1025, 1.5, Number.NaN, '2']) {
      expect(() => createKqueueBackend(emulatedBinding, { maxRounds: maxRounds as number })).toThrow(InvalidArgumentError);
    }
    expect(() => emulatedKqueue().createPoller({ batchSize: 0, sink: { onEvents() {} } })).toThrow(InvalidArgumentError);
    expect(() => emulatedKqueue().createPoller({ batchSize: 2 ** 20 + 1, sink: { onEvents() {} } })).toThrow(InvalidArgumentError);
    expect(() => emulatedKqueue().createPoller({ batchSize: 4, sink: {} as never })).toThrow(InvalidArgumentError);
  });
});

describe('poller: filters and flags (emulated kqueue)', () => {
  it('reports a readable pipe as one pair with the token verbatim, up to 2^53 - 1', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 2 ** 53 - 1, Interest.READABLE | Interest.ONESHOT);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.pairs.length > 0, 'an event');
    expect(rec.pairs).toEqual([[2 ** 53 - 1, Ready.READABLE]]);
  });

  it('merges EVFILT_READ and EVFILT_WRITE of one descriptor into one pair per batch', async () => {
    const rec = recorder();
    const [a, b] = track(...sys.socketpair());
    sys.write(b, Buffer.from('x'));
    rec.poller.register(a, 5, Interest.READABLE | Interest.WRITABLE | Interest.ONESHOT);
    await waitFor(() => rec.pairs.length > 0, 'an event');
    await settle();
    expect(rec.batches).toEqual([1]);
    expect(rec.pairs).toEqual([[5, Ready.READABLE | Ready.WRITABLE]]);
  });

  it('ONESHOT covers every filter of a registration: the one that did not fire is disabled until re-armed', async () => {
    const rec = recorder();
    const [a, b] = track(...sys.socketpair());
    // Only writable now; readable comes later and must not be reported before the re-arm.
    rec.poller.register(a, 6, Interest.READABLE | Interest.WRITABLE | Interest.ONESHOT);
    await waitFor(() => rec.pairs.length > 0, 'the writable event');
    expect(rec.pairs).toEqual([[6, Ready.WRITABLE]]);
    sys.write(b, Buffer.from('x'));
    await settle();
    expect(rec.pairs.length).toBe(1);
    rec.poller.reregister(a, 7, Interest.READABLE | Interest.ONESHOT);
    await waitFor(() => rec.pairs.length > 1, 'the re-armed event');
    expect(rec.pairs[1]).toEqual([7, Ready.READABLE]);
  });

  it('EDGE (EV_CLEAR): one report per arrival', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 1, Interest.READABLE | Interest.EDGE);
    sys.write(w, Buffer.from('a'));
    await waitFor(() => rec.pairs.length === 1, 'the first edge');
    await settle();
    expect(rec.pairs.length).toBe(1);
    sys.write(w, Buffer.from('b'));
    await waitFor(() => rec.pairs.length === 2, 'the second edge');
  });

  it('reregister switches modes (a knote keeps its mode, so the poller deletes and re-adds it)', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 1, Interest.READABLE | Interest.EDGE);
    sys.write(w, Buffer.from('a'));
    await waitFor(() => rec.pairs.length === 1, 'the edge');
    rec.poller.reregister(r, 2, Interest.READABLE);
    // Level-triggered now: the unread byte is reported again and again.
    await waitFor(() => rec.pairs.filter(([token]) => token === 2).length >= 3, 'level reports');
    rec.poller.reregister(r, 3, Interest.READABLE | Interest.ONESHOT);
    const before = rec.pairs.length;
    await waitFor(() => rec.pairs.some(([token]) => token === 3), 'the oneshot report');
    await settle();
    expect(rec.pairs.slice(before).filter(([token]) => token === 3)).toEqual([[3, Ready.READABLE]]);
  });

  it('maps EV_EOF: READ_HANGUP on the read filter, HANGUP on the write filter', async () => {
    const rec = recorder();
    const [r1, w1] = track(...sys.pipe());
    rec.poller.register(r1, 1, Interest.READABLE);
    sys.close(w1);
    await waitFor(() => rec.pairs.some(([t]) => t === 1), 'the read end\'s EOF');
    expect(rec.pairs.find(([t]) => t === 1)).toEqual([1, Ready.READABLE | Ready.READ_HANGUP]);

    const [r2, w2] = track(...sys.pipe());
    rec.poller.register(w2, 2, Interest.WRITABLE | Interest.ONESHOT);
    await waitFor(() => rec.pairs.some(([t]) => t === 2), 'writable');
    expect(rec.pairs.find(([t]) => t === 2)).toEqual([2, Ready.WRITABLE]);
    sys.close(r2);
    rec.poller.reregister(w2, 3, Interest.WRITABLE | Interest.ONESHOT);
    await waitFor(() => rec.pairs.some(([t]) => t === 3), 'the write end\'s EOF');
    expect(rec.pairs.find(([t]) => t === 3)).toEqual([3, Ready.WRITABLE | Ready.HANGUP]);
  });

  it('a socket error comes with EV_EOF and is reported as ERROR', async () => {
    const rec = recorder();
    // A port nobody listens on: bind one, learn its number, close it, connect to it.
    const listener = sys.tcpListen();
    sys.close(listener.fd);
    const [client] = track(sys.tcpConnect(listener.port));
    rec.poller.register(client, 9, Interest.WRITABLE | Interest.ONESHOT);
    await waitFor(() => rec.pairs.length > 0, 'the refused connection');
    const [token, flags] = rec.pairs[0]!;
    expect(token).toBe(9);
    expect(flags & (Ready.ERROR | Ready.HANGUP)).toBe(Ready.ERROR | Ready.HANGUP);
  });

  it('PRIORITY: TCP urgent data through EVFILT_EXCEPT/NOTE_OOB, merged with READABLE', async () => {
    const rec = recorder();
    const pair = priorityPair();
    try {
      rec.poller.register(pair.fd, 3, Interest.PRIORITY | Interest.READABLE | Interest.ONESHOT);
      pair.trigger();
      await waitFor(() => rec.pairs.some(([, f]) => (f & Ready.PRIORITY) !== 0), 'a priority event');
      expect(rec.pairs[0]![0]).toBe(3);
    } finally {
      pair.close();
    }
  });

  it('PRIORITY is an UnsupportedError where kqueue does not report out-of-band data (FreeBSD)', () => {
    const freebsdLike = createKqueueBackend({ ...emulatedBinding, priority: false });
    expect(freebsdLike.capabilities.priority).toBe(false);
    const poller = freebsdLike.createPoller({ batchSize: 4, sink: { onEvents() {} } });
    open.push(poller);
    const [r] = track(...sys.pipe());
    expect(() => poller.register(r, 1, Interest.PRIORITY)).toThrow(UnsupportedError);
    expect(() => poller.register(r, 1, Interest.PRIORITY)).toThrow(/backend 'kqueue' does not support priority/);
    poller.register(r, 1, Interest.READABLE);
  });

  it('delivers 3000 ready descriptors in batches of at most batchSize, each token once', async () => {
    const rec = recorder(128);
    const tokens: number[] = [];
    for (let i = 0; i < 1500; i++) {
      const [a] = track(...sys.socketpair());
      rec.poller.register(a, 10_000 + i, Interest.WRITABLE | Interest.ONESHOT);
      tokens.push(10_000 + i);
      const [r, w] = track(...sys.pipe());
      sys.write(w, Buffer.from('x'));
      rec.poller.register(r, 20_000 + i, Interest.READABLE | Interest.ONESHOT);
      tokens.push(20_000 + i);
    }
    await waitFor(() => rec.pairs.length >= 3000, 'all 3000 events', 20_000);
    await settle();
    expect(rec.batches.every((n) => n > 0 && n <= 128)).toBe(true);
    expect(rec.pairs.map(([t]) => t).sort((x, y) => x - y)).toEqual(tokens.sort((x, y) => x - y));
  });

  it('drains at most maxRounds batches per wake-up and then lets the loop turn', async () => {
    const rec = recorder(1, 2);
    for (let token = 0; token < 6; token++) {
      const [r, w] = track(...sys.pipe());
      sys.write(w, Buffer.from('x'));
      rec.poller.register(r, token, Interest.READABLE | Interest.ONESHOT);
    }
    let turns = 0;
    rec.onBatch = () => {
      if (rec.batches.length % 2 === 1) setImmediate(() => (turns += 1));
    };
    await waitFor(() => rec.pairs.length === 6, 'six events');
    expect(new Set(rec.pairs.map(([t]) => t)).size).toBe(6);
    await settle();
    expect(turns).toBe(3);
  });

  it('a regular file is accepted (kqueue reports it readable), unlike epoll', async () => {
    const rec = recorder();
    const path = join(tmpdir(), `fdloop-kqueue-${process.pid}-regular`);
    const fd = openSync(path, 'w+');
    try {
      // The emulation cannot do this (epoll refuses regular files): it answers EPERM, which the real kqueue never
      // does. The test checks that the poller passes the kernel's answer through unchanged.
      expectErrno(() => rec.poller.register(fd, 1, Interest.READABLE), 'EPERM', fd);
      expectErrno(() => rec.poller.deregister(fd), 'ENOENT', fd);
    } finally {
      closeSync(fd);
      unlinkSync(path);
    }
  });
});

describe('poller: errors (emulated kqueue)', () => {
  it('EBADF for a closed descriptor; nothing is left registered', () => {
    const { poller } = recorder();
    const [r, w] = sys.pipe();
    sys.close(r);
    sys.close(w);
    expectErrno(() => poller.register(r, 1, Interest.READABLE | Interest.WRITABLE), 'EBADF', r);
    expectErrno(() => poller.reregister(r, 1, Interest.READABLE), 'EBADF', r);
    expectErrno(() => poller.deregister(r), 'EBADF', r);
  });

  it('EEXIST on a second register, ENOENT on reregister/deregister of an unknown descriptor', () => {
    const { poller } = recorder();
    const [r, w] = track(...sys.pipe());
    poller.register(r, 1, Interest.READABLE);
    expectErrno(() => poller.register(r, 2, Interest.WRITABLE), 'EEXIST', r);
    expectErrno(() => poller.reregister(w, 1, Interest.READABLE), 'ENOENT', w);
    expectErrno(() => poller.deregister(w), 'ENOENT', w);
    poller.deregister(r);
    expectErrno(() => poller.deregister(r), 'ENOENT', r);
  });

  it('an error leaves the registration as it was', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 1, Interest.READABLE | Interest.ONESHOT);
    expect(() => rec.poller.reregister(r, 2, 64)).toThrow(InvalidArgumentError);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.pairs.length > 0, 'the event');
    expect(rec.pairs).toEqual([[1, Ready.READABLE]]);
  });

  it('a closed descriptor\'s registration can be removed (EBADF) and its number registered again', async () => {
    const rec = recorder();
    const [r, w] = sys.pipe();
    rec.poller.register(r, 1, Interest.READABLE);
    sys.close(r);
    sys.close(w);
    expectErrno(() => rec.poller.deregister(r), 'EBADF', r);
    const [r2, w2] = track(...sys.pipe());
    expect(r2).toBe(r);
    rec.poller.register(r2, 2, Interest.READABLE | Interest.ONESHOT);
    sys.write(w2, Buffer.from('x'));
    await waitFor(() => rec.pairs.length > 0, 'the new registration\'s event');
    expect(rec.pairs).toEqual([[2, Ready.READABLE]]);
  });

  it('rejects invalid arguments with InvalidArgumentError', () => {
    const { poller } = recorder();
    const [r] = track(...sys.pipe());
    expect(() => poller.register(-1, 1, Interest.READABLE)).toThrow(InvalidArgumentError);
    expect(() => poller.register(r, -1, Interest.READABLE)).toThrow(InvalidArgumentError);
    expect(() => poller.register(r, 2 ** 53, Interest.READABLE)).toThrow(InvalidArgumentError);
    expect(() => poller.register(r, 1, 0)).toThrow(InvalidArgumentError);
    expect(() => poller.register(r, 1, Interest.EDGE)).toThrow(InvalidArgumentError);
    expect(() => poller.register(r, 1, 64)).toThrow(InvalidArgumentError);
    expect(() => poller.reregister(r, 1, 1.5)).toThrow(InvalidArgumentError);
  });

  it('EBADF naming the closed poller after close()', () => {
    const { poller } = recorder();
    const [r] = track(...sys.pipe());
    poller.close();
    expectErrno(() => poller.register(r, 1, Interest.READABLE), 'EBADF', r);
    expect(() => poller.register(r, 1, Interest.READABLE)).toThrow(/poller is closed/);
  });

  it('the native class checks its arguments too (TypeError / RangeError, never a crash)', () => {
    const { Poller } = emulatedBinding;
    expect(() => new Poller(0, () => {})).toThrow(RangeError);
    expect(() => new Poller(4, 'x' as never)).toThrow(TypeError);
    const native = new Poller(4, () => {});
    try {
      expect(() => native.add(-1, 1, 1)).toThrow(RangeError);
      expect(() => native.add(0, 2 ** 53, 1)).toThrow(RangeError);
      expect(() => native.add(0, 1, 32)).toThrow(RangeError);
      expect(() => native.mod('0' as never, 1, 1)).toThrow(TypeError);
      expect(native.add(0, 1, 8)).toBe(errnoOf('EINVAL'));
    } finally {
      native.close();
    }
  });
});

describe('poller: close and lifetime (emulated kqueue)', () => {
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
  });

  it('close() inside onEvents stops the harvest loop at once', async () => {
    const rec = recorder(1, 8);
    rec.onBatch = () => rec.poller.close();
    for (let token = 0; token < 5; token++) {
      const [r, w] = track(...sys.pipe());
      sys.write(w, Buffer.from('x'));
      rec.poller.register(r, token, Interest.READABLE);
    }
    await waitFor(() => rec.batches.length > 0, 'the first batch');
    await settle();
    expect(rec.batches).toEqual([1]);
  });

  it('releases its kqueue descriptor', () => {
    const before = epollFdCount();
    const { poller } = recorder();
    expect(epollFdCount()).toBe(before + 1);
    poller.close();
    expect(epollFdCount()).toBe(before);
  });

  it('starts unref\'d; ref() keeps the process alive until the poller is closed', async () => {
    expect((await run(process.execPath, [fixture('child-poller.mjs'), 'unref'])).stdout).toBe('');
    expect((await run(process.execPath, [fixture('child-poller.mjs'), 'ref'])).stdout).toBe('event\n');
  });
});

describe('poller: worker_threads (emulated kqueue)', () => {
  function startWorker(mode: string): Worker {
    return new Worker(fixture('worker-poller.mjs'), { workerData: { mode } });
  }

  function nextMessage<T>(worker: Worker): Promise<T> {
    return new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  }

  it('a poller works in a worker, on the worker\'s own loop', async () => {
    const worker = startWorker('event');
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const message = await nextMessage<{ count: number; pairs: Array<[number, number]> }>(worker);
    expect(message).toEqual({ count: 1, pairs: [[77, Ready.READABLE]] });
    expect(await exited).toBe(0);
  });

  it('terminating workers that hold 500 busy registrations leaves this process healthy', async () => {
    const before = epollFdCount();
    for (let round = 0; round < 3; round++) {
      const worker = startWorker('hold');
      const { fds: held } = await nextMessage<{ fds: number[] }>(worker);
      expect(held.length).toBe(1000);
      expect(await worker.terminate()).toBe(1);
      for (const fd of held) sys.close(fd);
    }
    await waitFor(() => epollFdCount() === before, 'the workers\' descriptors to be closed');
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 4, Interest.READABLE | Interest.ONESHOT);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.pairs.length > 0, 'an event on the main thread');
    expect(rec.pairs).toEqual([[4, Ready.READABLE]]);
  });
});
