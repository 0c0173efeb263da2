// Event sources on IOCP beyond the conformance suite: a notifier triggered from another thread through its
// remote description, a timer still armed when its poller closes, process exit (real child processes), watching a
// single file, isDirectory of a watched directory's entries, and the kinds this backend refuses.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { CancelledError, ErrnoError, createRuntime, type NotifierEvent, type PathEvent, type PathRecord, type ProcessExitEvent } from '@fdloop/core';
import { iocp } from '../src/index.js';
import { recordingPoller, settle, waitFor, withRecordingPoller, withRuntime } from './helpers.js';

/** Runs `body` with a fresh temporary directory, and removes the directory after it, whatever happens. */
async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fdloop-iocp-file-'));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('notifier', () => {
  it('sums notifications sent from a worker thread through notifyRemote', async () => {
    await withRuntime(async (rt) => {
      let total = 0;
      const n = rt.notifier((ev: NotifierEvent) => {
        total += ev.count;
      });
      const worker = new Worker(new URL('./fixtures/notify-worker.mjs', import.meta.url), {
        workerData: { remote: n.remote, count: 7, times: 3 },
      });
      await new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
      });
      await waitFor(() => total === 21, 'all 21 notifications');
      await worker.terminate();
      n.close();
    });
  });

  it('refuses a remote description from another process', () => {
    const backend = iocp();
    expect(() => backend.notifyRemote({ backend: 'iocp', port: 4, token: 1, pid: process.pid + 1 }, 1)).toThrowError(
      expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }),
    );
  });
});

describe('timer', () => {
  it('a periodic timer still armed when its poller closes reports nothing afterwards', async () => {
    const { poller, rec } = recordingPoller();
    const timer = poller.addSource<'timer'>({ kind: 'timer', clock: 'monotonic' }, 5);
    timer.arm({ value: 1, absolute: false, interval: 1 });
    await waitFor(() => rec.pairs.length > 0, 'a first expiration');
    expect(timer.read()[0]?.expirations).toBeGreaterThanOrEqual(1);
    poller.close();
    const seen = rec.pairs.length;
    await settle();
    expect(rec.pairs.length).toBe(seen);
  });

  it('disarm() discards expirations already queued', async () => {
    await withRecordingPoller(async (poller, rec) => {
      const timer = poller.addSource<'timer'>({ kind: 'timer', clock: 'monotonic' }, 6);
      timer.arm({ value: 1, absolute: false, interval: 1 });
      await waitFor(() => rec.pairs.length > 0, 'a first expiration');
      timer.disarm();
      expect(timer.read()).toEqual([]);
      const seen = rec.pairs.length;
      await settle();
      expect(rec.pairs.length).toBe(seen);
      timer.close();
    });
  });
});

describe('refused sources', () => {
  it("'boottime' timers and signals are refused with typed errors, a missing path with ENOENT", async () => {
    await withRuntime(async (rt) => {
      const unsupported = expect.objectContaining({ code: 'ERR_FDLOOP_UNSUPPORTED' });
      expect(() => rt.timer({ clock: 'boottime', delay: 1 })).toThrowError(unsupported);
      const missing = join(dirname(fileURLToPath(import.meta.url)), 'no-such-file.txt');
      expect(() => rt.watchPath(missing)).toThrowError(expect.objectContaining({ code: 'ENOENT', path: missing }));
      expect(() => rt.signal('SIGINT')).toThrowError(unsupported);
      expect(rt.pendingCount).toBe(0);
    });
  });
});

