/**
 * The file-system task kind, loaded once in each pool worker: a batch of operations run with node:fs's
 * synchronous calls (they block a pool worker, never the loop thread) and their results or errors.
 * @internal
 * @packageDocumentation
 */

import * as fs from 'node:fs';
import { PollableFdError, READFILE_ERROR_NAMES_PATH, type TaskContext } from '@fdloop/core';

/** One operation. `a`, `b`, `c` are its arguments (kept positional to make batches cheap to clone). */
export type FsOp =
  | { readonly op: 'open'; readonly a: string; readonly b: string | number; readonly c: number }
  | { readonly op: 'close'; readonly a: number }
  | { readonly op: 'read'; readonly a: number; readonly b: number; readonly c: number | null }
  | { readonly op: 'write'; readonly a: number; readonly b: Uint8Array; readonly c: number | null }
  | { readonly op: 'readFile'; readonly a: string | number; readonly b: string }
  | { readonly op: 'writeFile'; readonly a: string | number; readonly b: Uint8Array; readonly c: { mode: number; flag: string } }
  | { readonly op: 'stat' | 'lstat'; readonly a: string }
  | { readonly op: 'fstat'; readonly a: number }
  | { readonly op: 'readdir'; readonly a: string; readonly b: boolean }
  | { readonly op: 'mkdir'; readonly a: string; readonly b: { recursive: boolean; mode: number } }
  | { readonly op: 'rm'; readonly a: string; readonly b: { recursive: boolean; force: boolean } }
  | { readonly op: 'rename'; readonly a: string; readonly b: string }
  | { readonly op: 'copyFile'; readonly a: string; readonly b: string; readonly c: number }
  | { readonly op: 'truncate'; readonly a: string; readonly b: number }
  | { readonly op: 'ftruncate'; readonly a: number; readonly b: number }
  | { readonly op: 'fsync' | 'fdatasync'; readonly a: number }
  | { readonly op: 'unlink' | 'rmdir'; readonly a: string };

/** An fs error as it crosses threads (structured clone would drop `code`, `errno`, `syscall`, `path`, `dest`). */
export interface FsErrorData {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly code?: string;
  readonly errno?: number;
  readonly syscall?: string;
  readonly path?: string;
  readonly dest?: string;
  /** For `ERR_FDLOOP_POLLABLE_FD`: the file type and what was refused. */
  readonly fileType?: string;
  readonly what?: string;
}

export type FsResult = { readonly ok: true; readonly v: unknown } | { readonly ok: false; readonly e: FsErrorData };

/** Directory entry types, as numbers so entries clone cheaply. */
export const DirentType = { unknown: 0, file: 1, dir: 2, link: 3, fifo: 4, socket: 5, char: 6, block: 7 } as const;

function direntType(d: fs.Dirent): number {
  if (d.isFile()) return DirentType.file;
  if (d.isDirectory()) return DirentType.dir;
  if (d.isSymbolicLink()) return DirentType.link;
  if (d.isFIFO()) return DirentType.fifo;
  if (d.isSocket()) return DirentType.socket;
  if (d.isCharacterDevice()) return DirentType.char;
  if (d.isBlockDevice()) return DirentType.block;
  return DirentType.unknown;
}

/** Bytes that own their memory are moved to the caller; views into a shared pool slab are copied first. */
function give(bytes: Uint8Array, transfers: ArrayBuffer[]): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    transfers.push(bytes.buffer);
    return bytes;
  }
  return new Uint8Array(bytes);
}

/**
 * The type of a pollable file (one whose reads can wait for a peer): FIFO, socket, or a character device other
 * than the memory devices (major 1: /dev/null, /dev/zero, /dev/urandom…, which never block). Else undefined.
 */
function pollableType(s: fs.Stats | undefined): string | undefined {
  if (s === undefined) return undefined;
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  if (s.isCharacterDevice()) {
    const major = ((s.rdev >> 8) & 0xfff) | (Math.floor(s.rdev / 2 ** 32) & ~0xfff);
    return major === 1 ? undefined : 'character device';
  }
  return undefined;
}

/** Refuse to block a pool worker on a pollable descriptor or path (nodejs/node#23220, serialport#797). */
function refusePollable(target: string | number): void {
  let s: fs.Stats | undefined;
  try {
    s = typeof target === 'number' ? fs.fstatSync(target) : fs.statSync(target);
  } catch {
    // Let the operation itself fail, so the error (syscall, message) is exactly node:fs's.
    return;
  }
  const type = pollableType(s);
  if (type !== undefined) throw new PollableFdError(type, typeof target === 'number' ? `fd ${target}` : `'${target}'`);
}

