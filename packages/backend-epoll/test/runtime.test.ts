// The Runtime of @fdloop/core on the epoll backend, on real descriptors: pipes, socketpairs, TCP on 127.0.0.1
// (urgent data → PRIORITY) and ptys (packet mode → PRIORITY); level, edge and one-shot registrations; events of
// closed watchers and of reused descriptor numbers; the promise and iterator forms; timers; tracing.
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Interest, Ready, createRuntime, currentTick, inTick, type ReadyEvent, type Runtime, type RuntimeOptions, type Watcher } from '@fdloop/core';
import { epoll, sys } from '../src/index.js';

// ---------------------------------------------------------------------------------------------------------------
// Helpers: every descriptor and runtime a test opens is released after it, whatever happens.

const openFds = new Set<number>();
const runtimes: Runtime[] = [];
const children: ChildProcess[] = [];

function track<T extends number[]>(...fds: T): T {
  for (const fd of fds) openFds.add(fd);
  return fds;
}
function pipe(): [number, number] {
  return track(...sys.pipe());
}
/** Close a tracked descriptor now (so its number can be reused by the test). */
function closeFd(fd: number): void {
  if (openFds.delete(fd)) sys.close(fd);
}
function runtime(options: Omit<RuntimeOptions, 'backend'> = {}): Runtime {
  const rt = createRuntime({ backend: epoll(), ...options });
  runtimes.push(rt);
  return rt;
}
/** A runtime whose trace lines are collected into `lines`. */
function tracedRuntime(options: Omit<RuntimeOptions, 'backend' | 'trace'> = {}): { rt: Runtime; lines: string[] } {
  const lines: string[] = [];
  return { rt: runtime({ ...options, trace: { output: (line) => lines.push(line) } }), lines };
}

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close().catch(() => {});
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const fd of openFds) {
    try {
      sys.close(fd);
    } catch {
      // Closed by the test itself.
    }
  }
  openFds.clear();
});

