// Event sources on the kqueue backend (emulated kqueue on Linux): EVFILT_TIMER (emulated with timerfd),
// EVFILT_USER (emulated in the kqueue emulation itself), EVFILT_PROC/NOTE_EXIT (emulated with pidfd) and
// EVFILT_VNODE (emulated with inotify on /proc/self/fd/N), through the runtime's rt.timer(), rt.notifier(),
// rt.processExit() and rt.watchPath(), and at the poller level for pause/resume and errors.
import { spawn } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  ErrnoError,
  Ready,
  UnsupportedError,
  createRuntime,
  notifyRemote,
  type NotifierSourceHandle,
  type PathEvent,
  type Poller,
  type Runtime,
} from '@fdloop/core';
import { waitFor as waitUntil } from '@fdloop/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { emulatedBinding, emulatedKqueue } from './emulated.js';

const runtimes: Runtime[] = [];
const pollers: Poller[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
  for (const poller of pollers.splice(0)) poller.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function runtime(): Runtime {
  const rt = createRuntime({ backend: emulatedKqueue() });
  runtimes.push(rt);
  return rt;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fdloop-kqueue-'));
  dirs.push(dir);
  return dir;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 30));
}

describe('kernel timers: EVFILT_TIMER (emulated kqueue)', () => {
  it('declares every portable source', () => {
    expect(emulatedKqueue().capabilities).toMatchObject({ timer: true, notifier: true, pathWatch: true, processExit: true, signal: true });
  });

  it('a one-shot timer fires once; run() resolves after it', async () => {
    const rt = runtime();
    const fired: number[] = [];
    await rt.run(async () => {
      rt.timer({ delay: 10 }, (ev) => fired.push(ev.expirations));
    });
    expect(fired).toEqual([1]);
  });

  it('a periodic timer with a first delay different from its period repeats until closed', async () => {
    const rt = runtime();
    const fired: number[] = [];
    const timer = rt.timer({ delay: 5, interval: 15 }, (ev) => fired.push(ev.expirations));
    await waitUntil(() => fired.length >= 3, 'three expirations');
    expect(timer.armed).toBe(true);
    timer.close();
    const count = fired.length;
    await settle();
    expect(fired.length).toBe(count);
    expect(fired.every((n) => n >= 1)).toBe(true);
  });

  it('set() re-arms, cancel() disarms, an absolute realtime time works, and boottime is refused', async () => {
    const rt = runtime();
    const fired: string[] = [];
    const timer = rt.timer({ delay: 60_000 }, () => fired.push('fired'));
    timer.set({ delay: 5 });
    await waitUntil(() => fired.length === 1, 'the re-armed timer');
    timer.set({ delay: 20 });
    timer.cancel();
    expect(timer.armed).toBe(false);
    await settle();
    expect(fired.length).toBe(1);
    timer.set({ at: Number(process.hrtime.bigint()) / 1e6 + 10 });
    await waitUntil(() => fired.length === 2, 'the absolute monotonic timer');
    timer.close();
    const wall = rt.timer({ clock: 'realtime', at: new Date(Date.now() + 10) }, () => fired.push('wall'));
    await waitUntil(() => fired.includes('wall'), 'the absolute realtime timer');
    wall.close();
    expect(() => rt.timer({ delay: 5, clock: 'boottime' })).toThrow(UnsupportedError);
  });
});

