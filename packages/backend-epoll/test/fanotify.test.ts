// fanotify on real marks (this machine runs the tests as root): a directory mark and a mount mark of a notification
// group with names (FAN_REPORT_DFID_NAME), and a permission group that denies and allows opens made by a child
// process (`cat`), answers by default when the handler stays silent, and lets this process's own opens through.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, InvalidArgumentError, type Runtime } from '@fdloop/core';
import { epoll, fanotify, type FanotifyEvent } from '../src/index.js';

let rt: Runtime;
let dir: string;
beforeEach(() => {
  rt = createRuntime({ backend: epoll() });
  dir = mkdtempSync(join(tmpdir(), 'fdloop-fan-'));
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

/** Run `cat path` in a child process: resolves with its exit code and output. */
function cat(path: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('cat', [path]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

describe('fanotify notification groups (FAN_REPORT_DFID_NAME)', () => {
  it('reports create and delete in a marked directory with the directory path and the entry name', async () => {
    const seen: FanotifyEvent[] = [];
    const fan = fanotify(rt, {}, (ev) => seen.push(ev));
    fan.mark(dir, { scope: 'inode', events: ['create', 'delete'] });
    writeFileSync(join(dir, 'hello'), 'x');
    rmSync(join(dir, 'hello'));
    await until(() => seen.some((e) => e.kinds.includes('delete')), 'the delete event');
    const create = seen.find((e) => e.kinds.includes('create'));
    expect(create?.name).toBe('hello');
    expect(create?.directory).toBe(dir);
    expect(create?.path).toBe(join(dir, 'hello'));
    expect(create?.pid).toBe(process.pid);
    fan.close();
  });

  it('reports close-after-write anywhere on a marked mount', async () => {
    const seen: FanotifyEvent[] = [];
    const fan = fanotify(rt, {}, (ev) => seen.push(ev));
    fan.mark(dir, { scope: 'mount', events: ['closeWrite'] });
    writeFileSync(join(dir, 'on-the-mount'), 'x');
    await until(() => seen.some((e) => e.name === 'on-the-mount'), 'the closeWrite event');
    const ev = seen.find((e) => e.name === 'on-the-mount');
    expect(ev?.kinds).toContain('closeWrite');
    expect(ev?.path).toBe(join(dir, 'on-the-mount'));
    fan.close();
  });

  it('reports creates anywhere on a marked filesystem, with names', async () => {
    const seen: FanotifyEvent[] = [];
    const fan = fanotify(rt, {}, (ev) => seen.push(ev));
    fan.mark(dir, { scope: 'filesystem', events: ['create'] });
    writeFileSync(join(dir, 'fs-wide'), 'x');
    await until(() => seen.some((e) => e.name === 'fs-wide'), 'the create event');
    expect(seen.find((e) => e.name === 'fs-wide')?.path).toBe(join(dir, 'fs-wide'));
    fan.close();
  });

  it('refuses permission kinds on a notification group and unknown kinds', () => {
    const fan = fanotify(rt, {}, () => {});
    expect(() => fan.mark(dir, { events: ['openPerm'] })).toThrow(InvalidArgumentError);
    expect(() => fan.mark(dir, { events: ['sneeze' as 'open'] })).toThrow(InvalidArgumentError);
    expect(() => fan.mark(join(dir, 'missing'), { events: ['create'] })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    fan.close();
  });
});

describe('fanotify permission groups', () => {
  it('denies, then allows, an open by another process', async () => {
    writeFileSync(join(dir, 'secret'), 'the secret');
    let verdict: 'allow' | 'deny' = 'deny';
    const asked: FanotifyEvent[] = [];
    const fan = fanotify(rt, { permission: true }, (ev) => {
      asked.push(ev);
      if (verdict === 'deny') ev.deny?.();
      else ev.allow?.();
    });
    fan.mark(dir, { events: ['openPerm'] });
    const denied = await cat(join(dir, 'secret'));
    expect(denied.code).not.toBe(0);
    expect(denied.err).toMatch(/Operation not permitted/);
    expect(asked.some((e) => e.path === join(dir, 'secret') && e.kinds.includes('openPerm'))).toBe(true);
    verdict = 'allow';
    const allowed = await cat(join(dir, 'secret'));
    expect(allowed).toMatchObject({ code: 0, out: 'the secret' });
    fan.close();
  });

  it('answers with the safety default when the handler never does', async () => {
    writeFileSync(join(dir, 'slow'), 'eventually');
    const fan = fanotify(rt, { permission: true, timeoutMs: 50, defaultResponse: 'allow' }, () => {
      // Deliberately silent.
    });
    fan.mark(dir, { events: ['openPerm'] });
    expect(await cat(join(dir, 'slow'))).toMatchObject({ code: 0, out: 'eventually' });
    fan.close();
  });

  it('allows this process\'s own (asynchronous) opens without asking the handler', async () => {
    writeFileSync(join(dir, 'mine'), 'ours');
    let asked = 0;
    const fan = fanotify(rt, { permission: true, defaultResponse: 'deny', timeoutMs: 10000 }, (ev) => {
      asked++;
      ev.deny?.();
    });
    fan.mark(dir, { events: ['openPerm'] });
    expect(fan.permissionMarks).toEqual([dir]);
    expect(await readFile(join(dir, 'mine'), 'utf8')).toBe('ours');
    expect(asked).toBe(0);
    expect(fan.selfAllowed).toBeGreaterThan(0);
    fan.close();
  });
});