describe('pathWatch: isDirectory of entries (not in ReadDirectoryChangesW records: lstat and the known set)', () => {
  it('says which entries are directories: created, renamed, pre-existing and nested, deleted', async () => {
    await withTempDir(async (dir) => {
      mkdirSync(join(dir, 'old', 'inner'), { recursive: true }); // there before the watch: learned from a listing
      writeFileSync(join(dir, 'old', 'inner', 'x.txt'), 'x');
      await withRuntime(async (rt) => {
        const seen: PathEvent[] = [];
        const w = rt.watchPath(dir, { recursive: true }, (ev) => seen.push(ev));
        const find = (kind: PathEvent['kind'], path: string): PathEvent | undefined =>
          seen.find((e) => e.kind === kind && e.path === path);
        const has = (kind: PathEvent['kind'], path: string): boolean => find(kind, path) !== undefined;
        mkdirSync(join(dir, 'sub'));
        writeFileSync(join(dir, 'file.txt'), 'f');
        await waitFor(() => has('create', join(dir, 'sub')) && has('create', join(dir, 'file.txt')), 'both creates');
        expect(find('create', join(dir, 'sub'))?.isDirectory).toBe(true);
        expect(find('create', join(dir, 'file.txt'))?.isDirectory).toBe(false);

        renameSync(join(dir, 'sub'), join(dir, 'renamed'));
        await waitFor(() => has('rename', join(dir, 'renamed')), 'the rename');
        expect(find('rename', join(dir, 'renamed'))).toMatchObject({ oldPath: join(dir, 'sub'), isDirectory: true });

        // Deleting what was there before the watch: the directories were learned from a listing.
        unlinkSync(join(dir, 'old', 'inner', 'x.txt'));
        rmdirSync(join(dir, 'old', 'inner'));
        rmdirSync(join(dir, 'renamed'));
        unlinkSync(join(dir, 'file.txt'));
        await waitFor(
          () => has('delete', join(dir, 'old', 'inner')) && has('delete', join(dir, 'renamed')) && has('delete', join(dir, 'file.txt')),
          'the deletes',
        );
        expect(find('delete', join(dir, 'old', 'inner', 'x.txt'))?.isDirectory).toBe(false);
        expect(find('delete', join(dir, 'old', 'inner'))?.isDirectory).toBe(true);
        expect(find('delete', join(dir, 'renamed'))?.isDirectory).toBe(true);
        expect(find('delete', join(dir, 'file.txt'))?.isDirectory).toBe(false);
        w.close();
      });
    });
  });

  it('a directory tree moved in is learned, so deleting inside it later says isDirectory', async () => {
    await withTempDir(async (outside) => {
      await withTempDir(async (dir) => {
        mkdirSync(join(outside, 'tree', 'deep'), { recursive: true });
        await withRuntime(async (rt) => {
          const seen: PathEvent[] = [];
          const w = rt.watchPath(dir, { recursive: true }, (ev) => seen.push(ev));
          renameSync(join(outside, 'tree'), join(dir, 'tree'));
          await waitFor(() => seen.some((e) => e.path === join(dir, 'tree')), 'the move in');
          expect(seen.find((e) => e.path === join(dir, 'tree'))?.isDirectory).toBe(true);
          rmdirSync(join(dir, 'tree', 'deep'));
          await waitFor(() => seen.some((e) => e.kind === 'delete' && e.path === join(dir, 'tree', 'deep')), 'the delete');
          expect(seen.find((e) => e.kind === 'delete' && e.path === join(dir, 'tree', 'deep'))?.isDirectory).toBe(true);
          w.close();
        });
      });
    });
  });
});

describe('pathWatch of a single file', () => {
  it('reports modify on the file itself, ignores its neighbours, and ends with deleteSelf', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'watched.txt');
      const other = join(dir, 'other.txt');
      writeFileSync(file, 'a');
      await withRuntime(async (rt) => {
        const seen: PathEvent[] = [];
        const w = rt.watchPath(file, (ev) => seen.push(ev));
        writeFileSync(other, 'neighbour'); // same directory, another name: filtered out
        appendFileSync(file, 'b');
        await waitFor(() => seen.some((e) => e.kind === 'modify'), 'a modify event');
        unlinkSync(other);
        unlinkSync(file);
        await waitFor(() => seen.some((e) => e.kind === 'deleteSelf'), 'deleteSelf');
        for (const e of seen) {
          expect(e.path).toBe(file);
          expect(e.isDirectory).toBe(false);
          expect(['modify', 'deleteSelf']).toContain(e.kind);
        }
        expect(seen[seen.length - 1]?.kind).toBe('deleteSelf');
        // The watch ended with the file: a new file of the same name is not reported.
        const count = seen.length;
        writeFileSync(file, 'new');
        await settle();
        expect(seen.length).toBe(count);
        w.close();
      });
    });
  });

  it('reports moveSelf when the file is renamed away, and nothing for what happens to it afterwards', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'Watched.TXT');
      writeFileSync(file, 'a');
      await withRuntime(async (rt) => {
        const seen: PathEvent[] = [];
        // Another spelling of the same name: Windows names compare case-insensitively.
        const w = rt.watchPath(join(dir, 'watched.txt'), (ev) => seen.push(ev));
        renameSync(file, join(dir, 'moved.txt'));
        await waitFor(() => seen.some((e) => e.kind === 'moveSelf'), 'moveSelf');
        appendFileSync(join(dir, 'moved.txt'), 'b');
        await settle();
        expect(seen.map((e) => e.kind)).toEqual(['moveSelf']);
        w.close();
      });
    });
  });

  it('poller level: a file watch records on the watched path itself (no name), then deleteSelf and ignored', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'f.bin');
      writeFileSync(file, 'x');
      await withRecordingPoller(async (poller, rec) => {
        const set = poller.addSource<'pathWatch'>({ kind: 'pathWatch' }, 77);
        const id = set.add(file, { followSymlinks: true, recursive: true });
        const records: PathRecord[] = [];
        appendFileSync(file, 'y');
        unlinkSync(file);
        await waitFor(() => {
          if (rec.pairs.length > 0) records.push(...set.read());
          return records.some((r) => r.kind === 'ignored');
        }, 'deleteSelf and ignored');
        const kinds = records.map((r) => r.kind);
        expect(kinds.slice(-2)).toEqual(['deleteSelf', 'ignored']);
        for (const r of records) {
          expect(r.watch).toBe(id);
          expect(r.name).toBeUndefined();
        }
        set.remove(id); // already ended: ignored, as the contract asks
        set.close();
      });
    });
  });
});

