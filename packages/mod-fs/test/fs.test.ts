import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nodeFs from 'node:fs';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PollableFdError, callbackApi, createRuntime, type CompletionBackend, type Runtime } from '@fdloop/core';
import { epoll, ioUringDisabled, sys } from '@fdloop/backend-epoll';
import { DirEntry, FileStats, fsModule, type FsApi } from '../src/index.js';

const nfs = nodeFs.promises;
let rt: Runtime;
let fs: FsApi;
let dir: string;

// io_uring is tested wherever the kernel allows it; kernel.io_uring_disabled = 2 (or no io_uring) skips that half.
const disabled = ioUringDisabled();
const PATHS = [{ io: 'pool' as const, expected: 'pool' }, ...(disabled === 2 ? [] : [{ io: 'uring' as const, expected: 'io_uring' }])];

it.runIf(disabled === 2)('io_uring is disabled on this machine (kernel.io_uring_disabled = 2): auto uses the pool', async () => {
  const r = createRuntime({ backend: epoll() });
  expect(r.use(fsModule()).io).toBe('pool');
  expect(() => r.use(fsModule({ io: 'uring' }))).toThrow(/io_uring_disabled is 2/);
  await r.close();
});

const p = (...parts: string[]) => join(dir, ...parts);
const pick = (e: unknown) => {
  const x = e as NodeJS.ErrnoException & { dest?: string };
  return { name: x.name, message: x.message, code: x.code, errno: x.errno, syscall: x.syscall, path: x.path, dest: x.dest };
};

/** Run the same failing call through mod-fs and node:fs/promises; both must fail the same way. */
async function sameError(mine: () => Promise<unknown>, theirs: () => Promise<unknown>): Promise<string | undefined> {
  const a = await mine().then(() => undefined, pick);
  const b = await theirs().then(() => undefined, pick);
  expect(b, 'node:fs did not fail').toBeDefined();
  expect(a).toEqual(b);
  return a?.code;
}

