/**
 * Conformance tests of the portable event sources (timer, signal, notifier, path watch, process exit). Each group
 * runs only when the backend declares the capability, and then must pass; a backend without it must refuse the
 * source with `ERR_FDLOOP_UNSUPPORTED`. Called by {@link runConformanceSuite}; also usable alone.
 *
 * @module
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backend, PathEvent, SourceKind } from '../contract/index.js';
import { ErrnoError, FdloopError } from '../errors.js';
import { createRuntime, type Runtime } from '../runtime.js';

/** Options of {@link runSourceConformanceSuite}. */
export interface SourceConformanceOptions {
  /** Creates a fresh backend for each test. */
  readonly backend: () => Backend;
  /** The test framework's `describe`. */
  readonly describe: (name: string, body: () => void) => unknown;
  /** The test framework's `it`. */
  readonly it: (name: string, body: () => Promise<void> | void) => unknown;
  /** How long to wait for an event that must arrive, in milliseconds. Defaults to `2000`. */
  readonly timeoutMs?: number;
}

function isCode(code: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof FdloopError && err.code === code;
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const ac = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: ac.signal }).then(() => assert.fail(`timed out after ${ms} ms waiting for ${what}`)),
    ]);
  } finally {
    ac.abort();
  }
}

/**
 * Define the source conformance tests (a `describe('sources')` block).
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runSourceConformanceSuite } from '@fdloop/core/testing';
 * import { epoll } from '@fdloop/backend-epoll';
 * runSourceConformanceSuite({ backend: () => epoll(), describe, it });
 * ```
 */
