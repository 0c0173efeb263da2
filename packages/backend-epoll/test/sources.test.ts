// Event sources of the epoll backend on real kernel objects: timerfd, eventfd from worker threads, inotify (create,
// modify, rename pair, delete, overflow, the watch limit in a private user namespace), pidfd. The portable
// behaviour is also covered by the conformance suite (conformance.test.ts); these go into Linux specifics.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, renameSync, unlinkSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, ErrnoError, type PathEvent, type Runtime } from '@fdloop/core';
import { epoll } from '../src/index.js';

let rt: Runtime;
let dir: string;
beforeEach(() => {
  rt = createRuntime({ backend: epoll() });
  dir = mkdtempSync(join(tmpdir(), 'fdloop-sources-'));
});
afterEach(async () => {
  await rt.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('timer (timerfd)', () => {
  it('never fires before its delay on the monotonic clock', async () => {
    const start = process.hrtime.bigint();
    const t = rt.timer({ delay: 30 });
    await t.once();
    const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    // A lower bound only: the kernel guarantees it; lateness depends on the machine's load and is measured by bench.
    expect(elapsedMs).toBeGreaterThanOrEqual(30);
    t.close();
  });

  it('reports overruns as one event with the expiration count when the loop was blocked', async () => {
    const t = rt.timer({ delay: 1, interval: 1 });
    // Block this thread for about 25 ms: the timerfd keeps counting and the next read reports all of it.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    const ev = await t.once();
    expect(ev.expirations).toBeGreaterThan(1);
    t.close();
  });

  it('re-arms with set() and fires at an absolute monotonic time', async () => {
    const t = rt.timer();
    expect(t.armed).toBe(false);
    const nowMs = Number(process.hrtime.bigint()) / 1e6;
    t.set({ at: nowMs + 10 });
    expect(t.armed).toBe(true);
    expect((await t.once()).expirations).toBe(1);
    t.close();
  });

  it('an unref\'d periodic timer does not keep run() alive', async () => {
    const t = rt.timer({ delay: 1, interval: 1 }).unref();
    await rt.run();
    expect(t.closed).toBe(false);
    t.close();
  });
});

describe('notifier (eventfd)', () => {
  it('counts every notification from 4 worker threads', async () => {
    const n = rt.notifier();
    let total = 0;
    n.unref();
    const sub = n.events();
    const url = new URL('./fixtures/notify-worker.mjs', import.meta.url);
    const workers = [0, 1, 2, 3].map(() => new Worker(url, { workerData: { remote: n.remote, times: 250 } }));
    await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
    while (total < 1000) {
      const r = await sub.next();
      total += r.value?.count ?? 0;
    }
    expect(total).toBe(1000);
    n.close();
  });

  it('pauses the kernel side when nobody pulls, then delivers what accumulated', async () => {
    const n = rt.notifier({ semaphore: true, highWaterMark: 2 });
    n.notify(5);
    await new Promise((r) => setTimeout(r, 30));
    const counts: number[] = [];
    for await (const ev of n) {
      counts.push(ev.count);
      if (counts.length === 5) break;
    }
    expect(counts).toEqual([1, 1, 1, 1, 1]);
    n.close();
  });
});

describe('pathWatch (inotify)', () => {
  it('reports create, modify, a rename pair joined by cookie, and delete', async () => {
    const seen: PathEvent[] = [];
    const w = rt.watchPath(dir, (ev) => seen.push(ev));
    writeFileSync(join(dir, 'f'), 'a');
    appendFileSync(join(dir, 'f'), 'b');
    renameSync(join(dir, 'f'), join(dir, 'g'));
    unlinkSync(join(dir, 'g'));
    await until(() => seen.some((e) => e.kind === 'delete'), 'the delete event');
    const kinds = seen.map((e) => `${e.kind}:${e.path.slice(dir.length)}${e.oldPath ? `<${e.oldPath.slice(dir.length)}` : ''}`);
    expect(kinds).toContain('create:/f');
    expect(kinds).toContain('modify:/f');
    expect(kinds).toContain('rename:/g</f');
    expect(kinds).toContain('delete:/g');
    w.close();
  });

  it('reports moves across the watched boundary as movedIn/movedOut', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'fdloop-outside-'));
    try {
      const seen: PathEvent[] = [];
      const w = rt.watchPath(dir, (ev) => seen.push(ev));
      writeFileSync(join(outside, 'x'), '1');
      renameSync(join(outside, 'x'), join(dir, 'x'));
      renameSync(join(dir, 'x'), join(outside, 'y'));
      await until(() => seen.some((e) => e.kind === 'movedOut'), 'movedOut');
      expect(seen.map((e) => e.kind)).toEqual(['movedIn', 'movedOut']);
      w.close();
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('reports a kernel queue overflow as an overflow event', async () => {
    const seen: PathEvent[] = [];
    const w = rt.watchPath(dir, (ev) => seen.push(ev));
    // Nothing is read while this loop runs, so the queue (fs.inotify.max_queued_events, 16384 by default) fills:
    // create and delete alternate, so consecutive events differ and the kernel cannot merge them.
    const max = Number(spawnSync('cat', ['/proc/sys/fs/inotify/max_queued_events'], { encoding: 'utf8' }).stdout);
    for (let i = 0; i < max / 2 + 100; i++) {
      const f = join(dir, `f${i % 2}`);
      writeFileSync(f, '');
      unlinkSync(f);
    }
    await until(() => seen.some((e) => e.kind === 'overflow'), 'the overflow event', 20000);
    expect(seen.find((e) => e.kind === 'overflow')).toEqual({ kind: 'overflow', path: '', isDirectory: false });
    w.close();
  }, 60000);

  it('closes itself when the watched directory is deleted', async () => {
    const sub = join(dir, 'sub');
    spawnSync('mkdir', [sub]);
    const w = rt.watchPath(sub);
    spawnSync('rmdir', [sub]);
    const ev = await w.once();
    expect(ev.kind).toBe('deleteSelf');
    await until(() => w.closed, 'the watcher to close');
    await rt.run();
  });

  it('fails with ENOSPC naming fs.inotify.max_user_watches when the watch limit is reached (private user namespace)', () => {
    const fixture = fileURLToPath(new URL('./fixtures/inotify-limit.mjs', import.meta.url));
    const r = spawnSync('unshare', ['-U', '-r', 'sh', '-c', `echo 2 > /proc/sys/user/max_inotify_watches && exec "${process.execPath}" "${fixture}"`], {
      encoding: 'utf8',
    });
    if (r.status !== 0 && /unshare/.test(r.stderr)) throw new Error(`unshare -U is not available here: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    expect(out.code).toBe('ENOSPC');
    expect(out.syscall).toBe('inotify_add_watch');
    expect(out.message).toMatch(/fs\.inotify\.max_user_watches/);
    expect(out.pending).toBe(0);
  });
});

describe('processExit (pidfd)', () => {
  it('fails with ESRCH for a process that no longer exists', async () => {
    const child = spawn('true');
    const pid = child.pid as number;
    await new Promise((r) => child.once('exit', r));
    expect(() => rt.processExit(pid)).toThrow(ErrnoError);
    try {
      rt.processExit(pid);
    } catch (err) {
      expect((err as ErrnoError).code).toBe('ESRCH');
      expect((err as ErrnoError).syscall).toBe('pidfd_open');
    }
    expect(rt.pendingCount).toBe(0);
  });

  it('leaves the exit status to Node: child_process still sees the exit code', async () => {
    const child = spawn(process.execPath, ['-e', 'process.exitCode = 7']);
    const src = rt.processExit(child.pid as number);
    const [ev, code] = await Promise.all([src.exited, new Promise((r) => child.once('exit', r))]);
    expect(code).toBe(7);
    expect(ev.code).toBe(7);
  });

  it('keeps run() alive until the process exits', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 50)']);
    let exited = false;
    rt.processExit(child.pid as number, () => (exited = true));
    await rt.run();
    expect(exited).toBe(true);
  });
});

describe('errors from source callbacks', () => {
  it('go to onError with source "source", and the source keeps running', async () => {
    const errors: Array<[unknown, unknown]> = [];
    const rt2 = createRuntime({ backend: epoll(), onError: (e, ctx) => errors.push([e, ctx]) });
    try {
      let calls = 0;
      const t = rt2.timer({ delay: 1, interval: 1 }, () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        if (calls === 3) t.close();
      });
      await rt2.run();
      expect(calls).toBe(3);
      expect(errors).toHaveLength(1);
      expect((errors[0]?.[0] as Error).message).toBe('boom');
      expect(errors[0]?.[1]).toEqual({ source: 'source' });
    } finally {
      await rt2.close();
    }
  });
});

describe('sources in worker threads', () => {
  it('releases every source descriptor and the signal block when a worker is terminated', async () => {
    const { readdirSync, readlinkSync, readFileSync } = await import('node:fs');
    const anon = (): string[] =>
      readdirSync('/proc/self/fd')
        .map((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`);
          } catch {
            return '';
          }
        })
        .filter((l) => /\[(timerfd|signalfd|eventfd|inotify|pidfd)\]/.test(l));
    const blocked = (): boolean => {
      const mask = BigInt('0x' + (/SigBlk:\s*([0-9a-f]+)/.exec(readFileSync('/proc/thread-self/status', 'utf8')) as RegExpExecArray)[1]);
      return (mask & (1n << 11n)) !== 0n;
    };
    const before = anon().length;
    const worker = new Worker(new URL('./fixtures/sources-worker.mjs', import.meta.url), { workerData: { dir } });
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(anon().length).toBe(before + 5);
    expect(blocked()).toBe(true); // the worker's subscription blocks SIGUSR2 in every thread, this one included
    await worker.terminate();
    // Finalizers run at environment teardown; give the main thread's loop a turn to observe the result.
    await until(() => anon().length === before, 'the worker\'s source descriptors to close');
    expect(blocked()).toBe(false);
  });
});
