// Backend-level tests of the poll(2) poller on real descriptors: tokens and flag mapping, batches and pacing,
// poll-specific behaviour (regular files, descriptors closed while registered), errors, close semantics (while
// the thread is blocked in poll(2), from inside onEvents), the poll thread's lifetime, keep-alive and GC.
// Runtime-level behaviour is in runtime.test.ts and the conformance suite; worker_threads in workers.test.ts.
import { execFile } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ErrnoError, FdloopError, Interest, InvalidArgumentError, Ready, type Poller } from '@fdloop/core';
import { type PollerRecording, recordPoller } from '@fdloop/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { POLL_CAPABILITIES, createBackend, poll } from '../src/index.js';
import { loadNative } from '../src/native.js';
import { pause, settle, sys, threadsNamed, waitFor } from './helpers.js';

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

function untrack(fd: number): void {
  fds.splice(fds.indexOf(fd), 1);
}

function recorder(batchSize = 64, threadName?: string): PollerRecording {
  const rec = recordPoller(threadName === undefined ? poll() : poll({ threadName }), { batchSize });
  open.push(rec.poller);
  return rec;
}

function errnoOf(name: string): number {
  return -(constants.errno as Record<string, number>)[name]!;
}

function expectErrno(fn: () => void, code: string, fd: number): ErrnoError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ErrnoError);
  expect(caught).toMatchObject({ code, errno: errnoOf(code), syscall: 'poll_ctl', fd });
  return caught as ErrnoError;
}

function expectUnsupported(fn: () => void, feature: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FdloopError);
  expect(caught).toMatchObject({ code: 'ERR_FDLOOP_UNSUPPORTED', backend: 'poll' });
  expect((caught as { feature: string }).feature).toMatch(feature);
  expect((caught as Error).message).toContain("backend 'poll'");
}

/** The targets of this process's open descriptors, by number. */
function fdTable(): Map<number, string> {
  const table = new Map<number, string>();
  for (const entry of readdirSync('/proc/self/fd')) {
    try {
      table.set(Number(entry), readlinkSync(`/proc/self/fd/${entry}`));
    } catch {
      // The directory's own descriptor, gone by now.
    }
  }
  return table;
}

/** User + system CPU time, in clock ticks, of the one thread named `name` (Linux: /proc/self/task/<tid>/stat). */
function threadCpuTicks(name: string): number {
  const tids = readdirSync('/proc/self/task').filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name;
    } catch {
      return false; // the thread ended while we looked
    }
  });
  expect(tids.length).toBe(1);
  const stat = readFileSync(`/proc/self/task/${tids[0]}/stat`, 'utf8');
  // Fields after the parenthesised name: state is field 3, utime field 14, stime field 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

let nameSeq = 0;
/** A thread name unique in this test process, so thread counts are not disturbed by other pollers. */
function uniqueName(): string {
  nameSeq += 1;
  return `fdl-t${nameSeq}`;
}

describe('poll backend', () => {
  it('describes itself', () => {
    const backend = poll();
    expect(backend.name).toBe('poll');
    expect(backend.capabilities).toBe(POLL_CAPABILITIES);
    expect(POLL_CAPABILITIES).toMatchObject({ edge: false, oneshot: false, priority: true, timer: false, notifier: false });
    expect(POLL_CAPABILITIES.readHangup).toBe(process.platform === 'linux');
    // The TypeScript declaration and the compiled addon agree on POLLRDHUP.
    expect(loadNative().readHangup).toBe(POLL_CAPABILITIES.readHangup);
    expect(Object.isFrozen(POLL_CAPABILITIES)).toBe(true);
    expect(Object.isFrozen(backend)).toBe(true);
    expect(createBackend().name).toBe('poll');
  });

  it('rejects invalid options', () => {
    for (const threadName of ['', 'x'.repeat(16), 'é'.repeat(8), 'a\0b', 42 as unknown as string]) {
      expect(() => poll({ threadName })).toThrow(InvalidArgumentError);
    }
    expect(poll({ threadName: 'x'.repeat(15) }).name).toBe('poll');
    const backend = poll();
    const sink = { onEvents() {} };
    expect(() => backend.createPoller({ batchSize: 0, sink })).toThrow(InvalidArgumentError);
    expect(() => backend.createPoller({ batchSize: 2 ** 21, sink })).toThrow(InvalidArgumentError);
    expect(() => backend.createPoller({ batchSize: 1.5, sink })).toThrow(InvalidArgumentError);
    expect(() => backend.createPoller({ batchSize: 8, sink: {} as never })).toThrow(InvalidArgumentError);
  });

  it('each poller runs one named thread, joined by close()', async () => {
    const name = uniqueName();
    expect(threadsNamed(name)).toBe(0);
    const one = recorder(8, name);
    const two = recorder(8, name);
    await waitFor(() => threadsNamed(name) === 2, 'two poll threads');
    one.poller.close();
    // close() joins the thread before it returns.
    expect(threadsNamed(name)).toBe(1);
    two.poller.close();
    expect(threadsNamed(name)).toBe(0);
  });
});

