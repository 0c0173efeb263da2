// sysfs-style attribute watching (read, wait for PRI|ERR, seek, read again) on real kernel attributes:
// - a cgroup v2 `cgroup.events` file, which the kernel updates with kernfs_notify() — the mechanism behind
//   sysfs_notify() and legacy GPIO value files — when a process enters or leaves the cgroup (watched directly by the
//   runtime's epoll);
// - /proc/sys/kernel/hostname in a private UTS namespace (`unshare -u`), where sethostname raises PRI|ERR. Its poll
//   consumes the notification on first look, which the nested epoll cannot survive, so it goes through the relay
//   thread (see src/attribute.ts).
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRuntime, ErrnoError } from '@fdloop/core';
import { epoll, watchAttribute } from '../src/index.js';

const CGROUP2 = '/sys/fs/cgroup/unified';

describe('watchAttribute', () => {
  it('sees a kernfs attribute change (cgroup.events populated 0 -> 1 -> 0) as PRI|ERR and reads the new value', async () => {
    if (!existsSync(`${CGROUP2}/cgroup.procs`)) throw new Error(`cgroup v2 is not mounted at ${CGROUP2}`);
    const group = `${CGROUP2}/fdloop-attr-${process.pid}`;
    mkdirSync(group);
    const rt = createRuntime({ backend: epoll() });
    const child = spawn('sleep', ['30']);
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const w = watchAttribute(rt, `${group}/cgroup.events`);
      expect(w.value).toMatch(/^populated 0$/m);
      const entered = w.next();
      writeFileSync(`${group}/cgroup.procs`, String(child.pid));
      const up = await entered;
      expect(up.value).toMatch(/^populated 1$/m);
      expect(up.error).toBe(true);
      const left = w.next();
      child.kill('SIGKILL');
      await exited;
      expect((await left).value).toMatch(/^populated 0$/m);
      w.close();
      await expect(w.next()).rejects.toMatchObject({ code: 'ERR_FDLOOP_CANCELLED' });
    } finally {
      child.kill('SIGKILL');
      await exited;
      await rt.close();
      rmdirSync(group);
    }
  });

  it('sees hostname changes in a private UTS namespace (/proc/sys, through the relay thread)', () => {
    const fixture = fileURLToPath(new URL('./fixtures/hostname-child.mjs', import.meta.url));
    const r = spawnSync('unshare', ['-u', process.execPath, fixture], { encoding: 'utf8', timeout: 20000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout.trim()) as { before: string; seen: string[] };
    expect(out.seen).toEqual(['fdloop-uts-1', 'fdloop-uts-2']);
    expect(out.before).not.toMatch(/^fdloop-uts/);
  });

  it('fails with ENOENT naming the path for a missing attribute', async () => {
    const rt = createRuntime({ backend: epoll() });
    try {
      const path = '/sys/class/gpio/gpio99999/value';
      let caught: unknown;
      try {
        watchAttribute(rt, path);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ErrnoError);
      expect((caught as ErrnoError).code).toBe('ENOENT');
      expect((caught as ErrnoError).path).toBe(path);
      expect(rt.pendingCount).toBe(0);
    } finally {
      await rt.close();
    }
  });
});