describe('signals: EVFILT_SIGNAL (emulated kqueue)', () => {
  it('receives a signal sent to the process, counted; Node\'s own listener does not run meanwhile; close restores it', async () => {
    const rt = runtime();
    const nodeSaw: string[] = [];
    const listener = (name: string): void => {
      nodeSaw.push(name);
    };
    process.on('SIGUSR2', listener);
    try {
      const sub = rt.signal('SIGUSR2');
      process.kill(process.pid, 'SIGUSR2');
      const ev = await sub.once({ signal: AbortSignal.timeout(5000) });
      expect(ev).toMatchObject({ signal: 'SIGUSR2', signo: constants.signals.SIGUSR2 });
      expect(ev.count).toBeGreaterThanOrEqual(1);
      expect(ev.pid).toBe(undefined); // kqueue does not say who sent it
      await settle();
      expect(nodeSaw).toEqual([]);
      sub.close();
      // Node's listener has its signal back.
      process.kill(process.pid, 'SIGUSR2');
      await waitUntil(() => nodeSaw.length === 1, "Node's listener");
    } finally {
      process.off('SIGUSR2', listener);
    }
  });

  it('without any listener, the default action (termination) does not happen while subscribed', async () => {
    const rt = runtime();
    const sub = rt.signal('SIGUSR1');
    const seen: number[] = [];
    sub.events();
    for (let i = 0; i < 3; i++) {
      process.kill(process.pid, 'SIGUSR1');
      const ev = await sub.once({ signal: AbortSignal.timeout(5000) });
      seen.push(ev.count ?? 1);
    }
    expect(seen.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
    sub.close();
  });

  it('a second subscription to the same signal in one runtime is EEXIST; one in another runtime works', async () => {
    const rt = runtime();
    const first = rt.signal('SIGUSR2');
    expect(() => rt.signal('SIGUSR2')).toThrow(/EEXIST/);
    const other = runtime().signal('SIGUSR2');
    process.kill(process.pid, 'SIGUSR2');
    const [a, b] = await Promise.all([first.once({ signal: AbortSignal.timeout(5000) }), other.once({ signal: AbortSignal.timeout(5000) })]);
    expect(a.signal).toBe('SIGUSR2');
    expect(b.signal).toBe('SIGUSR2');
    first.close();
    other.close();
  });
});

describe('notifiers: EVFILT_USER (emulated kqueue)', () => {
  it('counter mode sums notifications; semaphore mode reports each one', async () => {
    const rt = runtime();
    const counter = rt.notifier();
    counter.notify(2);
    counter.notify(3);
    expect((await counter.once()).count).toBe(5);
    const semaphore = rt.notifier({ semaphore: true });
    const seen: number[] = [];
    const iterating = (async () => {
      for await (const ev of semaphore) {
        seen.push(ev.count);
        if (seen.length === 3) break;
      }
    })();
    semaphore.notify(3);
    await iterating;
    expect(seen).toEqual([1, 1, 1]);
    counter.close();
    semaphore.close();
    expect(() => counter.notify(1)).toThrow();
  });

  it('is triggered from a worker thread through its remote', async () => {
    const rt = runtime();
    const notifier = rt.notifier();
    const worker = new Worker(new URL('./fixtures/notify-worker.mjs', import.meta.url), {
      workerData: { remote: notifier.remote, times: 4 },
    });
    const total: number[] = [];
    const exit = new Promise((resolve) => worker.once('exit', resolve));
    for (;;) {
      const ev = await notifier.once({ signal: AbortSignal.timeout(5000) });
      total.push(ev.count);
      if (total.reduce((a, b) => a + b, 0) >= 4) break;
    }
    expect(await exit).toBe(0);
    expect(total.reduce((a, b) => a + b, 0)).toBe(4);
    notifier.close();
  });

  it('notifyRemote() through the backend; a bad remote is refused', () => {
    const backend = emulatedKqueue();
    expect(() => notifyRemote({ backend: 'kqueue', kq: 1 }, 1, backend)).toThrow(/not the remote of a kqueue notifier/);
  });

  it('pause() holds reports, resume() reports what is pending at once (poller level)', async () => {
    const seen: Array<[number, number]> = [];
    const poller = emulatedKqueue().createPoller({
      batchSize: 8,
      sink: {
        onEvents(count) {
          for (let i = 0; i < count; i++) seen.push([poller.events[2 * i] as number, poller.events[2 * i + 1] as number]);
        },
      },
    });
    pollers.push(poller);
    const handle = poller.addSource?.({ kind: 'notifier', semaphore: false }, 42) as NotifierSourceHandle;
    handle.pause();
    handle.notify(1);
    await settle();
    expect(seen).toEqual([]);
    handle.resume();
    await waitUntil(() => seen.length > 0, 'the report after resume');
    expect(seen[0]).toEqual([42, Ready.READABLE]);
    expect(handle.read()).toEqual([{ count: 1 }]);
    expect(handle.read()).toEqual([]);
    handle.close();
  });
});

describe('process exit: EVFILT_PROC NOTE_EXIT (emulated kqueue)', () => {
  it('reports a child\'s exit with its pid and code (NOTE_EXITSTATUS), even when libuv reaped it first', async () => {
    const rt = runtime();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => process.exit(3), 50)'], { stdio: 'ignore' });
    const source = rt.processExit(child.pid as number);
    const ev = await source.exited;
    expect(ev.pid).toBe(child.pid);
    // libuv reaps Node's children from its SIGCHLD handler, maybe before the knote is harvested: the status stays
    // with the knote (as in a kqueue kernel; the emulation reads it back with PIDFD_GET_INFO).
    expect(ev.code).toBe(3);
    expect(ev.signo).toBe(null);
    expect(source.closed).toBe(true);
  });

  it('reports a process that is not our child (status unknown: null)', async () => {
    const rt = runtime();
    // The shell prints its background child's pid and exits; the child is not ours.
    const shell = spawn('/bin/sh', ['-c', 'sleep 0.3 & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    shell.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => shell.once('close', resolve));
    const pid = Number.parseInt(out, 10);
    const ev = await rt.processExit(pid).exited;
    expect(ev).toMatchObject({ pid, code: null, signo: null });
  });

  it('a process that does not exist is an ESRCH ErrnoError', async () => {
    const rt = runtime();
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    await settle();
    expect(() => rt.processExit(child.pid as number)).toThrow(ErrnoError);
    expect(() => rt.processExit(child.pid as number)).toThrow(/ESRCH/);
  });
});

describe('path watch: EVFILT_VNODE (emulated kqueue)', () => {
  async function collect(path: string, act: () => void, until: (events: PathEvent[]) => boolean): Promise<PathEvent[]> {
    const rt = runtime();
    const events: PathEvent[] = [];
    rt.watchPath(path, (ev) => events.push(ev));
    act();
    await waitUntil(() => until(events), 'path events');
    return events;
  }

  it('a directory: create, modify (by name, through the entry\'s own descriptor), delete', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'old'), 'x');
    const rt = runtime();
    const events: PathEvent[] = [];
    const watcher = rt.watchPath(dir, (ev) => events.push(ev));
    // The directory and its one file: one descriptor each.
    expect(watcher.watchCount).toBe(1);
    writeFileSync(join(dir, 'new'), 'a');
    await waitUntil(() => events.some((e) => e.kind === 'create' && e.path === join(dir, 'new')), 'create');
    appendFileSync(join(dir, 'old'), 'more');
    await waitUntil(() => events.some((e) => e.kind === 'modify' && e.path === join(dir, 'old')), 'modify');
    unlinkSync(join(dir, 'old'));
    await waitUntil(() => events.some((e) => e.kind === 'delete' && e.path === join(dir, 'old')), 'delete');
    mkdirSync(join(dir, 'sub'));
    await waitUntil(() => events.some((e) => e.kind === 'create' && e.path === join(dir, 'sub') && e.isDirectory), 'mkdir');
  });

  it('a rename inside a watched directory is recognised by inode and reported as one rename', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a'), 'x');
    const events = await collect(
      dir,
      () => renameSync(join(dir, 'a'), join(dir, 'b')),
      (evs) => evs.some((e) => e.kind === 'rename'),
    );
    expect(events).toContainEqual({ kind: 'rename', path: join(dir, 'b'), oldPath: join(dir, 'a'), isDirectory: false });
  });

  it('a rename between two watched directories (recursive) is one rename; the moved file stays watched', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'x'));
    mkdirSync(join(dir, 'y'));
    writeFileSync(join(dir, 'x', 'f'), '1');
    const rt = runtime();
    const events: PathEvent[] = [];
    rt.watchPath(dir, { recursive: true }, (ev) => events.push(ev));
    renameSync(join(dir, 'x', 'f'), join(dir, 'y', 'g'));
    await waitUntil(() => events.some((e) => e.kind === 'rename'), 'the rename');
    expect(events).toContainEqual({ kind: 'rename', path: join(dir, 'y', 'g'), oldPath: join(dir, 'x', 'f'), isDirectory: false });
    appendFileSync(join(dir, 'y', 'g'), '2');
    await waitUntil(() => events.some((e) => e.kind === 'modify' && e.path === join(dir, 'y', 'g')), 'a modify under the new name');
  });

  it('a file: modify, attrib, then deleteSelf ends the watcher', async () => {
    const dir = tempDir();
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    const rt = runtime();
    const events: PathEvent[] = [];
    const watcher = rt.watchPath(file, (ev) => events.push(ev));
    appendFileSync(file, 'y');
    await waitUntil(() => events.some((e) => e.kind === 'modify'), 'modify');
    chmodSync(file, 0o600);
    await waitUntil(() => events.some((e) => e.kind === 'attrib'), 'attrib');
    unlinkSync(file);
    await waitUntil(() => events.some((e) => e.kind === 'deleteSelf'), 'deleteSelf');
    await waitUntil(() => watcher.closed, 'the watcher to close');
    expect(events.every((e) => e.path === file)).toBe(true);
  });

  it('recursive watching (done by the runtime, one descriptor per directory) sees a nested create', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'a'));
    const rt = runtime();
    const events: PathEvent[] = [];
    const watcher = rt.watchPath(dir, { recursive: true }, (ev) => events.push(ev));
    expect(watcher.watchCount).toBe(2);
    writeFileSync(join(dir, 'a', 'deep'), 'x');
    await waitUntil(() => events.some((e) => e.kind === 'create' && e.path === join(dir, 'a', 'deep')), 'nested create');
  });

  it('a missing path is an ENOENT ErrnoError naming it', () => {
    const rt = runtime();
    const missing = join(tempDir(), 'missing');
    expect(() => rt.watchPath(missing)).toThrow(ErrnoError);
    expect(() => rt.watchPath(missing)).toThrow(/ENOENT/);
  });
});