describe('poller: events', () => {
  it('delivers a readable pipe as one (token, flags) pair, the token verbatim', async () => {
    const rec = recorder(16);
    const [r, w] = track(...sys.pipe());
    expect(rec.poller.events).toBeInstanceOf(Float64Array);
    expect(rec.poller.events.length).toBe(32);
    rec.poller.register(r, Number.MAX_SAFE_INTEGER, Interest.READABLE);
    // Level-triggered: stop the reports by draining the pipe in the callback.
    rec.onBatch = () => sys.read(r, Buffer.alloc(16));
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.batches.length > 0, 'the event');
    await settle();
    expect(rec.batches).toEqual([1]);
    expect(rec.pairs).toEqual([[Number.MAX_SAFE_INTEGER, Ready.READABLE]]);
  });

  it('maps writable, hang-up, read-hangup, priority and error', async () => {
    const rec = recorder();
    // The callback deregisters what fired, so each registration reports once.
    rec.onBatch = (count) => {
      for (let i = 0; i < count; i++) {
        const token = rec.poller.events[2 * i] as number;
        const fd = byToken.get(token);
        if (fd !== undefined) rec.poller.deregister(fd);
        byToken.delete(token);
      }
    };
    const byToken = new Map<number, number>();
    const watch = (fd: number, token: number, interest: number): void => {
      byToken.set(token, fd);
      rec.poller.register(fd, token, interest);
    };
    const flagsOf = (token: number): number | undefined => rec.pairs.find(([t]) => t === token)?.[1];

    const [a, b] = track(...sys.socketpair());
    watch(a, 1, Interest.WRITABLE);
    await waitFor(() => flagsOf(1) !== undefined, 'writable');
    expect(flagsOf(1)).toBe(Ready.WRITABLE);

    const [r, w] = sys.pipe();
    track(r);
    watch(r, 2, Interest.READABLE);
    sys.close(w);
    await waitFor(() => flagsOf(2) !== undefined, 'hang-up of the pipe');
    // An empty pipe whose writer is gone reports HANGUP alone, as under epoll.
    expect(flagsOf(2)).toBe(Ready.HANGUP);

    watch(a, 3, Interest.READABLE);
    sys.close(b);
    untrack(b);
    await waitFor(() => flagsOf(3) !== undefined, 'hang-up of the socket');
    const expected = Ready.READABLE | Ready.HANGUP | (POLL_CAPABILITIES.readHangup ? Ready.READ_HANGUP : 0);
    expect((flagsOf(3) ?? 0) & (Ready.READABLE | Ready.READ_HANGUP | Ready.HANGUP)).toBe(expected);

    const listener = sys.tcpListen('127.0.0.1', 0);
    track(listener.fd);
    const client = sys.tcpConnect('127.0.0.1', listener.port);
    track(client);
    watch(listener.fd, 4, Interest.READABLE);
    await waitFor(() => flagsOf(4) !== undefined, 'the connection');
    const server = sys.tcpAccept(listener.fd);
    expect(server).toBeGreaterThanOrEqual(0);
    track(server);
    watch(server, 5, Interest.PRIORITY);
    expect(sys.send(client, Buffer.from('!'), sys.MSG_OOB)).toBe(1);
    await waitFor(() => flagsOf(5) !== undefined, 'PRIORITY');
    expect(flagsOf(5)).toBe(Ready.PRIORITY);
    const urgent = Buffer.alloc(1);
    expect(sys.recv(server, urgent, sys.MSG_OOB)).toBe(1);
    expect(urgent.toString()).toBe('!');
  });

  it('a descriptor closed while registered reports ERROR (POLLNVAL) at the next wake-up', async () => {
    const rec = recorder();
    const [r, w] = sys.pipe();
    track(w);
    // Made before the close, so the new pipe cannot take r's number.
    const [r2] = track(...sys.pipe());
    rec.poller.register(r, 7, Interest.READABLE);
    await settle();
    sys.close(r);
    // poll(2) does not notice a close in another thread; any registration change makes it poll again.
    rec.poller.register(r2, 8, Interest.READABLE);
    await waitFor(() => rec.pairs.some(([t]) => t === 7), 'the POLLNVAL report');
    expect(rec.pairs.find(([t]) => t === 7)).toEqual([7, Ready.ERROR]);
    // deregister() still removes it, although the number is no longer open.
    rec.poller.deregister(r);
    const before = rec.pairs.length;
    await settle();
    expect(rec.pairs.slice(before).some(([t]) => t === 7)).toBe(false);
  });

  it('a regular file is pollable and always ready (epoll refuses it with EPERM)', async () => {
    const rec = recorder();
    const path = join(tmpdir(), `fdloop-poll-${process.pid}-${Date.now()}`);
    const fd = openSync(path, 'w+');
    try {
      rec.onBatch = () => rec.poller.deregister(fd);
      rec.poller.register(fd, 1, Interest.READABLE | Interest.WRITABLE);
      await waitFor(() => rec.pairs.length > 0, 'the regular file');
      expect(rec.pairs[0]).toEqual([1, Ready.READABLE | Ready.WRITABLE]);
    } finally {
      closeSync(fd);
      unlinkSync(path);
    }
  });

  it('delivers 1,000 ready descriptors in batches of at most batchSize, each token once per batch', async () => {
    const rec = recorder(64);
    const count = 1000;
    const pipes: Array<[number, number]> = [];
    for (let token = 0; token < count; token++) {
      const p = track(...sys.pipe());
      pipes.push(p);
      rec.poller.register(p[0], token, Interest.READABLE);
      sys.write(p[1], Buffer.from('x'));
    }
    // Each callback drains what it was told about, so every token is reported until it has been read once.
    const byToken = new Map(pipes.map(([r], token) => [token, r]));
    const buf = Buffer.alloc(8);
    rec.onBatch = (n) => {
      const seen = new Set<number>();
      for (let i = 0; i < n; i++) {
        const token = rec.poller.events[2 * i] as number;
        expect(seen.has(token)).toBe(false);
        seen.add(token);
        sys.read(byToken.get(token) as number, buf);
      }
    };
    await waitFor(() => new Set(rec.pairs.map(([t]) => t)).size === count, `${count} tokens`);
    await settle();
    expect(Math.max(...rec.batches)).toBeLessThanOrEqual(64);
    expect(rec.batches.length).toBeGreaterThanOrEqual(Math.ceil(count / 64));
    // Drained: nothing is reported twice.
    expect(rec.pairs.length).toBe(count);
    expect(rec.pairs.every(([, flags]) => flags === Ready.READABLE)).toBe(true);
  });

  it('is paced by the JS thread: a descriptor that stays readable neither floods JS nor spins the poll thread', async () => {
    const name = uniqueName();
    const rec = recorder(64, name);
    const [r, w] = track(...sys.pipe());
    sys.write(w, Buffer.from('x'));
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns += 1;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    rec.poller.register(r, 1, Interest.READABLE);
    await waitFor(() => rec.batches.length >= 10, 'ten level-triggered reports');
    ticking = false;
    // One harvest in flight at a time: at most one batch per loop turn.
    expect(rec.batches.length).toBeLessThanOrEqual(turns + 2);

    // While this thread does not consume (blocked for 300 ms), the poll thread waits instead of polling again.
    const before = threadCpuTicks(name);
    const batches = rec.batches.length;
    pause(300);
    const spent = threadCpuTicks(name) - before;
    expect(spent).toBeLessThanOrEqual(3); // clock ticks, usually 10 ms each; a spinning thread would use ~30
    rec.poller.deregister(r);
    expect(rec.batches.length).toBe(batches);
  });

  it('calls onEvents inside a callback scope: microtasks and nextTicks run before the next phase', async () => {
    const rec = recorder();
    const order: string[] = [];
    const [r, w] = track(...sys.pipe());
    rec.onBatch = () => {
      rec.poller.deregister(r);
      setImmediate(() => order.push('immediate'));
      void Promise.resolve().then(() => order.push('promise'));
      process.nextTick(() => order.push('nextTick'));
      order.push('onEvents');
    };
    rec.poller.register(r, 1, Interest.READABLE);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => order.includes('immediate'), 'the immediate');
    expect(order).toEqual(['onEvents', 'nextTick', 'promise', 'immediate']);
  });

  it('reregister replaces token and interest; no event carries the old token afterwards', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.poller.register(r, 1, Interest.READABLE);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.pairs.length > 0, 'the first event');
    rec.poller.reregister(r, 2, Interest.READABLE);
    const from = rec.pairs.length;
    await waitFor(() => rec.pairs.length > from + 2, 'events under the new token');
    expect(rec.pairs.slice(from).every(([token]) => token === 2)).toBe(true);
    // Interest changes too: the read end of a pipe is never writable.
    rec.poller.reregister(r, 3, Interest.WRITABLE);
    const after = rec.pairs.length;
    await settle();
    expect(rec.pairs.slice(after)).toEqual([]);
  });

  it('after deregister() returns, closing the descriptor really closes it (the writer gets EPIPE at once)', async () => {
    const rec = recorder();
    for (let i = 0; i < 200; i++) {
      const [r, w] = sys.pipe();
      rec.poller.register(r, i, Interest.READABLE);
      // Let the poll thread enter poll(2) with r in its set, most of the time.
      if (i % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
      rec.poller.deregister(r);
      sys.close(r);
      try {
        expect(() => sys.write(w, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'EPIPE' }) as Error);
      } finally {
        sys.close(w);
      }
    }
  });

  it('two pollers on one thread are independent', async () => {
    const one = recorder();
    const two = recorder();
    const [r1, w1] = track(...sys.pipe());
    const [r2, w2] = track(...sys.pipe());
    one.onBatch = () => one.poller.deregister(r1);
    two.onBatch = () => two.poller.deregister(r2);
    one.poller.register(r1, 1, Interest.READABLE);
    two.poller.register(r2, 2, Interest.READABLE);
    sys.write(w1, Buffer.from('a'));
    sys.write(w2, Buffer.from('b'));
    await waitFor(() => one.pairs.length === 1 && two.pairs.length === 1, 'both events');
    expect(one.pairs).toEqual([[1, Ready.READABLE]]);
    expect(two.pairs).toEqual([[2, Ready.READABLE]]);
  });
});