const text = (s: string): Buffer => Buffer.from(s);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until `cond()` holds; a failure guard only, never a performance expectation. */
async function waitUntil(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** Let the event loop turn several times, so that anything that would be delivered has been. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  await sleep(30);
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Read everything available (until WOULD_BLOCK or end of file). */
function drain(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    const n = sys.read(fd, buf);
    if (n === sys.WOULD_BLOCK || n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

/** Read once, returning a string ('' for WOULD_BLOCK or end of file). */
function readText(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = sys.read(fd, buf);
  return n > 0 ? buf.subarray(0, n).toString() : '';
}

/** A connected TCP pair on 127.0.0.1, connected and accepted through the runtime. */
async function tcpPair(rt: Runtime): Promise<{ client: number; server: number }> {
  const listener = sys.tcpListen('127.0.0.1', 0);
  track(listener.fd);
  const client = sys.tcpConnect('127.0.0.1', listener.port);
  track(client);
  const connected = await rt.writable(client, { signal: AbortSignal.timeout(5000) });
  expect(connected.writable).toBe(true);
  expect(sys.socketError(client)).toBeNull();
  await rt.readable(listener.fd, { signal: AbortSignal.timeout(5000) });
  const server = sys.tcpAccept(listener.fd);
  expect(server).toBeGreaterThanOrEqual(0);
  track(server);
  closeFd(listener.fd);
  return { client, server };
}

function countMatching(lines: string[], pattern: RegExp): number {
  return lines.filter((line) => pattern.test(line)).length;
}

// ---------------------------------------------------------------------------------------------------------------

describe('real descriptors', () => {
  it('pipe: the read end is reported readable with the data, the write end writable', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const got: string[] = [];
    const events: ReadyEvent[] = [];
    rt.watch(r, Interest.READABLE, (ev, watcher) => {
      events.push(ev);
      got.push(readText(r));
      watcher.close();
    });
    sys.write(w, text('hello'));
    await rt.run();
    expect(got).toEqual(['hello']);
    expect(events[0]?.fd).toBe(r);
    expect(events[0]?.readable).toBe(true);
    expect(events[0]?.writable).toBe(false);
    expect(events[0]?.toString()).toBe(`fd ${r}: readable`);

    const ev = await rt.writable(w);
    expect(ev.fd).toBe(w);
    expect(ev.writable).toBe(true);
    expect(rt.watcherCount).toBe(0);
  });

  it('pipe: closing the write end is reported as hang-up, then a read returns end of file', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    sys.write(w, text('last words'));
    closeFd(w);
    const ev = await rt.readable(r);
    expect(ev.readable).toBe(true);
    expect(ev.hangup).toBe(true);
    expect(drain(r).toString()).toBe('last words');
    expect(sys.read(r, Buffer.alloc(8))).toBe(0);
  });

  it('pipe: the write end of a full pipe becomes writable again once the reader drains it', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const chunk = Buffer.alloc(65536, 0x61);
    let total = 0;
    for (;;) {
      const n = sys.write(w, chunk);
      if (n === sys.WOULD_BLOCK) break;
      total += n;
    }
    expect(total).toBeGreaterThan(0);
    let writable = false;
    const p = rt.writable(w).then((ev) => {
      writable = ev.writable;
    });
    await settle();
    expect(writable).toBe(false);
    expect(drain(r).length).toBe(total);
    await p;
    expect(writable).toBe(true);
  });

  it('socketpair (stream): both directions, then the peer closing is a read hang-up', async () => {
    const rt = runtime();
    const [a, b] = track(...sys.socketpair());
    const seen: string[] = [];
    const wa = rt.watch(a, Interest.READABLE, () => seen.push(`a:${readText(a)}`));
    const wb = rt.watch(b, Interest.READABLE, () => seen.push(`b:${readText(b)}`));
    sys.write(a, text('to b'));
    sys.write(b, text('to a'));
    await waitUntil(() => seen.length === 2, 'both ends');
    expect(seen.sort()).toEqual(['a:to a', 'b:to b']);
    wb.close();
    const closing: ReadyEvent[] = [];
    wa.modify(Interest.READABLE | Interest.ONESHOT, (ev) => closing.push(ev));
    closeFd(b);
    await waitUntil(() => closing.length === 1, 'the hang-up');
    expect(closing[0]?.readHangup).toBe(true);
    expect(closing[0]?.hangup).toBe(true);
    expect(sys.read(a, Buffer.alloc(8))).toBe(0);
    wa.close();
  });

  it('socketpair (dgram): one readable event per queue state, messages keep their boundaries', async () => {
    const rt = runtime();
    const [a, b] = track(...sys.socketpair('dgram'));
    sys.write(a, text('one'));
    sys.write(a, text('two'));
    const messages: string[] = [];
    for await (const ev of rt.events(b, Interest.READABLE)) {
      expect(ev.readable).toBe(true);
      messages.push(readText(b));
      if (messages.length === 2) break;
    }
    expect(messages).toEqual(['one', 'two']);
    expect(rt.watcherCount).toBe(0);
  });

  it('TCP on 127.0.0.1: urgent data (MSG_OOB) is reported as ReadyEvent.priority', async () => {
    const rt = runtime();
    const { client, server } = await tcpPair(rt);
    sys.send(client, text('normal'));
    const first = await rt.readable(server);
    expect(first.readable).toBe(true);
    expect(first.priority).toBe(false);
    expect(readText(server)).toBe('normal');

    const events: ReadyEvent[] = [];
    rt.watch(server, Interest.READABLE | Interest.PRIORITY, (ev, watcher) => {
      events.push(ev);
      if (ev.priority) watcher.close();
    });
    expect(sys.send(client, text('!'), sys.MSG_OOB)).toBe(1);
    await waitUntil(() => events.some((ev) => ev.priority), 'a priority event');
    const urgent = Buffer.alloc(1);
    expect(sys.recv(server, urgent, sys.MSG_OOB)).toBe(1);
    expect(urgent.toString()).toBe('!');
  });

  it('TCP: wait() for PRIORITY alone resolves on urgent data only', async () => {
    const rt = runtime();
    const { client, server } = await tcpPair(rt);
    let settled: ReadyEvent | undefined;
    const p = rt.wait(server, Interest.PRIORITY).then((ev) => {
      settled = ev;
    });
    sys.send(client, text('plain data'));
    await settle();
    expect(settled).toBeUndefined();
    sys.send(client, text('U'), sys.MSG_OOB);
    await p;
    expect(settled?.priority).toBe(true);
    expect((settled?.flags ?? 0) & Ready.PRIORITY).toBe(Ready.PRIORITY);
  });

  it('pty: the master is readable after the slave writes', async () => {
    const rt = runtime();
    const { master, slave } = sys.openpty();
    track(master, slave);
    const ev = rt.readable(master);
    sys.write(slave, text('hello\n'));
    expect((await ev).readable).toBe(true);
    // The line discipline turns "\n" into "\r\n" on output.
    let out = '';
    await waitUntil(() => (out += drain(master).toString()).includes('\n'), 'the whole line');
    expect(out).toBe('hello\r\n');
  });

  it('pty in packet mode: a flow-control status change is reported as priority', async () => {
    const rt = runtime();
    const { master, slave } = sys.openpty();
    track(master, slave);
    sys.ptyPacketMode(master, true);
    const reports: Array<{ priority: boolean; status: number }> = [];
    // READABLE too: the tty layer wakes pollers of a status change with EPOLLIN only, so an epoll registration
    // for EPOLLPRI alone is never woken (the wake-up key is filtered out), although poll(2) would see POLLPRI.
    rt.watch(master, Interest.READABLE | Interest.PRIORITY, (ev) => {
      const buf = Buffer.alloc(64);
      const n = sys.read(master, buf);
      if (n > 0) reports.push({ priority: ev.priority, status: buf[0] as number });
    });
    // ^S typed on the terminal (written to the master) stops the slave's output: with IXON (the default) the
    // master reads a TIOCPKT_STOP status byte, announced by EPOLLPRI.
    sys.write(master, Buffer.from([0x13]));
    await waitUntil(() => reports.some((r) => (r.status & sys.PTY_PACKET.STOP) !== 0), 'TIOCPKT_STOP');
    expect(reports.find((r) => (r.status & sys.PTY_PACKET.STOP) !== 0)?.priority).toBe(true);
    // ^Q restarts it: TIOCPKT_START, again a priority event.
    sys.write(master, Buffer.from([0x11]));
    await waitUntil(() => reports.some((r) => (r.status & sys.PTY_PACKET.START) !== 0), 'TIOCPKT_START');
    expect(reports.find((r) => (r.status & sys.PTY_PACKET.START) !== 0)?.priority).toBe(true);
    // Ordinary output in packet mode: a DATA (0) byte first, and no priority.
    sys.write(slave, text('out\n'));
    await waitUntil(() => reports.some((r) => r.status === sys.PTY_PACKET.DATA), 'ordinary data');
    expect(reports.find((r) => r.status === sys.PTY_PACKET.DATA)?.priority).toBe(false);
  });
});

