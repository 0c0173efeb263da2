// The io_uring completion layer (src/uring.ts, native/uring/) on this machine's kernel.
import { describe, expect, it } from 'vitest';
import * as nodeFs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CancelledError, PollableFdError, completionProvider, createRuntime, type CompletionIo } from '@fdloop/core';
import { epoll, ioUringDisabled, sys, uringProvider } from '../src/index.js';

const available = ioUringDisabled() !== 2;

describe.runIf(available)('io_uring completion layer', () => {
  const open = (rt: ReturnType<typeof createRuntime>): CompletionIo => {
    const io = uringProvider.open(rt);
    if ('unavailable' in io) throw new Error(io.unavailable);
    return io;
  };

  it('is the epoll backend\'s completion provider', () => {
    expect(completionProvider(epoll())).toBe(uringProvider);
  });

  it('readFile, open, write, read and close give node:fs results and errors', async () => {
    const rt = createRuntime({ backend: epoll() });
    const io = open(rt);
    const dir = nodeFs.mkdtempSync(join(tmpdir(), 'fdloop-uring-'));
    const pick = (e: unknown) => {
      const x = e as NodeJS.ErrnoException;
      return { message: x.message, code: x.code, errno: x.errno, syscall: x.syscall, path: x.path };
    };
    await rt.run(async () => {
      const big = Buffer.alloc(300_000);
      for (let i = 0; i < big.length; i++) big[i] = i % 251;
      nodeFs.writeFileSync(join(dir, 'big'), big);
      expect(await io.readFile(join(dir, 'big'))).toEqual(big);
      // Files whose size stat does not know (procfs) are read until end of file.
      expect((await io.readFile('/proc/self/status')).toString()).toContain('Pid:');
      expect((await io.readFile('/dev/null')).length).toBe(0);
      for (const [mine, theirs] of [
        [() => io.readFile(join(dir, 'missing')), () => nodeFs.promises.readFile(join(dir, 'missing'))],
        [() => io.readFile(dir), () => nodeFs.promises.readFile(dir)],
        [() => io.readFile(join(dir, 'big', 'below')), () => nodeFs.promises.readFile(join(dir, 'big', 'below'))],
        [() => io.open(join(dir, 'big'), nodeFs.constants.O_CREAT | nodeFs.constants.O_EXCL | nodeFs.constants.O_WRONLY, 0o644), () => nodeFs.promises.open(join(dir, 'big'), 'wx')],
      ] as const) {
        expect(await mine().then(() => 'no error', pick)).toEqual(await theirs().then(() => 'no error', pick));
      }
      const fd = await io.open(join(dir, 'rw'), nodeFs.constants.O_CREAT | nodeFs.constants.O_RDWR, 0o600);
      expect(await io.write(fd, Buffer.from('hello io_uring'), 0)).toBe(14);
      expect((await io.read(fd, 5, 6)).toString()).toBe('io_ur');
      expect(nodeFs.statSync(join(dir, 'rw')).mode & 0o777).toBe(0o600);
      await io.close(fd);
      const closed = await io.close(fd).catch(pick);
      expect(closed).toEqual(await new Promise((resolve) => nodeFs.close(fd, (e) => resolve(pick(e)))));
      expect(await io.read(fd, 4, 0).catch(pick)).toMatchObject({ code: 'EBADF', syscall: 'read', message: 'EBADF: bad file descriptor, read' });
    });
    io.dispose();
    await rt.close();
    nodeFs.rmSync(dir, { recursive: true });
  });

  it('batches more operations than the ring holds, and run() waits for them', async () => {
    const rt = createRuntime({ backend: epoll() });
    const io = open(rt);
    let results: Buffer[] = [];
    await rt.run(() => {
      void Promise.all(Array.from({ length: 5000 }, () => io.readFile('/etc/hostname'))).then((r) => (results = r));
    });
    expect(results.length).toBe(5000);
    expect(results.every((b) => b.equals(results[0] as Buffer))).toBe(true);
    io.dispose();
    await rt.close();
  });

  it('refuses pollable files (FIFO, socket, tty) instead of parking a kernel worker on them', async () => {
    const rt = createRuntime({ backend: epoll() });
    const io = open(rt);
    const fifo = join(nodeFs.mkdtempSync(join(tmpdir(), 'fdloop-uring-')), 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(io.readFile(fifo)).rejects.toBeInstanceOf(PollableFdError);
    await expect(io.open(fifo, nodeFs.constants.O_RDONLY, 0)).rejects.toMatchObject({ code: 'ERR_FDLOOP_POLLABLE_FD', fileType: 'fifo' });
    const [a, b] = sys.socketpair();
    await expect(io.read(a, 4, -1)).rejects.toMatchObject({ fileType: 'socket' });
    await expect(io.write(b, Buffer.from('x'), null)).rejects.toMatchObject({ fileType: 'socket' });
    sys.close(a);
    sys.close(b);
    io.dispose();
    await rt.close();
  });

  it('dispose() cancels what is in flight: pending operations reject with CancelledError', async () => {
    const rt = createRuntime({ backend: epoll() });
    const io = open(rt);
    const pending = Promise.allSettled(Array.from({ length: 300 }, () => io.readFile('/proc/self/stat')));
    io.dispose();
    io.dispose(); // idempotent
    const settled = await pending;
    expect(settled.every((s) => s.status === 'rejected' && s.reason instanceof CancelledError)).toBe(true);
    await expect(io.readFile('/etc/hostname')).rejects.toBeInstanceOf(CancelledError);
    await rt.close();
  });

  it('a worker terminated with operations in flight releases its ring without crashing the process', async () => {
    const worker = new Worker(new URL('./fixtures/uring-terminate.mjs', import.meta.url));
    const message = await new Promise<{ started?: boolean; unavailable?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    expect(message).toEqual({ started: true });
    expect(await worker.terminate()).toBe(1);
  });
});
