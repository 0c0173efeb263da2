// @fdloop/mod-fs end to end on this backend, on both of its paths: `io: 'auto'` picks the IOCP completion layer,
// `io: 'pool'` runs node:fs's synchronous calls on the runtime's thread pool; every result and error is node:fs's
// own, byte for byte, under the same node.exe.
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime } from '@fdloop/core';
import { fsModule } from '@fdloop/mod-fs';
import { iocp } from '../src/index.js';
import { errorOf } from './helpers.js';

const dir = fs.mkdtempSync(join(tmpdir(), 'fdloop-iocp-modfs-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

for (const [mode, used] of [['auto', 'iocp'], ['pool', 'pool']] as const) describe(`mod-fs on iocp, io: '${mode}'`, () => {
  it(`uses the ${used === 'iocp' ? "completion layer ('iocp')" : "thread pool ('pool')"} and matches node:fs byte for byte`, async () => {
    const rt = createRuntime({ backend: iocp() });
    try {
      const files = rt.use(fsModule({ io: mode }));
      expect(files.io).toBe(used);

      const content = randomBytes(200_000);
      const path = join(dir, 'data.bin');
      fs.writeFileSync(path, content);
      expect(Buffer.compare(await files.readFile(path), fs.readFileSync(path))).toBe(0);
      expect(await files.readFile(path, 'latin1')).toBe(fs.readFileSync(path, 'latin1'));

      const fd = await files.open(path, 'r+');
      try {
        const buffer = Buffer.alloc(1000);
        const { bytesRead } = await files.read(fd, buffer, 100, 500, 4096);
        expect(bytesRead).toBe(500);
        expect(Buffer.compare(buffer.subarray(100, 600), content.subarray(4096, 4596))).toBe(0);

        const patch = Buffer.from(`patched through ${used}`);
        const { bytesWritten } = await files.write(fd, patch, 0, patch.length, 10);
        expect(bytesWritten).toBe(patch.length);
        const expected = Buffer.from(content);
        patch.copy(expected, 10);
        expect(Buffer.compare(fs.readFileSync(path), expected)).toBe(0);

        // fstat runs on the pool with node:fs: the descriptor is one node:fs knows.
        expect((await files.fstat(fd)).size).toBe(content.length);
      } finally {
        await files.close(fd);
      }

      const mine = await files.stat(path);
      const theirs = fs.statSync(path);
      expect({ size: mine.size, file: mine.isFile(), dir: mine.isDirectory(), mtimeMs: mine.mtimeMs }).toEqual({
        size: theirs.size,
        file: true,
        dir: false,
        mtimeMs: theirs.mtimeMs,
      });

      // A file written through open('w') + write with position null, then appended to with 'a'.
      const made = join(dir, 'made.txt');
      const w = await files.open(made, 'w');
      await files.write(w, Buffer.from('first '));
      await files.write(w, Buffer.from('second'));
      await files.close(w);
      const a = await files.open(made, 'a');
      await files.write(a, Buffer.from(' third'), 0, 6, 0);
      await files.close(a);
      expect(fs.readFileSync(made, 'utf8')).toBe('first second third');
    } finally {
      await rt.close();
    }
  });

  it('fails exactly like node:fs: ENOENT, EISDIR, EBADF', async () => {
    const rt = createRuntime({ backend: iocp() });
    try {
      const files = rt.use(fsModule({ io: mode }));
      expect(files.io).toBe(used);
      const missing = join(dir, 'no', 'such.txt');
      const enoent = await errorOf(() => files.readFile(missing));
      expect(enoent).toEqual(await errorOf(() => fs.promises.readFile(missing)));
      expect(enoent.code).toBe('ENOENT');
      expect(await errorOf(() => files.open(missing, 'r'))).toEqual(await errorOf(() => fs.promises.open(missing, 'r')));

      const eisdir = await errorOf(() => files.readFile(dir));
      expect(eisdir).toEqual(await errorOf(() => fs.promises.readFile(dir)));
      expect(eisdir.code).toBe('EISDIR');

      const fd = await files.open(join(dir, 'data.bin'), 'r');
      await files.close(fd);
      const ebadf = await errorOf(() => files.read(fd, Buffer.alloc(4), 0, 4, 0));
      expect(ebadf).toEqual(
        await errorOf(() => new Promise((resolve, reject) => fs.read(fd, Buffer.alloc(4), 0, 4, 0, (err) => (err ? reject(err) : resolve(0))))),
      );
      expect(ebadf.code).toBe('EBADF');
      expect(await errorOf(() => files.close(fd))).toEqual(
        await errorOf(() => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve(0))))),
      );
    } finally {
      await rt.close();
    }
  });
});