describe('poller: errors', () => {
  it('EBADF for a closed descriptor', () => {
    const { poller } = recorder();
    const [r, w] = sys.pipe();
    sys.close(r);
    sys.close(w);
    const error = expectErrno(() => poller.register(r, 1, Interest.READABLE), 'EBADF', r);
    expect(error.message).toBe(`poll_ctl EBADF (fd ${r})`);
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

  it('EBADF on reregister of a registered descriptor that was closed', () => {
    const { poller } = recorder();
    const [r, w] = sys.pipe();
    track(w);
    poller.register(r, 1, Interest.READABLE);
    sys.close(r);
    expectErrno(() => poller.reregister(r, 2, Interest.READABLE), 'EBADF', r);
    poller.deregister(r);
  });

  it('EINVAL for the poller\'s own wake-up pipe', () => {
    const before = fdTable();
    const { poller } = recorder();
    const added = [...fdTable()].filter(([fd, target]) => before.get(fd) !== target && target.startsWith('pipe:'));
    expect(added.length).toBe(2);
    for (const [fd] of added) {
      expectErrno(() => poller.register(fd, 1, Interest.READABLE), 'EINVAL', fd);
    }
  });

  it('an error leaves the registration as it was', async () => {
    const rec = recorder();
    const [r, w] = track(...sys.pipe());
    rec.onBatch = () => rec.poller.deregister(r);
    rec.poller.register(r, 1, Interest.READABLE);
    expect(() => rec.poller.register(r, 2, Interest.WRITABLE)).toThrow(ErrnoError);
    sys.write(w, Buffer.from('x'));
    await waitFor(() => rec.pairs.length > 0, 'the event');
    expect(rec.pairs).toEqual([[1, Ready.READABLE]]);
  });

  it('refuses EDGE and ONESHOT with ERR_FDLOOP_UNSUPPORTED naming \'poll\'', () => {
    const { poller } = recorder();
    const [r] = track(...sys.pipe());
    expectUnsupported(() => poller.register(r, 1, Interest.READABLE | Interest.EDGE), /EDGE/);
    expectUnsupported(() => poller.register(r, 1, Interest.READABLE | Interest.ONESHOT), /ONESHOT/);
    poller.register(r, 1, Interest.READABLE);
    expectUnsupported(() => poller.reregister(r, 1, Interest.READABLE | Interest.EDGE), /EDGE/);
    poller.deregister(r);
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
    expect(() => poller.deregister(r)).toThrow(/poller is closed/);
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

  it('while the thread is blocked in poll(2): returns at once and joins the thread', async () => {
    const name = uniqueName();
    for (let i = 0; i < 20; i++) {
      const rec = recorder(8, name);
      const [r] = track(...sys.pipe());
      rec.poller.register(r, 1, Interest.READABLE);
      // Nothing is ready: after a turn or two the thread sits in poll(2) with r and the wake-up pipe.
      await settle();
      const started = performance.now();
      rec.poller.close();
      expect(performance.now() - started).toBeLessThan(1000);
      expect(threadsNamed(name)).toBe(0);
      expect(rec.batches).toEqual([]);
    }
  });

  it('from inside onEvents: no further batch, not even the rest of the same harvest', async () => {
    const name = uniqueName();
    const rec = recorder(1, name);
    rec.onBatch = () => rec.poller.close();
    for (let token = 0; token < 5; token++) {
      const [r, w] = track(...sys.pipe());
      sys.write(w, Buffer.from('x'));
      rec.poller.register(r, token, Interest.READABLE);
    }
    await waitFor(() => rec.batches.length > 0, 'the first batch');
    await settle();
    expect(rec.batches).toEqual([1]);
    expect(threadsNamed(name)).toBe(0);
  });

  it('no callback after close, with descriptors becoming ready all along', async () => {
    const rec = recorder(4);
    const pipes: Array<[number, number]> = [];
    for (let i = 0; i < 8; i++) {
      const p = track(...sys.pipe());
      pipes.push(p);
      rec.poller.register(p[0], i, Interest.READABLE);
    }
    const writeAll = (): void => {
      for (const [, w] of pipes) sys.write(w, Buffer.from('x'));
    };
    writeAll();
    await waitFor(() => rec.batches.length > 0, 'the first batch');
    for (let round = 0; round < 10; round++) {
      writeAll();
      await new Promise((resolve) => setImmediate(resolve));
    }
    rec.poller.close();
    const closedAt = rec.batches.length;
    for (let round = 0; round < 10; round++) {
      writeAll();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await settle();
    expect(rec.batches.length).toBe(closedAt);
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
      const poller = poll().createPoller({
        batchSize: 4,
        sink: {
          onEvents: (count) => {
            seen.push(count);
            poller.close();
          },
        },
      });
      poller.register(r, 1, Interest.READABLE);
    })();
    for (let i = 0; i < 3; i++) {
      gc();
      await settle();
    }
    sys.write(w, Buffer.from('x'));
    await waitFor(() => seen.length > 0, 'the event of the unreferenced poller');
    expect(seen).toEqual([1]);
  });

  it('a closed native poller is collectable', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { Poller } = loadNative();
    const collected: number[] = [];
    const registry = new FinalizationRegistry<number>((index) => collected.push(index));
    (() => {
      for (let i = 0; i < 5; i++) {
        const poller = new Poller(8, () => {}, 'fdl-gc');
        registry.register(poller, i);
        poller.close();
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

  it('a process may exit while a poll thread is blocked in poll(2)', async () => {
    const { stdout } = await run(process.execPath, [fixture('child-poller.mjs'), 'exit']);
    expect(stdout).toBe('exiting\n');
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