describe('level, edge and one-shot registrations through rt.watch', () => {
  it('level-triggered (the default): reported again and again while the data stays unread, then no more', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    let calls = 0;
    let draining = false;
    rt.watch(r, Interest.READABLE, () => {
      calls += 1;
      if (draining) drain(r);
    });
    sys.write(w, text('x'));
    await waitUntil(() => calls >= 5, 'five level-triggered reports');
    draining = true;
    await settle();
    const after = calls;
    await settle();
    expect(calls).toBe(after);
  });

  it('edge-triggered: reported once per arrival, not while the data stays unread', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    let calls = 0;
    const watcher = rt.watch(r, Interest.READABLE | Interest.EDGE, () => {
      calls += 1;
    });
    expect(watcher.interest).toBe(Interest.READABLE | Interest.EDGE);
    sys.write(w, text('x'));
    await waitUntil(() => calls === 1, 'the first edge');
    await settle();
    expect(calls).toBe(1);
    sys.write(w, text('y'));
    await waitUntil(() => calls === 2, 'the second edge');
    await settle();
    expect(calls).toBe(2);
    expect(drain(r).toString()).toBe('xy');
  });

  it('ONESHOT: fires once and stays disarmed until watcher.modify() re-arms it', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const calls: string[] = [];
    const watcher = rt.watch(r, Interest.READABLE | Interest.ONESHOT, () => calls.push('first'));
    expect(watcher.armed).toBe(true);
    sys.write(w, text('x'));
    await waitUntil(() => calls.length === 1, 'the one-shot event');
    expect(watcher.armed).toBe(false);
    await settle();
    expect(calls).toEqual(['first']);
    // Disarmed but still registered: the descriptor cannot be watched twice and the watcher keeps run() busy.
    expect(rt.watcherCount).toBe(1);
    expect(rt.pendingCount).toBe(1);

    watcher.modify(Interest.READABLE | Interest.ONESHOT, () => calls.push('second'));
    expect(watcher.armed).toBe(true);
    await waitUntil(() => calls.length === 2, 'the re-armed event');
    expect(calls).toEqual(['first', 'second']);
    expect(watcher.armed).toBe(false);
    await settle();
    expect(calls.length).toBe(2);

    // modify() to a level-triggered interest makes it fire continuously again.
    let level = 0;
    watcher.modify(Interest.READABLE, () => {
      level += 1;
    });
    await waitUntil(() => level >= 3, 'level-triggered reports after modify');
    watcher.close();
  });

  it('modify() switches the condition watched (readable → writable) on the same descriptor', async () => {
    const rt = runtime();
    const [, w] = pipe();
    const seen: ReadyEvent[] = [];
    const watcher = rt.watch(w, Interest.READABLE, (ev) => seen.push(ev));
    await settle();
    expect(seen).toEqual([]);
    watcher.modify(Interest.WRITABLE | Interest.ONESHOT);
    await waitUntil(() => seen.length === 1, 'writable');
    expect(seen[0]?.writable).toBe(true);
    expect(watcher.interest).toBe(Interest.WRITABLE | Interest.ONESHOT);
  });
});