export function runSourceConformanceSuite(options: SourceConformanceOptions): void {
  const { describe, it } = options;
  const timeout = options.timeoutMs ?? 2000;
  const caps = options.backend().capabilities;
  const has = (kind: SourceKind): boolean => caps[kind];

  const withRuntime = async (body: (rt: Runtime) => Promise<void>): Promise<void> => {
    const rt = createRuntime({ backend: options.backend() });
    try {
      await body(rt);
    } finally {
      await rt.close();
    }
  };

  describe('sources', () => {
    it('refuses every source the backend lacks with ERR_FDLOOP_UNSUPPORTED', async () => {
      await withRuntime(async (rt) => {
        const attempts: Record<SourceKind, () => unknown> = {
          timer: () => rt.timer({ delay: 1 }),
          signal: () => rt.signal('SIGUSR2'),
          notifier: () => rt.notifier(),
          pathWatch: () => rt.watchPath(tmpdir()),
          processExit: () => rt.processExit(process.pid),
        };
        for (const [kind, attempt] of Object.entries(attempts) as Array<[SourceKind, () => unknown]>) {
          if (has(kind)) continue;
          assert.throws(attempt, isCode('ERR_FDLOOP_UNSUPPORTED'), kind);
        }
        assert.equal(rt.pendingCount, 0);
      });
    });

    if (has('timer')) {
      describe('timer', () => {
        it('fires a one-shot timer once, then stops counting as pending work', async () => {
          await withRuntime(async (rt) => {
            const t = rt.timer({ delay: 5 });
            assert.equal(t.armed, true);
            const ev = await within(t.once(), timeout, 'a one-shot expiration');
            assert.equal(ev.expirations, 1);
            assert.equal(t.armed, false);
            await within(rt.run(), timeout, 'run() to resolve after the one-shot timer fired');
            t.close();
          });
        });

        it('repeats a periodic timer until cancelled, and reports nothing after cancel()', async () => {
          await withRuntime(async (rt) => {
            let total = 0;
            const t = rt.timer({ delay: 2, interval: 2 }, (ev) => {
              assert.ok(ev.expirations >= 1);
              total += ev.expirations;
              if (total >= 3) t.cancel();
            });
            await within(rt.run(), timeout, 'three expirations');
            assert.ok(total >= 3);
            const after = total;
            await sleep(20);
            assert.equal(total, after);
            assert.equal(t.armed, false);
            t.close();
          });
        });

        it('fires at an absolute realtime Date', async () => {
          await withRuntime(async (rt) => {
            const t = rt.timer({ clock: 'realtime', at: new Date(Date.now() + 10) });
            const ev = await within(t.once(), timeout, 'an absolute expiration');
            assert.equal(ev.expirations, 1);
            t.close();
          });
        });

        it('refuses NaN, negative and infinite values with ERR_FDLOOP_INVALID_ARGUMENT', async () => {
          await withRuntime(async (rt) => {
            for (const bad of [{ delay: NaN }, { delay: -1 }, { delay: Infinity }, { interval: 0 }, { interval: -5 }, { delay: 1, at: 5 }]) {
              assert.throws(() => rt.timer(bad), isCode('ERR_FDLOOP_INVALID_ARGUMENT'), JSON.stringify(bad));
            }
            assert.equal(rt.pendingCount, 0);
          });
        });
      });
    }

    if (has('signal')) {
      describe('signal', () => {
        it('receives a signal sent to the process with the sender pid', async () => {
          await withRuntime(async (rt) => {
            const sub = rt.signal('SIGUSR2');
            try {
              process.kill(process.pid, 'SIGUSR2');
              const ev = await within(sub.once(), timeout, 'SIGUSR2');
              assert.equal(ev.signal, 'SIGUSR2');
              if (ev.pid !== undefined) assert.equal(ev.pid, process.pid);
            } finally {
              sub.close();
            }
          });
        });

        it('refuses unknown signals, SIGKILL and SIGSTOP with ERR_FDLOOP_INVALID_ARGUMENT', async () => {
          await withRuntime(async (rt) => {
            for (const bad of ['SIGNOPE', 'KILL', 'SIGSTOP', 9, -1, 1.5]) {
              assert.throws(() => rt.signal(bad as string), isCode('ERR_FDLOOP_INVALID_ARGUMENT'), String(bad));
            }
          });
        });
      });
    }

    if (has('notifier')) {
      describe('notifier', () => {
        it('sums notifications in counter mode', async () => {
          await withRuntime(async (rt) => {
            const n = rt.notifier();
            n.notify(2);
            n.notify(3);
            const ev = await within(n.once(), timeout, 'a notification');
            assert.equal(ev.count, 5);
            n.close();
          });
        });

        it('delivers one event per notification in semaphore mode', async () => {
          await withRuntime(async (rt) => {
            const n = rt.notifier({ semaphore: true });
            n.notify(3);
            const it = n.events();
            for (let i = 0; i < 3; i++) {
              const r = await within(it.next(), timeout, `notification ${i + 1}`);
              assert.equal(r.value?.count, 1);
            }
            n.close();
            assert.equal((await it.next()).done, true);
          });
        });

        it('can be triggered through its remote description', async () => {
          await withRuntime(async (rt) => {
            const n = rt.notifier();
            const remote = structuredClone(n.remote);
            const backend = options.backend();
            assert.equal(typeof backend.notifyRemote, 'function');
            backend.notifyRemote?.(remote, 4);
            const ev = await within(n.once(), timeout, 'a remote notification');
            assert.equal(ev.count, 4);
            n.close();
          });
        });
      });
    }

    if (has('pathWatch')) {
      describe('pathWatch', () => {
        it('reports create and a rename joined into one event, with full paths', async () => {
          const dir = mkdtempSync(join(tmpdir(), 'fdloop-src-'));
          try {
            await withRuntime(async (rt) => {
              const seen: PathEvent[] = [];
              const w = rt.watchPath(dir, (ev) => seen.push(ev));
              writeFileSync(join(dir, 'a'), 'x');
              const deadline = Date.now() + timeout;
              // Rename only once the create was reported: kqueue names entries by listing the directory when it
              // changes, so a file created and renamed before the loop runs is seen only under its new name.
              while (!seen.some((e) => e.kind === 'create') && Date.now() < deadline) await sleep(5);
              renameSync(join(dir, 'a'), join(dir, 'b'));
              while (!seen.some((e) => e.kind === 'rename') && Date.now() < deadline) await sleep(5);
              w.close();
              assert.ok(seen.some((e) => e.kind === 'create' && e.path === join(dir, 'a')), JSON.stringify(seen));
              const rename = seen.find((e) => e.kind === 'rename');
              assert.ok(rename, JSON.stringify(seen));
              assert.equal(rename.oldPath, join(dir, 'a'));
              assert.equal(rename.path, join(dir, 'b'));
            });
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        });

        it('watches subdirectories created later when recursive', async () => {
          const dir = mkdtempSync(join(tmpdir(), 'fdloop-src-'));
          try {
            await withRuntime(async (rt) => {
              const seen: PathEvent[] = [];
              const w = rt.watchPath(dir, { recursive: true }, (ev) => seen.push(ev));
              mkdirSync(join(dir, 'sub'));
              const deadline = Date.now() + timeout;
              while (!seen.some((e) => e.kind === 'create' && e.path === join(dir, 'sub')) && Date.now() < deadline) await sleep(5);
              writeFileSync(join(dir, 'sub', 'deep'), 'x');
              while (!seen.some((e) => e.path === join(dir, 'sub', 'deep')) && Date.now() < deadline) await sleep(5);
              w.close();
              assert.ok(seen.some((e) => e.path === join(dir, 'sub', 'deep')), JSON.stringify(seen));
            });
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        });

        it('fails with ENOENT naming the path for a missing path, leaving nothing open', async () => {
          await withRuntime(async (rt) => {
            const missing = join(tmpdir(), 'fdloop-definitely-missing', 'x');
            assert.throws(
              () => rt.watchPath(missing),
              (err: unknown) => err instanceof ErrnoError && err.code === 'ENOENT' && err.path === missing,
            );
            assert.equal(rt.pendingCount, 0);
          });
        });
      });
    }

    if (has('processExit')) {
      describe('processExit', () => {
        it('reports the exit code of a child process', async () => {
          await withRuntime(async (rt) => {
            const child = spawn(process.execPath, ['-e', 'setTimeout(() => process.exit(3), 20)'], { stdio: 'ignore' });
            const pid = child.pid as number;
            const src = rt.processExit(pid);
            const ev = await within(src.exited, timeout * 2, 'the child to exit');
            assert.equal(ev.pid, pid);
            assert.equal(ev.code, 3);
            assert.equal(ev.signal, null);
            assert.equal(src.closed, true);
          });
        });

        it('reports how a killed child ended: the signal on POSIX, the exit code on Windows', async () => {
          await withRuntime(async (rt) => {
            const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
            const src = rt.processExit(child.pid as number);
            child.kill('SIGTERM');
            const ev = await within(src.exited, timeout * 2, 'the child to die');
            if (process.platform === 'win32') {
              // No signals on Windows: libuv's kill is TerminateProcess(handle, 1), and 1 is all the kernel keeps.
              assert.equal(ev.code, 1);
              assert.equal(ev.signo, null);
              assert.equal(ev.signal, null);
            } else {
              assert.equal(ev.code, null);
              assert.equal(ev.signal, 'SIGTERM');
            }
          });
        });

        it('refuses invalid pids', async () => {
          await withRuntime(async (rt) => {
            for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => rt.processExit(bad), isCode('ERR_FDLOOP_INVALID_ARGUMENT'));
          });
        });
      });
    }
  });
}