describe('sources: bad input (emulated kqueue)', () => {
  function poller(): Poller {
    const p = emulatedKqueue().createPoller({ batchSize: 4, sink: { onEvents() {} } });
    pollers.push(p);
    return p;
  }

  it('an unknown kind is an UnsupportedError; a bad token an InvalidArgumentError', () => {
    const p = poller();
    expect(() => p.addSource?.({ kind: 'gpio' } as never, 1)).toThrow(UnsupportedError);
    expect(() => p.addSource?.({ kind: 'notifier', semaphore: false }, -1)).toThrow(/token/);
  });

  it('the same process twice in one poller is EEXIST; a closed poller is EBADF', () => {
    const p = poller();
    p.addSource?.({ kind: 'processExit', pid: process.pid }, 1);
    expect(() => p.addSource?.({ kind: 'processExit', pid: process.pid }, 2)).toThrow(/EEXIST/);
    p.close();
    expect(() => p.addSource?.({ kind: 'notifier', semaphore: false }, 3)).toThrow(/EBADF/);
  });

  it('notify() with a bad count is refused and changes nothing', async () => {
    const rt = runtime();
    const n = rt.notifier();
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53]) expect(() => n.notify(bad)).toThrow();
    n.notify(2);
    expect((await n.once({ signal: AbortSignal.timeout(5000) })).count).toBe(2);
  });

  it('the native source methods check their arguments (RangeError / TypeError, never a crash)', () => {
    const native = new emulatedBinding.Poller(4, () => {});
    try {
      const { EVFILT_USER, EVFILT_TIMER } = emulatedBinding.constants;
      expect(() => native.srcAdd(-1, 1, 0, 0, 0, 1)).toThrow(RangeError); // EVFILT_READ is not a source filter
      expect(() => native.srcAdd(EVFILT_USER, 0, 0, 0, 0, 1)).toThrow(RangeError); // the poller's own doorbell
      expect(() => native.srcAdd(EVFILT_TIMER, 1, 0, 0, -5, 1)).toThrow(RangeError);
      expect(() => native.srcRead(EVFILT_TIMER, 1, new Float64Array(2))).toThrow(TypeError);
      expect(() => native.srcPause(EVFILT_TIMER, 1, 1 as never)).toThrow(TypeError);
      expect(() => native.vnodeOpen(5 as never, true)).toThrow(TypeError);
      expect(native.srcRead(EVFILT_TIMER, 1, new Float64Array(3))).toBe(-constants.errno.ENOENT);
    } finally {
      native.close();
    }
  });
});
