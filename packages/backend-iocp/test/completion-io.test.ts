// The contract's completion layer on IOCP (`iocp().completion`): real files in a temporary directory, every
// result and every error compared with node:fs's own for the same call under the same node.exe.
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:net';
import { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CancelledError, createRuntime, PollableFdError, type CompletionIo, type Runtime } from '@fdloop/core';
import { iocp, iocpCompletionProvider, sys, type IocpNotifierRemote } from '../src/index.js';
import { loadNative } from '../src/native.js';
import { errorOf, recordingPoller, waitFor } from './helpers.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND } = fs.constants;
const dir = fs.mkdtempSync(join(tmpdir(), 'fdloop-iocp-cio-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function fresh(content?: string | Buffer): string {
  const path = join(dir, `f${++counter}.bin`);
  if (content !== undefined) fs.writeFileSync(path, content);
  return path;
}

let rt: Runtime | undefined;
let io: CompletionIo | undefined;

function open(): { rt: Runtime; io: CompletionIo } {
  rt = createRuntime({ backend: iocp() });
  const opened = iocp().completion.open(rt);
  if ('unavailable' in opened) throw new Error(`completion layer unavailable: ${opened.unavailable}`);
  io = opened;
  return { rt, io };
}

afterEach(async () => {
  io?.dispose();
  io = undefined;
  await rt?.close();
  rt = undefined;
});

describe('iocp completion layer', () => {
  it('is offered by the backend with kind "iocp"', () => {
    const { io } = open();
    expect(io.kind).toBe('iocp');
    expect(iocp().completion).toBe(iocpCompletionProvider);
    expect(iocp().capabilities.completionIo).toBe(true);
  });

  it('reads and writes at positions, byte-identical to node:fs, on an fd node:fs accepts', async () => {
    const { io } = open();
    const path = fresh('hello, world');
    const fd = await io.open(path, O_RDWR, 0o666);
    try {
      expect((await io.read(fd, 5, 7)).toString()).toBe('world');
      expect(await io.write(fd, Buffer.from('WINE!'), 7)).toBe(5);
      expect(fs.readFileSync(path, 'utf8')).toBe('hello, WINE!');
      // The descriptor is node.exe's own: node:fs reads it, stats it, writes through it, and io sees the writes.
      expect(fs.fstatSync(fd).size).toBe(12);
      const viaNode = Buffer.alloc(5);
      expect(fs.readSync(fd, viaNode, 0, 5, 0)).toBe(5);
      expect(viaNode.toString()).toBe('hello');
      fs.writeSync(fd, 'HELLO', 0);
      expect((await io.read(fd, 12, 0)).toString()).toBe('HELLO, WINE!');
      // Past the end: an empty buffer (end of file), not an error.
      expect((await io.read(fd, 4, 1000)).length).toBe(0);
      const bytes = randomBytes(300_000);
      expect(await io.write(fd, bytes, 12)).toBe(bytes.length);
      expect(Buffer.compare(await io.read(fd, bytes.length, 12), bytes)).toBe(0);
      expect(Buffer.compare(fs.readFileSync(path).subarray(12), bytes)).toBe(0);
    } finally {
      await io.close(fd);
    }
    // Closed as fs.closeSync would: node:fs now says EBADF for it too.
    expect(() => fs.fstatSync(fd)).toThrowError(expect.objectContaining({ code: 'EBADF' }));
  });

  it('tracks position null per descriptor', async () => {
    const { io } = open();
    const path = fresh();
    const fd = await io.open(path, O_RDWR | O_CREAT | O_TRUNC, 0o666);
    try {
      expect(await io.write(fd, Buffer.from('abc'), null)).toBe(3);
      expect(await io.write(fd, Buffer.from('def'), null)).toBe(3);
      expect(fs.readFileSync(path, 'utf8')).toBe('abcdef');
      const rd = await io.open(path, O_RDONLY, 0);
      try {
        expect((await io.read(rd, 2, null)).toString()).toBe('ab');
        expect((await io.read(rd, 2, 4)).toString()).toBe('ef'); // an explicit position leaves it alone
        expect((await io.read(rd, 2, null)).toString()).toBe('cd');
        expect((await io.read(rd, 8, null)).toString()).toBe('ef');
        expect((await io.read(rd, 8, null)).length).toBe(0);
      } finally {
        await io.close(rd);
      }
    } finally {
      await io.close(fd);
    }
  });

  it('position null shares the file pointer node:fs uses on the same fd, both ways', async () => {
    const { io } = open();
    const path = fresh('0123456789abcdef');
    const fd = await io.open(path, O_RDWR, 0);
    try {
      const three = Buffer.alloc(3);
      expect(fs.readSync(fd, three, 0, 3, null)).toBe(3);
      expect(three.toString()).toBe('012');
      expect((await io.read(fd, 3, null)).toString()).toBe('345'); // starts where node:fs left the pointer
      expect(fs.readSync(fd, three, 0, 3, null)).toBe(3);
      expect(three.toString()).toBe('678'); // and moved it on
      expect((await io.read(fd, 2, 0)).toString()).toBe('01'); // an explicit position leaves it alone
      expect(await io.write(fd, Buffer.from('XY'), null)).toBe(2);
      expect(fs.writeSync(fd, Buffer.from('Z'), 0, 1, null)).toBe(1);
      expect(fs.readFileSync(path, 'utf8')).toBe('012345678XYZcdef');
    } finally {
      await io.close(fd);
    }
  });

  it('position null operations issued at once run one after another, in the order issued', async () => {
    const { io } = open();
    const path = fresh('abcdefghijkl');
    const fd = await io.open(path, O_RDWR, 0);
    try {
      const reads = await Promise.all([io.read(fd, 4, null), io.read(fd, 4, null), io.read(fd, 4, null), io.read(fd, 4, null)]);
      expect(reads.map(String)).toEqual(['abcd', 'efgh', 'ijkl', '']);
      const parts = Array.from({ length: 8 }, (_, i) => Buffer.alloc(1000, 65 + i));
      const target = fresh();
      const w = await io.open(target, O_RDWR | O_CREAT | O_TRUNC, 0o666);
      try {
        expect(await Promise.all(parts.map((p) => io.write(w, p, null)))).toEqual(parts.map(() => 1000));
        expect(fs.readFileSync(target)).toEqual(Buffer.concat(parts));
      } finally {
        await io.close(w);
      }
    } finally {
      await io.close(fd);
    }
  });

  it('maps O_CREAT, O_EXCL, O_TRUNC and O_APPEND as node:fs does', async () => {
    const { io } = open();
    // O_CREAT makes the file; O_EXCL on it then fails exactly like node:fs.
    const created = join(dir, `c${++counter}.txt`);
    await io.close(await io.open(created, O_WRONLY | O_CREAT | O_EXCL, 0o644));
    expect(fs.existsSync(created)).toBe(true);
    const flags = O_WRONLY | O_CREAT | O_EXCL;
    expect(await errorOf(() => io.open(created, flags, 0o644))).toEqual(await errorOf(() => fs.openSync(created, flags, 0o644)));
    expect((await errorOf(() => io.open(created, flags, 0o644))).code).toBe('EEXIST');

    // O_TRUNC empties it.
    const truncated = fresh('something long');
    await io.close(await io.open(truncated, O_WRONLY | O_TRUNC, 0));
    expect(fs.statSync(truncated).size).toBe(0);

    // O_APPEND: every write lands at the end, whatever position is named — the same file as node:fs makes.
    const viaIo = fresh('start:');
    const viaNode = fresh('start:');
    const a = await io.open(viaIo, O_WRONLY | O_APPEND, 0);
    const b = fs.openSync(viaNode, O_WRONLY | O_APPEND);
    try {
      for (const [chunk, position] of [['one', null], ['two', 0], ['three', null]] as const) {
        await io.write(a, Buffer.from(chunk), position);
        fs.writeSync(b, Buffer.from(chunk), 0, chunk.length, position);
      }
    } finally {
      await io.close(a);
      fs.closeSync(b);
    }
    expect(fs.readFileSync(viaIo, 'utf8')).toBe(fs.readFileSync(viaNode, 'utf8'));
    expect(fs.readFileSync(viaIo, 'utf8')).toBe('start:onetwothree');

    // A mode without the write bit makes a read-only file (FILE_ATTRIBUTE_READONLY), as libuv does.
    const readOnly = join(dir, `ro${++counter}.txt`);
    const readOnlyNode = join(dir, `ro${++counter}.txt`);
    await io.close(await io.open(readOnly, O_WRONLY | O_CREAT, 0o444));
    fs.closeSync(fs.openSync(readOnlyNode, O_WRONLY | O_CREAT, 0o444));
    try {
      expect(fs.statSync(readOnly).mode).toBe(fs.statSync(readOnlyNode).mode);
      expect(fs.statSync(readOnly).mode & 0o222).toBe(0);
    } finally {
      fs.chmodSync(readOnly, 0o666);
      fs.chmodSync(readOnlyNode, 0o666);
    }
  });

  it('fails like node:fs: ENOENT, EISDIR, EBADF', async () => {
    const { io } = open();
    const missing = join(dir, 'missing', 'nope.txt');
    const e1 = await errorOf(() => io.open(missing, O_RDONLY, 0));
    expect(e1).toEqual(await errorOf(() => fs.openSync(missing, O_RDONLY)));
    expect(e1).toMatchObject({ code: 'ENOENT', syscall: 'open', path: missing });
    expect(await errorOf(() => io.readFile(missing))).toEqual(await errorOf(() => fs.promises.readFile(missing)));

    // A directory: readFile fails in its read; an fd opened on it reads with EISDIR; creating over it fails.
    expect(await errorOf(() => io.readFile(dir))).toEqual(await errorOf(() => fs.promises.readFile(dir)));
    expect((await errorOf(() => io.readFile(dir))).code).toBe('EISDIR');
    const dfd = await io.open(dir, O_RDONLY, 0);
    const nfd = fs.openSync(dir, 'r');
    try {
      const mine = await errorOf(() => io.read(dfd, 4, 0));
      expect(mine).toEqual(await errorOf(() => fs.readSync(nfd, Buffer.alloc(4), 0, 4, 0)));
      expect(mine.code).toBe('EISDIR');
    } finally {
      await io.close(dfd);
      fs.closeSync(nfd);
    }
    const overDir = O_WRONLY | O_CREAT | O_TRUNC;
    expect(await errorOf(() => io.open(dir, overDir, 0o666))).toEqual(await errorOf(() => fs.openSync(dir, overDir, 0o666)));

    // A closed descriptor: read, write and close all say EBADF, as node:fs's asynchronous calls do.
    const closed = await io.open(fresh('x'), O_RDWR, 0);
    await io.close(closed);
    const readErr = await errorOf(() => io.read(closed, 1, 0));
    expect(readErr).toEqual(
      await errorOf(() => new Promise((resolve, reject) => fs.read(closed, Buffer.alloc(1), 0, 1, 0, (err) => (err ? reject(err) : resolve(0))))),
    );
    expect(readErr.code).toBe('EBADF');
    expect(await errorOf(() => io.write(closed, Buffer.from('z'), 0))).toEqual(
      await errorOf(() => new Promise((resolve, reject) => fs.write(closed, Buffer.from('z'), 0, 1, 0, (err) => (err ? reject(err) : resolve(0))))),
    );
    expect(await errorOf(() => io.close(closed))).toEqual(await errorOf(() => new Promise((resolve, reject) => fs.close(closed, (err) => (err ? reject(err) : resolve(0))))));
  });

  it('reads whole files like fs.promises.readFile', async () => {
    const { io } = open();
    for (const content of [Buffer.alloc(0), Buffer.from('short'), randomBytes(8192), randomBytes(1 << 20)]) {
      const path = fresh(content);
      const mine = await io.readFile(path);
      expect(Buffer.compare(mine, await fs.promises.readFile(path))).toBe(0);
    }
  });

  it('refuses pipes and character devices with PollableFdError', async () => {
    const { io } = open();
    const name = `\\\\.\\pipe\\fdloop-cio-${process.pid}-${++counter}`;
    const server: Server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(name, resolve));
    try {
      await expect(io.open(name, O_RDWR, 0)).rejects.toBeInstanceOf(PollableFdError);
      await expect(io.readFile(name)).rejects.toMatchObject({ code: 'ERR_FDLOOP_POLLABLE_FD', fileType: 'fifo' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    await expect(io.open('\\\\.\\NUL', O_RDONLY, 0)).rejects.toMatchObject({ code: 'ERR_FDLOOP_POLLABLE_FD', fileType: 'character device' });
  });

  it('counts operations in flight as pending work of the runtime', async () => {
    const { rt, io } = open();
    const path = fresh(randomBytes(1 << 16));
    const fd = await io.open(path, O_RDONLY, 0);
    let done = false;
    const read = io.read(fd, 1 << 16, 0).then((bytes) => {
      done = true;
      return bytes;
    });
    await rt.run(); // resolves only when nothing is pending: the read has been delivered
    expect((await read).length).toBe(1 << 16);
    expect(done).toBe(true);
    await io.close(fd);
  });

  it('dispose rejects what is in flight with CancelledError and leaves the fd to node:fs', async () => {
    const { rt, io } = open();
    const path = fresh(randomBytes(1 << 20));
    const fd = await io.open(path, O_RDONLY, 0);
    // Reads the kernel holds, a readFile and an open still on the thread pool (what it opens is closed again).
    const reads = [io.read(fd, 1 << 20, 0), io.read(fd, 1 << 19, 1 << 19), io.readFile(path), io.open(path, O_RDONLY, 0)];
    io.dispose();
    io.dispose(); // idempotent
    for (const r of reads) await expect(r).rejects.toBeInstanceOf(CancelledError);
    await expect(io.read(fd, 1, 0)).rejects.toBeInstanceOf(CancelledError);
    await expect(io.open(path, O_RDONLY, 0)).rejects.toBeInstanceOf(CancelledError);
    await rt.run(); // nothing held any more
    expect(fs.fstatSync(fd).size).toBe(1 << 20);
    fs.closeSync(fd);
  });
});

describe('poller guard', () => {
  it('drops completion packets whose OVERLAPPED it did not issue', async () => {
    const { poller, rec } = recordingPoller();
    const notifier = poller.addSource<'notifier'>({ kind: 'notifier', semaphore: false }, 99);
    const { port } = notifier.remote as IocpNotifierRemote;
    const native = loadNative().completion;
    expect(native).toBeDefined();
    try {
      // 0x1000 is never mapped: a poller that dereferenced it would crash the process.
      expect(native?.postForeignIo(port, 0x1000)).toBe(0);
      expect(native?.postForeignIo(port, 0x7ff0_0000_0000)).toBe(0);
      const h = sys.openFile(fresh('guarded'));
      try {
        const buf = Buffer.alloc(7);
        poller.read(h, buf, 1, 0);
        await waitFor(() => rec.pairs.some(([t]) => t === 1), 'the read after the foreign packets');
        expect(rec.pairs).toEqual([[1, 7]]);
        expect(buf.toString()).toBe('guarded');
        expect(poller.stats()).toMatchObject({ pending: 0, io: 0 });
      } finally {
        sys.closeHandle(h);
      }
    } finally {
      notifier.close();
      poller.close();
    }
  });
});

describe('worker threads', () => {
  const script = new URL('./fixtures/completion-worker.mjs', import.meta.url);
  function run(hang: boolean): { worker: Worker; path: string; message: Promise<{ kind: string; fd: number; back: string; whole?: string }> } {
    const path = fresh();
    const worker = new Worker(script, { workerData: { path, text: `from a worker ${String(hang)}`, hang } });
    const message = new Promise<{ kind: string; fd: number; back: string; whole?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    return { worker, path, message };
  }

  it('a worker has a layer of its own and exits cleanly after disposing it', async () => {
    const { worker, message } = run(false);
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    expect(await message).toMatchObject({ kind: 'iocp', back: 'from a worker false', whole: 'from a worker false' });
    expect(await exited).toBe(0);
  });

  it('terminating a worker with its layer open tears it down; its fd is still a node:fs fd of the process', async () => {
    for (let round = 0; round < 3; round++) {
      const { worker, path, message } = run(true);
      const { fd, back } = await message;
      expect(back).toBe('from a worker true');
      await worker.terminate();
      // Descriptors belong to the process (node.exe's C runtime), as node:fs's do: the main thread can close it.
      expect(fs.fstatSync(fd).size).toBe(back.length);
      fs.closeSync(fd);
      // The overlapped twin was closed by the worker's cleanup hook: with it leaked, the name would stay in the
      // directory (delete pending) after the unlink.
      fs.rmSync(path);
      expect(fs.readdirSync(dir)).not.toContain(basename(path));
    }
    // The main thread's own layer still works.
    const { io } = open();
    expect((await io.readFile(fresh('still here'))).toString()).toBe('still here');
  });
});