describe('closed watchers and reused descriptor numbers', () => {
  it('a watcher closed from a callback of the same batch is never called', async () => {
    const { rt, lines } = tracedRuntime();
    const pipes = Array.from({ length: 10 }, () => pipe());
    const called: number[] = [];
    const watchers: Watcher[] = pipes.map(([r], i) =>
      rt.watch(r, Interest.READABLE, () => {
        called.push(i);
        for (const other of watchers) other.close();
      }),
    );
    for (const [, w] of pipes) sys.write(w, text('x'));
    await waitUntil(() => called.length > 0, 'the first callback');
    await settle();
    // All ten were harvested in one batch (the trace shows it), yet only the first callback ran.
    expect(lines.some((line) => line.includes('poll: 10 events'))).toBe(true);
    expect(called.length).toBe(1);
    expect(countMatching(lines, /drop stale event/)).toBe(9);
    expect(rt.watcherCount).toBe(0);
  });

  it('a descriptor closed and its number reused within one batch: the new watcher never sees the old event', async () => {
    const { rt, lines } = tracedRuntime();
    const [rA, wA] = pipe();
    const [rB, wB] = pipe();
    const calls: string[] = [];
    let reused = false;
    let fresh: [number, number] | undefined;
    const watchers = new Map<number, Watcher>();
    const onFirst = (name: string, other: number) => () => {
      calls.push(name);
      if (fresh !== undefined) return;
      // Close the other watcher and its read end, then open a pipe that takes the same number and watch it; the
      // other descriptor's event is still waiting later in this batch.
      watchers.get(other)?.close();
      closeFd(other);
      fresh = pipe();
      reused = fresh[0] === other;
      const nr = fresh[0];
      rt.watch(nr, Interest.READABLE, () => calls.push(`new: ${readText(nr)}`));
      for (const [fd, watcher] of watchers) if (fd !== other) watcher.close();
    };
    watchers.set(rA, rt.watch(rA, Interest.READABLE, onFirst('A', rB)));
    watchers.set(rB, rt.watch(rB, Interest.READABLE, onFirst('B', rA)));
    sys.write(wA, text('a'));
    sys.write(wB, text('b'));
    await waitUntil(() => calls.length > 0, 'the first callback');
    await settle();
    expect(reused).toBe(true);
    // Both were in one batch, and the second event of it was dropped as stale.
    expect(lines.some((line) => line.includes('poll: 2 events'))).toBe(true);
    expect(countMatching(lines, /drop stale event/)).toBe(1);
    expect(calls.length).toBe(1);
    // The new watcher works: its own data is delivered to it.
    sys.write((fresh as [number, number])[1], text('fresh'));
    await waitUntil(() => calls.length === 2, 'the new watcher');
    expect(calls[1]).toBe('new: fresh');
  });

  it('modify() of another watcher in the same batch drops its harvested event, but an edge is not lost: it is reported again', async () => {
    const { rt, lines } = tracedRuntime();
    const [rA, wA] = pipe();
    const [rB, wB] = pipe();
    const calls: string[] = [];
    const watchers = new Map<string, Watcher>();
    const onEvent = (name: string, other: string) => () => {
      calls.push(name);
      // The first callback of the batch re-registers the other watcher (same interest, new token).
      if (calls.length === 1) watchers.get(other)?.modify(Interest.READABLE | Interest.EDGE);
    };
    watchers.set('A', rt.watch(rA, Interest.READABLE | Interest.EDGE, onEvent('A', 'B')));
    watchers.set('B', rt.watch(rB, Interest.READABLE | Interest.EDGE, onEvent('B', 'A')));
    sys.write(wA, text('a'));
    sys.write(wB, text('b'));
    await waitUntil(() => calls.length >= 2, 'both watchers');
    await settle();
    expect(lines.some((line) => line.includes('poll: 2 events'))).toBe(true);
    expect(countMatching(lines, /drop stale event/)).toBe(1);
    // Each exactly once: the dropped edge came back because EPOLL_CTL_MOD re-checks readiness.
    expect(calls.slice().sort()).toEqual(['A', 'B']);
  });

  it('across batches (batch size 1): the old registration is gone and the new watcher only sees its own events', async () => {
    const { rt, lines } = tracedRuntime({ batchSize: 1 });
    const [rA, wA] = pipe();
    const [rB, wB] = pipe();
    const calls: string[] = [];
    let reused = false;
    let fresh: [number, number] | undefined;
    const watchers = new Map<number, Watcher>();
    const onFirst = (name: string, other: number) => () => {
      calls.push(name);
      drain(name === 'A' ? rA : rB);
      if (fresh !== undefined) return;
      watchers.get(other)?.close();
      closeFd(other);
      fresh = pipe();
      reused = fresh[0] === other;
      const [nr] = fresh;
      rt.watch(nr, Interest.READABLE, () => {
        calls.push(`new: ${readText(nr)}`);
      });
    };
    watchers.set(rA, rt.watch(rA, Interest.READABLE, onFirst('A', rB)));
    watchers.set(rB, rt.watch(rB, Interest.READABLE, onFirst('B', rA)));
    sys.write(wA, text('a'));
    sys.write(wB, text('b'));
    await waitUntil(() => calls.length > 0, 'the first callback');
    await settle();
    expect(reused).toBe(true);
    expect(calls.length).toBe(1);
    expect(lines.every((line) => !line.includes('poll:') || line.includes('poll: 1 event'))).toBe(true);
    // The new pipe's own data reaches the new watcher, and nothing else does.
    sys.write((fresh as [number, number])[1], text('fresh'));
    await waitUntil(() => calls.length === 2, 'the new watcher');
    expect(calls[1]).toBe('new: fresh');
  });

  it('a descriptor closed while still registered elsewhere: stale kernel events for its number are dropped', async () => {
    // epoll keys a registration by open file description. If the description outlives the descriptor (here a
    // child process holds a copy), closing the descriptor leaves the old registration in the epoll set, still
    // reporting with the old token. The number is then reused by a new pipe with a new watcher: the runtime's
    // generation check must drop every one of those old events.
    const { rt, lines } = tracedRuntime();
    const [rOld, wOld] = pipe();
    let oldCalls = 0;
    const old = rt.watch(rOld, Interest.READABLE, () => {
      oldCalls += 1;
    });
    sys.write(wOld, text('old data, never read'));
    const child = spawn('sleep', ['30'], { stdio: ['ignore', 'ignore', 'ignore', rOld] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    // The wrong order on purpose: the descriptor first (the kernel keeps the registration: the child still has
    // the description), then the watcher (epoll_ctl DEL fails with EBADF, which close() accepts).
    closeFd(rOld);
    old.close();
    const [rNew, wNew] = pipe();
    expect(rNew).toBe(rOld);
    const got: string[] = [];
    const fresh = rt.watch(rNew, Interest.READABLE, (ev) => {
      got.push(`${describeFlags(ev)}:${readText(rNew)}`);
    });
    await waitUntil(() => countMatching(lines, /drop stale event/) >= 3, 'stale events of the old registration');
    expect(got).toEqual([]);
    expect(oldCalls).toBe(0);
    sys.write(wNew, text('new'));
    await waitUntil(() => got.length >= 1, 'the new watcher');
    expect(got[0]).toBe('readable:new');
    fresh.close();
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  });
});

function describeFlags(ev: ReadyEvent): string {
  return [ev.readable && 'readable', ev.writable && 'writable', ev.priority && 'priority', ev.hangup && 'hangup']
    .filter(Boolean)
    .join('|');
}

describe('readable() / writable() / wait() promises', () => {
  it('readable() resolves when data arrives and leaves no watcher behind', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const p = rt.readable(r);
    expect(rt.watcherCount).toBe(1);
    setTimeout(() => sys.write(w, text('x')), 10);
    const ev = await p;
    expect(ev.fd).toBe(r);
    expect(ev.readable).toBe(true);
    expect(rt.watcherCount).toBe(0);
    expect(rt.pendingCount).toBe(0);
    // The descriptor can be watched again right away.
    const again = await rt.readable(r);
    expect(again.readable).toBe(true);
  });

  it('an already aborted signal rejects with signal.reason and registers nothing', async () => {
    const rt = runtime();
    const [r] = pipe();
    const reason = new Error('gave up before starting');
    await expect(rt.readable(r, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(rt.writable(r, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(rt.watcherCount).toBe(0);
    // Without a reason, the signal's default reason (an AbortError DOMException).
    await expect(rt.readable(r, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('aborting while waiting rejects with signal.reason and closes the registration', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const ac = new AbortController();
    const p = rt.readable(r, { signal: ac.signal });
    setTimeout(() => ac.abort('stop waiting'), 20);
    await expect(p).rejects.toBe('stop waiting');
    expect(rt.watcherCount).toBe(0);
    expect(rt.pendingCount).toBe(0);
    sys.write(w, text('late'));
    await settle();
    // The descriptor is free to be watched again.
    expect((await rt.readable(r)).readable).toBe(true);
  });

  it('AbortSignal.timeout() rejects with a TimeoutError when nothing arrives', async () => {
    const rt = runtime();
    const [r] = pipe();
    const started = performance.now();
    await expect(rt.readable(r, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(rt.watcherCount).toBe(0);
  });

  it('a signal that is never aborted does not disturb a normal resolution', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const ac = new AbortController();
    sys.write(w, text('x'));
    expect((await rt.readable(r, { signal: ac.signal })).readable).toBe(true);
    ac.abort(new Error('too late to matter'));
    await settle();
    expect(rt.watcherCount).toBe(0);
  });

  it('wait() accepts any interest and reports hang-ups with the event', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const p = rt.wait(r, Interest.READABLE | Interest.PRIORITY);
    closeFd(w);
    const ev = await p;
    expect(ev.hangup).toBe(true);
  });
});

describe('events() async iterator', () => {
  it('yields one event per pull: a level-triggered descriptor is not re-armed until next() is called', async () => {
    const { rt, lines } = tracedRuntime();
    const [r, w] = pipe();
    sys.write(w, text('unread'));
    const it = rt.events(r, Interest.READABLE);
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(first.value?.readable).toBe(true);
    await settle();
    // Unread and level-triggered, yet no more events were harvested while nobody pulled.
    expect(countMatching(lines, /event fd \d+: readable/)).toBe(1);
    const second = await it.next();
    expect(second.value?.readable).toBe(true);
    await settle();
    expect(countMatching(lines, /event fd \d+: readable/)).toBe(2);
    await it.return?.();
    expect(rt.watcherCount).toBe(0);
  });

  it('delivers events as data arrives, and break closes the watcher', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const received: string[] = [];
    let n = 0;
    const writer = setInterval(() => sys.write(w, text(`m${n++};`)), 5);
    try {
      for await (const ev of rt.events(r)) {
        expect(ev.readable).toBe(true);
        received.push(drain(r).toString());
        if (received.join('').split(';').length > 3) break;
      }
    } finally {
      clearInterval(writer);
    }
    expect(received.join('')).toMatch(/^m0;m1;m2;/);
    expect(rt.watcherCount).toBe(0);
    // The descriptor is free again.
    rt.watch(r, Interest.READABLE, () => {}).close();
  });

  it('an abort signal ends the iteration: the pending next() rejects with the reason once, then the iterator is done', async () => {
    const rt = runtime();
    const [r] = pipe();
    const ac = new AbortController();
    const it = rt.events(r, Interest.READABLE, { signal: ac.signal });
    const pending = it.next();
    setTimeout(() => ac.abort(new Error('enough')), 20);
    await expect(pending).rejects.toThrow('enough');
    expect(rt.watcherCount).toBe(0);
    await expect(it.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('an already aborted signal: the first next() rejects with the reason', async () => {
    const rt = runtime();
    const [r] = pipe();
    const reason = new Error('aborted before');
    const it = rt.events(r, Interest.READABLE, { signal: AbortSignal.abort(reason) });
    await expect(it.next()).rejects.toBe(reason);
    expect(rt.watcherCount).toBe(0);
  });

  it('end of file: the consumer sees the hang-up and stops', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    sys.write(w, text('abc'));
    closeFd(w);
    let data = '';
    for await (const ev of rt.events(r)) {
      const chunk = drain(r).toString();
      data += chunk;
      if (ev.hangup && chunk === '') break;
    }
    expect(data).toBe('abc');
  });
});

describe('timers', () => {
  it('setTimeout: callbacks run in order of due time, equal delays in order of creation, with their arguments', async () => {
    const rt = runtime();
    const order: string[] = [];
    rt.setTimeout((s: string) => order.push(s), 30, 'c30');
    rt.setTimeout((s: string) => order.push(s), 10, 'a10');
    rt.setTimeout((s: string) => order.push(s), 20, 'b20');
    rt.setTimeout((s: string) => order.push(s), 10, 'a10-second');
    rt.setTimeout((s: string) => order.push(s), 0, 'zero');
    await rt.run();
    expect(order).toEqual(['zero', 'a10', 'a10-second', 'b20', 'c30']);
  });

  it('setTimeout never fires before its delay; a cancelled one never fires', async () => {
    const rt = runtime();
    const started = performance.now();
    let firedAfter = -1;
    let cancelledFired = false;
    rt.setTimeout(() => {
      firedAfter = performance.now() - started;
    }, 40);
    const cancelled = rt.setTimeout(() => {
      cancelledFired = true;
    }, 10);
    expect(cancelled.active).toBe(true);
    cancelled.cancel();
    cancelled.cancel();
    expect(cancelled.active).toBe(false);
    await rt.run();
    expect(firedAfter).toBeGreaterThanOrEqual(40);
    expect(cancelledFired).toBe(false);
  });

  it('setInterval repeats until cancelled, also from inside its own callback', async () => {
    const rt = runtime();
    let ticks = 0;
    const interval = rt.setInterval(() => {
      ticks += 1;
      if (ticks === 3) interval.cancel();
    }, 5);
    await rt.run();
    expect(ticks).toBe(3);
    expect(interval.active).toBe(false);
    await settle();
    expect(ticks).toBe(3);
  });

  it('setInterval cancelled from outside stops, and run() resolves', async () => {
    const rt = runtime();
    let ticks = 0;
    const interval = rt.setInterval(() => {
      ticks += 1;
    }, 2);
    rt.setTimeout(() => interval.cancel(), 40);
    await rt.run();
    const atCancel = ticks;
    expect(atCancel).toBeGreaterThanOrEqual(1);
    await sleep(30);
    expect(ticks).toBe(atCancel);
  });

  it('setInterval skips ahead after a blocked loop instead of firing a burst of catch-up calls', async () => {
    const rt = runtime();
    const calls: number[] = [];
    let blockEnd = 0;
    const interval = rt.setInterval(() => {
      calls.push(performance.now());
      if (calls.length === 1) {
        // Block the thread for ten periods.
        const until = performance.now() + 100;
        while (performance.now() < until) {
          // Busy.
        }
        blockEnd = performance.now();
      }
      if (calls.length === 4) interval.cancel();
    }, 10);
    await rt.run();
    expect(calls).toHaveLength(4);
    // A burst would make calls 2-4 right after the block. Skipping ahead, call 2 may come at once and call 3 soon
    // after (realigned to the schedule), but call 4 only a whole period after that.
    expect((calls[3] as number) - blockEnd).toBeGreaterThanOrEqual(10);
  });

  it('a delay beyond Node\'s 2^31-1 ms timer limit is kept, not turned into 1 ms', async () => {
    const rt = runtime();
    let fired = false;
    const t = rt.setTimeout(() => {
      fired = true;
    }, 2 ** 32);
    await sleep(50);
    expect(fired).toBe(false);
    expect(t.active).toBe(true);
    t.cancel();
    await rt.run();
  });

  it('setImmediate runs after the current callbacks, in order, with arguments; cancel() prevents it', async () => {
    const rt = runtime();
    const order: string[] = [];
    rt.setImmediate((a: string, b: number) => order.push(`${a}${b}`), 'one', 1);
    const cancelled = rt.setImmediate(() => order.push('cancelled'));
    rt.setImmediate(() => {
      order.push('two');
      rt.setImmediate(() => order.push('nested, next round'));
    });
    cancelled.cancel();
    order.push('sync');
    await rt.run();
    expect(order).toEqual(['sync', 'one1', 'two', 'nested, next round']);
  });

  it('refresh() restarts a timeout from now, and re-schedules one that already fired', async () => {
    const rt = runtime();
    const started = performance.now();
    const fired: number[] = [];
    const t = rt.setTimeout(() => fired.push(performance.now() - started), 60);
    let refreshedAt = 0;
    rt.setTimeout(() => {
      refreshedAt = performance.now() - started;
      t.refresh();
    }, 30);
    await rt.run();
    expect(fired.length).toBe(1);
    expect(fired[0]).toBeGreaterThanOrEqual(refreshedAt + 60);
    expect(t.active).toBe(false);
    // Refreshing a fired timeout schedules it again.
    t.refresh();
    expect(t.active).toBe(true);
    await rt.run();
    expect(fired.length).toBe(2);
  });

  it('an unref\'d timer does not keep run() pending; ref() makes it count again', async () => {
    const rt = runtime();
    let fired = false;
    const t = rt.setTimeout(() => {
      fired = true;
    }, 60_000).unref();
    expect(t.hasRef()).toBe(false);
    await rt.run();
    expect(fired).toBe(false);
    expect(t.active).toBe(true);
    t.cancel();

    let firedLater = false;
    const t2 = rt.setTimeout(() => {
      firedLater = true;
    }, 20).unref();
    t2.ref();
    await rt.run();
    expect(firedLater).toBe(true);
  });

  it('sleep() resolves after the delay; aborting rejects with the reason and cancels the timer', async () => {
    const rt = runtime();
    const started = performance.now();
    await rt.sleep(30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(30);

    const ac = new AbortController();
    const p = rt.sleep(60_000, { signal: ac.signal });
    expect(rt.pendingCount).toBe(1);
    setTimeout(() => ac.abort(new Error('wake up')), 10);
    await expect(p).rejects.toThrow('wake up');
    expect(rt.pendingCount).toBe(0);
    await expect(rt.sleep(10, { signal: AbortSignal.abort('no') })).rejects.toBe('no');
    // run() is not held by the aborted sleeps.
    await rt.run();
  });
});

describe('tracing', () => {
  it('traces the thread name, tick markers, watches, events, timers and closes', async () => {
    const { rt, lines } = tracedRuntime({ name: 'traced' });
    const [r, w] = pipe();
    const watcher = rt.watch(r, Interest.READABLE | Interest.EDGE, () => watcher.close());
    sys.write(w, text('x'));
    rt.setTimeout(() => {}, 1);
    await rt.run();
    const all = lines.join('\n');
    // "   12.3ms main     | t4   | [traced] watch fd 17 READABLE|EDGE"
    expect(lines.every((line) => /^\s*\d+\.\dms main\s+\| t\d+\s*\| /.test(line))).toBe(true);
    expect(lines.every((line) => line.includes('[traced] '))).toBe(true);
    expect(all).toContain(`watch fd ${r} READABLE|EDGE`);
    expect(all).toMatch(/──── tick \d+: poll: 1 event ────/);
    expect(all).toContain(`event fd ${r}: readable`);
    expect(all).toContain(`close watcher fd ${r}`);
    expect(all).toMatch(/──── tick \d+: timers ────/);
    expect(all).toContain('timeout 1 ms fired');
    expect(all).toContain('run finished: nothing pending');
    // Tick numbers grow.
    const ticks = lines.map((line) => Number(/\| t(\d+)/.exec(line)?.[1]));
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBeGreaterThanOrEqual(ticks[i - 1] as number);
  });
});

describe('ticks: inTick() and currentTick()', () => {
  it('inTick() is true inside a batch of events, timers and immediates, false outside (Node timers, promises after)', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const seen: { where: string; inside: boolean; tick: number }[] = [];
    const note = (where: string): void => void seen.push({ where, inside: inTick(), tick: currentTick() });
    note('test body');
    await new Promise<void>((resolve) => {
      rt.watch(r, Interest.READABLE, (_ev, watcher) => {
        note('watcher');
        watcher.close();
        void Promise.resolve().then(() => note('microtask after the watcher'));
        rt.setTimeout(() => {
          note('runtime timer');
          rt.setImmediate(() => {
            note('runtime immediate');
            setTimeout(() => {
              note('Node timer');
              resolve();
            }, 5);
          });
        }, 1);
      });
      sys.write(w, Buffer.from('x'));
    });
    expect(seen.map((s) => [s.where, s.inside])).toEqual([
      ['test body', false],
      ['watcher', true],
      ['microtask after the watcher', false],
      ['runtime timer', true],
      ['runtime immediate', true],
      ['Node timer', false],
    ]);
    const ticks = seen.filter((s) => s.inside).map((s) => s.tick);
    expect(new Set(ticks).size).toBe(3); // each entry from the event loop is a tick of its own
    expect(seen[2]?.tick).toBe(seen[1]?.tick); // outside, currentTick() still names the last tick
  });
});