/** A child node.exe that runs until killed. */
function sleeper(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
}

/** Resolves when Node has seen the child exit (and closed its process handle). */
function nodeExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

describe('processExit', () => {
  it('reports exit code 3 of a child, with no signal', async () => {
    await withRuntime(async (rt) => {
      const child = spawn(process.execPath, ['-e', 'process.exitCode = 3'], { stdio: 'ignore' });
      const src = rt.processExit(child.pid as number);
      const ev = await src.exited;
      expect(ev).toEqual({ pid: child.pid, code: 3, signo: null, signal: null, coreDumped: false });
      expect(src.closed).toBe(true);
      await nodeExit(child);
    });
  });

  it('reports a child killed by child.kill() as exit code 1 (TerminateProcess), signal null', async () => {
    await withRuntime(async (rt) => {
      const child = sleeper();
      const events: ProcessExitEvent[] = [];
      const src = rt.processExit(child.pid as number, {}, (ev) => events.push(ev));
      expect(child.kill()).toBe(true);
      const ev = await src.exited;
      expect(ev).toEqual({ pid: child.pid, code: 1, signo: null, signal: null, coreDumped: false });
      expect(events).toEqual([ev]);
      await nodeExit(child);
      // Node itself reports the signal only because it remembers sending it.
      expect(child.signalCode).toBe('SIGTERM');
    });
  });

  it('throws ESRCH (OpenProcess) for a process id that names no process, leaving nothing open', async () => {
    await withRuntime(async (rt) => {
      // Windows process ids are multiples of 4 from a table far smaller than this one.
      const missing = 0x7ffffffc;
      let caught: unknown;
      try {
        rt.processExit(missing);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ErrnoError);
      expect(caught).toMatchObject({ code: 'ESRCH', syscall: 'OpenProcess' });
      expect(rt.pendingCount).toBe(0);
    });
  });

  it('a source closed before the exit never calls back, and exited rejects with CancelledError', async () => {
    const rt = createRuntime({ backend: iocp() });
    const child = sleeper();
    try {
      let calls = 0;
      const src = rt.processExit(child.pid as number, {}, () => calls++);
      const exited = src.exited;
      src.close();
      await expect(exited).rejects.toBeInstanceOf(CancelledError);
      child.kill();
      await nodeExit(child);
      await settle();
      expect(calls).toBe(0);
      expect(rt.pendingCount).toBe(0);
    } finally {
      child.kill();
      await rt.close();
    }
  });

  it('poller level: a wait closed before the exit posts nothing; one still open at poller close posts nothing after', async () => {
    const { poller, rec } = recordingPoller();
    const a = sleeper();
    const b = sleeper();
    try {
      const early = poller.addSource<'processExit'>({ kind: 'processExit', pid: a.pid as number }, 11);
      poller.addSource<'processExit'>({ kind: 'processExit', pid: b.pid as number }, 12);
      early.close();
      a.kill();
      await nodeExit(a);
      await settle();
      expect(rec.pairs.filter(([token]) => token === 11)).toEqual([]);
      // Closing the poller releases the still-registered wait (the same path as a worker's teardown).
      poller.close();
      b.kill();
      await nodeExit(b);
      await settle();
      expect(rec.pairs).toEqual([]);
    } finally {
      a.kill();
      b.kill();
      poller.close();
    }
  });

  it('poller level: the exit is reported once as READABLE; read() returns one record, then none', async () => {
    await withRecordingPoller(async (poller, rec) => {
      const child = spawn(process.execPath, ['-e', 'process.exitCode = 7'], { stdio: 'ignore' });
      const src = poller.addSource<'processExit'>({ kind: 'processExit', pid: child.pid as number }, 13);
      await waitFor(() => rec.pairs.length > 0, 'the exit report');
      expect(rec.pairs[0]).toEqual([13, 1]);
      expect(src.read()).toEqual([{ pid: child.pid, code: 7, signo: null, coreDumped: false }]);
      expect(src.read()).toEqual([]);
      src.close();
      await nodeExit(child);
    });
  });
});