describe.each(PATHS)('mod-fs ($io path) against node:fs', ({ io, expected }) => {
  beforeAll(() => {
    dir = nodeFs.mkdtempSync(join(tmpdir(), `fdloop-modfs-${io}-`));
    rt = createRuntime({ backend: epoll(), pool: { size: 2 } });
    fs = rt.use(fsModule({ io }));
    expect(fs.io).toBe(expected);
  });
  afterAll(async () => {
    await rt.close();
    nodeFs.rmSync(dir, { recursive: true, force: true });
  });

  it('writeFile / readFile / appendFile produce the same bytes and text', async () => {
    const text = 'héllo wörld\n'.repeat(1000);
    await fs.writeFile(p('a.txt'), text);
    expect(await fs.readFile(p('a.txt'), 'utf8')).toBe(await nfs.readFile(p('a.txt'), 'utf8'));
    expect(await fs.readFile(p('a.txt'))).toEqual(await nfs.readFile(p('a.txt')));
    expect(await fs.readFile(pathToFileURL(p('a.txt')), { encoding: 'latin1' })).toBe(await nfs.readFile(p('a.txt'), 'latin1'));
    await fs.appendFile(p('a.txt'), Buffer.from('tail'));
    expect((await nfs.readFile(p('a.txt'), 'utf8')).endsWith('\ntail')).toBe(true);
    await fs.writeFile(p('hex.bin'), 'deadbeef', 'hex');
    expect(await nfs.readFile(p('hex.bin'))).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    await fs.writeFile(p('empty'), '');
    expect((await fs.readFile(p('empty'))).length).toBe(0);
    await fs.writeFile(p('mode'), 'x', { mode: 0o600 });
    expect(nodeFs.statSync(p('mode')).mode & 0o777).toBe(0o600);
  });

  it('open / write / read / fstat / ftruncate / fsync / close on one descriptor', async () => {
    const fd = await fs.open(p('rw.bin'), 'w+');
    const { bytesWritten } = await fs.write(fd, Buffer.from('0123456789'), 2, 5, 0);
    expect(bytesWritten).toBe(5);
    const buf = Buffer.alloc(8, 0x2e);
    const r = await fs.read(fd, buf, 1, 5, 0);
    expect(r.bytesRead).toBe(5);
    expect(buf.toString()).toBe('.23456..');
    expect(r.buffer).toBe(buf);
    expect((await fs.read(fd, Buffer.alloc(4), 0, 4, 100)).bytesRead).toBe(0);
    expect((await fs.fstat(fd)).size).toBe(5);
    await fs.ftruncate(fd, 2);
    await fs.fsync(fd);
    await fs.fdatasync(fd);
    expect((await fs.fstat(fd)).size).toBe(2);
    await fs.close(fd);
    await sameError(() => fs.close(fd), async () => nodeFs.closeSync(fd));
  });

  it('stat / lstat match node:fs field by field', async () => {
    nodeFs.writeFileSync(p('s.txt'), 'abc');
    nodeFs.symlinkSync(p('s.txt'), p('link'));
    for (const [mine, theirs] of [
      [await fs.stat(p('s.txt')), await nfs.stat(p('s.txt'))],
      [await fs.lstat(p('link')), await nfs.lstat(p('link'))],
      [await fs.stat(dir), await nfs.stat(dir)],
    ] as const) {
      expect(mine).toBeInstanceOf(FileStats);
      for (const key of Object.keys(theirs)) expect((mine as unknown as Record<string, unknown>)[key], key).toEqual((theirs as unknown as Record<string, unknown>)[key]);
      for (const m of ['isFile', 'isDirectory', 'isSymbolicLink', 'isFIFO', 'isSocket', 'isCharacterDevice', 'isBlockDevice'] as const) {
        expect(mine[m](), m).toBe(theirs[m]());
      }
    }
  });

  it('readdir / mkdir / rename / copyFile / truncate / rm / unlink / rmdir', async () => {
    expect(await fs.mkdir(p('d1', 'd2', 'd3'), { recursive: true })).toBe(await nfs.mkdir(p('e1', 'e2', 'e3'), { recursive: true }).then(() => p('d1')));
    expect(await fs.mkdir(p('d1', 'd2'), { recursive: true })).toBeUndefined();
    await fs.writeFile(p('d1', 'f.txt'), 'data');
    expect((await fs.readdir(p('d1'))).sort()).toEqual((await nfs.readdir(p('d1'))).sort());
    const entries = await fs.readdir(p('d1'), { withFileTypes: true });
    const theirs = await nfs.readdir(p('d1'), { withFileTypes: true });
    expect(entries.every((e) => e instanceof DirEntry)).toBe(true);
    expect(entries.map((e) => [e.name, e.isFile(), e.isDirectory(), e.parentPath]).sort()).toEqual(
      theirs.map((e) => [e.name, e.isFile(), e.isDirectory(), e.parentPath]).sort(),
    );
    await fs.rename(p('d1', 'f.txt'), p('d1', 'g.txt'));
    await fs.copyFile(p('d1', 'g.txt'), p('d1', 'h.txt'));
    expect(nodeFs.readFileSync(p('d1', 'h.txt'), 'utf8')).toBe('data');
    await sameError(
      () => fs.copyFile(p('d1', 'g.txt'), p('d1', 'h.txt'), nodeFs.constants.COPYFILE_EXCL),
      () => nfs.copyFile(p('d1', 'g.txt'), p('d1', 'h.txt'), nodeFs.constants.COPYFILE_EXCL),
    );
    await fs.truncate(p('d1', 'h.txt'), 2);
    expect(nodeFs.readFileSync(p('d1', 'h.txt'), 'utf8')).toBe('da');
    await fs.unlink(p('d1', 'h.txt'));
    await fs.rmdir(p('d1', 'd2', 'd3'));
    await fs.rm(p('d1'), { recursive: true });
    expect(nodeFs.existsSync(p('d1'))).toBe(false);
    await fs.rm(p('d1'), { force: true });
  });

  it('error codes are identical to node:fs/promises: ENOENT, EISDIR, ENOTDIR, EEXIST, ENOTEMPTY, EBADF', async () => {
    nodeFs.writeFileSync(p('file'), 'x');
    nodeFs.mkdirSync(p('full'));
    nodeFs.writeFileSync(p('full', 'x'), 'x');
    const codes = [
      await sameError(() => fs.readFile(p('missing')), () => nfs.readFile(p('missing'))),
      await sameError(() => fs.readFile(dir), () => nfs.readFile(dir)),
      await sameError(() => fs.readFile(p('file', 'below')), () => nfs.readFile(p('file', 'below'))),
      await sameError(() => fs.stat(p('missing')), () => nfs.stat(p('missing'))),
      await sameError(() => fs.readdir(p('file')), () => nfs.readdir(p('file'))),
      await sameError(() => fs.mkdir(p('file')), () => nfs.mkdir(p('file'))),
      await sameError(() => fs.rmdir(p('full')), () => nfs.rmdir(p('full'))),
      await sameError(() => fs.rm(p('full')), () => nfs.rm(p('full'))),
      await sameError(() => fs.rename(p('missing'), p('other')), () => nfs.rename(p('missing'), p('other'))),
      await sameError(() => fs.open(p('missing'), 'r'), () => nfs.open(p('missing'), 'r')),
      await sameError(() => fs.writeFile(p('nodir', 'x'), 'x'), () => nfs.writeFile(p('nodir', 'x'), 'x')),
      await sameError(() => fs.open(p('file'), 'wx'), () => nfs.open(p('file'), 'wx')),
      await sameError(() => fs.fstat(999_999), async () => nodeFs.fstatSync(999_999)),
    ];
    expect(codes).toEqual(['ENOENT', 'EISDIR', 'ENOTDIR', 'ENOENT', 'ENOTDIR', 'EEXIST', 'ENOTEMPTY', 'ERR_FS_EISDIR', 'ENOENT', 'ENOENT', 'ENOENT', 'EEXIST', 'EBADF']);
  });

  it('EACCES is identical to node:fs for a non-root user', async (ctx) => {
    if (process.getuid?.() !== 0) {
      // Not root: we cannot switch to another user, but this user may still lack access to a root-owned file.
      ctx.skip();
    }
    const locked = p('locked');
    nodeFs.writeFileSync(locked, 'secret', { mode: 0o600 });
    nodeFs.mkdirSync(`${locked}.dir`, { mode: 0o700 });
    nodeFs.chmodSync(dir, 0o755);
    const script = fileURLToPath(new URL('./fixtures/eacces.mjs', import.meta.url));
    // The fixture runs as `nobody` from this checkout: in a checkout under a private directory (mktemp -d is 0700)
    // that user cannot even load it, and there is nothing to compare.
    const reachable = await promisify(execFile)(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(script)})`], { uid: 65534, gid: 65534, cwd: '/' }).then(
      () => true,
      () => false,
    );
    if (!reachable) ctx.skip();
    const { stdout } = await promisify(execFile)(process.execPath, [script, locked, io], { uid: 65534, gid: 65534, cwd: '/' });
    const result = JSON.parse(stdout) as { uid: number; out: Record<string, { mine: unknown; node: unknown }> };
    expect(result.uid).toBe(65534);
    for (const [name, { mine, node }] of Object.entries(result.out)) {
      expect(node, name).toMatchObject({ code: 'EACCES' });
      expect(mine, name).toEqual(node);
    }
  });

  it('streams and async iterators read and write large files in chunks', async () => {
    const big = Buffer.alloc(3 * 65536 + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    await new Promise<void>((resolve, reject) => {
      const ws = fs.createWriteStream(p('big.bin'), { flush: true });
      ws.on('error', reject);
      ws.on('close', resolve);
      for (let i = 0; i < big.length; i += 10_000) ws.write(big.subarray(i, i + 10_000));
      ws.end();
    });
    expect(nodeFs.readFileSync(p('big.bin'))).toEqual(big);
    const fromStream: Buffer[] = [];
    for await (const chunk of fs.createReadStream(p('big.bin'))) fromStream.push(chunk as Buffer);
    expect(Buffer.concat(fromStream)).toEqual(big);
    expect(fromStream.length).toBe(4);
    const ranged: Buffer[] = [];
    for await (const chunk of fs.createReadStream(p('big.bin'), { start: 10, end: 70_000, highWaterMark: 30_000 })) ranged.push(chunk as Buffer);
    expect(Buffer.concat(ranged)).toEqual(big.subarray(10, 70_001));
    const viaNode: Buffer[] = [];
    for await (const chunk of nodeFs.createReadStream(p('big.bin'), { start: 10, end: 70_000 })) viaNode.push(chunk as Buffer);
    expect(Buffer.concat(ranged)).toEqual(Buffer.concat(viaNode));
    const chunks: Buffer[] = [];
    for await (const chunk of fs.chunks(p('big.bin'), { highWaterMark: 50_000 })) chunks.push(chunk);
    expect(Buffer.concat(chunks)).toEqual(big);
    // Breaking out early closes the descriptor.
    for await (const _chunk of fs.chunks(p('big.bin'))) break;
    const missing = await (async () => {
      for await (const _c of fs.createReadStream(p('nope'))) void _c;
    })().catch(pick);
    expect(missing).toEqual(await nfs.readFile(p('nope')).then(() => undefined, pick));
  });

  it('many concurrent operations are batched and all settle correctly', async () => {
    await fs.mkdir(p('many'));
    await Promise.all(Array.from({ length: 500 }, (_, i) => fs.writeFile(p('many', `${i}.txt`), `file ${i}`)));
    const texts = await Promise.all(Array.from({ length: 500 }, (_, i) => fs.readFile(p('many', `${i}.txt`), 'utf8')));
    expect(texts.every((t, i) => t === `file ${i}`)).toBe(true);
    const mixed = await Promise.allSettled([fs.readFile(p('many', '1.txt'), 'utf8'), fs.readFile(p('many', 'none.txt')), fs.stat(p('many', '2.txt'))]);
    expect(mixed.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('never blocks a pool thread on a pollable file: FIFOs, sockets and ttys are refused, /dev/null is not', async () => {
    const fifo = p('fifo');
    execFileSync('mkfifo', [fifo]);
    for (const attempt of [() => fs.readFile(fifo), () => fs.open(fifo, 'r'), () => fs.writeFile(fifo, 'x')]) {
      const err = await attempt().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PollableFdError);
      expect(err).toMatchObject({ code: 'ERR_FDLOOP_POLLABLE_FD', fileType: 'fifo' });
    }
    const [a, b] = sys.socketpair();
    await expect(fs.read(a, Buffer.alloc(4))).rejects.toMatchObject({ code: 'ERR_FDLOOP_POLLABLE_FD', fileType: 'socket' });
    await expect(fs.write(b, Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_FDLOOP_POLLABLE_FD', fileType: 'socket' });
    sys.close(a);
    sys.close(b);
    const pty = sys.openpty();
    await expect(fs.read(pty.master, Buffer.alloc(4))).rejects.toMatchObject({ fileType: 'character device' });
    sys.close(pty.master);
    sys.close(pty.slave);
    expect((await fs.readFile('/dev/null')).length).toBe(0);
    const zeroFd = await fs.open('/dev/zero');
    expect((await fs.read(zeroFd, Buffer.alloc(8, 1))).buffer).toEqual(Buffer.alloc(8));
    await fs.close(zeroFd);
  });

  it('descriptors opened on the pool belong to the process and outlive the pool', async () => {
    const rt2 = createRuntime({ backend: epoll(), pool: { size: 1 } });
    const fs2 = rt2.use(fsModule());
    await fs2.writeFile(p('keep.txt'), 'kept');
    const fd = await fs2.open(p('keep.txt'));
    await rt2.close(); // terminates rt2's pool worker
    expect(nodeFs.readFileSync(fd, 'utf8')).toBe('kept');
    nodeFs.closeSync(fd);
  });

  it('watch(path) reports changes made through mod-fs, by callback and as an async iterator', async () => {
    const watched = p('watched');
    await fs.mkdir(watched);
    const seen: string[] = [];
    const rtw = createRuntime({ backend: epoll(), pool: { size: 1 } });
    const fsw = rtw.use(fsModule());
    await rtw.run(async () => {
      const w = fsw.watch(watched, (ev) => {
        seen.push(`${ev.kind} ${ev.path}`);
        if (ev.kind === 'delete') w.close(); // the watcher keeps run() alive until closed
      });
      await fsw.writeFile(join(watched, 'a.txt'), 'one');
      await fsw.rename(join(watched, 'a.txt'), join(watched, 'b.txt'));
      await fsw.unlink(join(watched, 'b.txt'));
    });
    expect(seen).toContain(`create ${join(watched, 'a.txt')}`);
    expect(seen).toContain(`closeWrite ${join(watched, 'a.txt')}`);
    expect(seen).toContain(`rename ${join(watched, 'b.txt')}`);
    expect(seen.at(-1)).toBe(`delete ${join(watched, 'b.txt')}`);

    const iterated: string[] = [];
    const w2 = fsw.watch(pathToFileURL(watched), { recursive: false });
    const writer = fsw.writeFile(join(watched, 'c.txt'), 'two');
    for await (const ev of w2) {
      iterated.push(ev.kind);
      if (ev.kind === 'closeWrite') break;
    }
    await writer;
    expect(iterated[0]).toBe('create');
    expect(iterated.at(-1)).toBe('closeWrite');
    await expect(async () => fsw.watch(p('no-such-dir'))).rejects.toMatchObject({ code: 'ENOENT' });
    await rtw.close();
  });

  it('callbacks, cancellation and argument errors', async () => {
    const cb = callbackApi(fs);
    await fs.writeFile(p('cb.txt'), 'via callback');
    const text = await new Promise((resolve, reject) => cb.readFile(p('cb.txt'), undefined, (err, v) => (err ? reject(err) : resolve(String(v)))));
    expect(text).toBe('via callback');
    const err = await new Promise((resolve) => cb.stat(p('nope'), (e) => resolve(e)));
    expect(err).toMatchObject({ code: 'ENOENT' });
    await expect(fs.readFile(p('cb.txt'), { signal: AbortSignal.abort(new Error('never mind')) })).rejects.toThrow('never mind');
    await expect(fs.readFile(42.5 as never)).rejects.toMatchObject({ code: 'ERR_FDLOOP_INVALID_ARGUMENT', argument: 'fd' });
    await expect(fs.readFile('a\0b')).rejects.toMatchObject({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' });
    await expect(fs.read(1, Buffer.alloc(2), 0, 5)).rejects.toMatchObject({ argument: 'length' });
    const { completion: _completion, ...withoutCompletion } = epoll() as CompletionBackend;
    const plain = createRuntime({ backend: withoutCompletion });
    expect(plain.use(fsModule()).io).toBe('pool'); // 'auto' falls back to the pool
    expect(() => plain.use(fsModule({ io: 'uring' }))).toThrow(/completion file I\/O.*no completion I\/O layer/);
    expect(() => plain.use(fsModule({ io: 'completion' }))).toThrow(/completion file I\/O \(io_uring, IOCP\).*no completion I\/O layer/);
    await plain.close();
  });
});