function plainStats(s: fs.Stats): Record<string, unknown> {
  return { ...s };
}

/**
 * `readFileSync`'s error, shaped as `fs.promises.readFile` shapes it on this Node: from Node 26 on the promise API
 * names the path of a failed read (`EISDIR: …, read '/dir'`), the synchronous one never does.
 */
function asPromisesReadFileError(error: unknown, path: string): unknown {
  const e = error as NodeJS.ErrnoException;
  if (READFILE_ERROR_NAMES_PATH && e instanceof Error && e.syscall === 'read' && e.path === undefined) {
    e.path = path;
    e.message = `${e.message} '${path}'`;
  }
  return error;
}

function one(o: FsOp, transfers: ArrayBuffer[]): unknown {
  switch (o.op) {
    case 'open':
      refusePollable(o.a);
      return fs.openSync(o.a, o.b, o.c);
    case 'close':
      return fs.closeSync(o.a);
    case 'read': {
      refusePollable(o.a);
      const buf = Buffer.allocUnsafeSlow(o.b);
      const n = fs.readSync(o.a, buf, 0, o.b, o.c);
      return give(n === o.b ? buf : buf.subarray(0, n), transfers);
    }
    case 'write':
      refusePollable(o.a);
      return fs.writeSync(o.a, o.b, 0, o.b.byteLength, o.c);
    case 'readFile':
      refusePollable(o.a);
      try {
        return give(fs.readFileSync(o.a, { flag: o.b }), transfers);
      } catch (error) {
        throw typeof o.a === 'string' ? asPromisesReadFileError(error, o.a) : error;
      }
    case 'writeFile':
      refusePollable(o.a);
      return fs.writeFileSync(o.a, o.b, o.c);
    case 'stat':
      return plainStats(fs.statSync(o.a));
    case 'lstat':
      return plainStats(fs.lstatSync(o.a));
    case 'fstat':
      return plainStats(fs.fstatSync(o.a));
    case 'readdir':
      if (!o.b) return fs.readdirSync(o.a);
      return fs.readdirSync(o.a, { withFileTypes: true }).map((d) => [d.name, direntType(d)]);
    case 'mkdir':
      return fs.mkdirSync(o.a, o.b);
    case 'rm':
      return fs.rmSync(o.a, o.b);
    case 'rename':
      return fs.renameSync(o.a, o.b);
    case 'copyFile':
      return fs.copyFileSync(o.a, o.b, o.c);
    case 'truncate':
      return fs.truncateSync(o.a, o.b);
    case 'ftruncate':
      return fs.ftruncateSync(o.a, o.b);
    case 'fsync':
      return fs.fsyncSync(o.a);
    case 'fdatasync':
      return fs.fdatasyncSync(o.a);
    case 'unlink':
      return fs.unlinkSync(o.a);
    case 'rmdir':
      return fs.rmdirSync(o.a);
  }
}

function errorData(err: unknown): FsErrorData {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), stack: undefined };
  const e = err as NodeJS.ErrnoException & { dest?: string };
  return {
    name: e.name,
    message: e.message,
    stack: e.stack,
    ...(e.code !== undefined ? { code: e.code } : {}),
    ...(e.errno !== undefined ? { errno: e.errno } : {}),
    ...(e.syscall !== undefined ? { syscall: e.syscall } : {}),
    ...(e.path !== undefined ? { path: e.path } : {}),
    ...(e.dest !== undefined ? { dest: e.dest } : {}),
    ...(err instanceof PollableFdError ? { fileType: err.fileType, what: err.message.slice(0, err.message.indexOf(' is a ')) } : {}),
  };
}

/** Run a batch of operations in order; each gets its own result or error. */
export function batch(ops: readonly FsOp[], ctx: TaskContext): FsResult[] {
  const transfers: ArrayBuffer[] = [];
  const out: FsResult[] = new Array<FsResult>(ops.length);
  for (let i = 0; i < ops.length; i++) {
    try {
      out[i] = { ok: true, v: one(ops[i] as FsOp, transfers) };
    } catch (err) {
      out[i] = { ok: false, e: errorData(err) };
    }
  }
  if (transfers.length > 0) ctx.transfer(...transfers);
  return out;
}
