/**
 * `@fdloop/mod-crypto`: hashing, HMAC, key derivation, random bytes and AES-256-GCM for fdloop, run on the
 * runtime's thread pool (`pool-1…N`) so the loop thread never computes a hash. Every operation returns a
 * promise; `callbackApi()` from `@fdloop/core` gives the callback form. Results are byte-for-byte those of
 * `node:crypto` (the workers call it).
 *
 * @example
 * ```ts
 * import { createRuntime } from '@fdloop/core';
 * import { cryptoModule } from '@fdloop/mod-crypto';
 *
 * const rt = createRuntime();
 * const crypto = rt.use(cryptoModule());
 * await rt.run(async () => {
 *   const digest = await crypto.hash('sha256', 'abc');
 *   const key = await crypto.pbkdf2('password', 'salt', 100_000, 32, 'sha256');
 *   const sealed = await crypto.encrypt({ key, iv: await crypto.randomBytes(12), plaintext: 'secret' });
 * });
 * await rt.close();
 * ```
 *
 * @packageDocumentation
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getCiphers, getHashes, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { InvalidArgumentError, defineModule, type FdloopModule, type ModuleContext, type RunTaskOptions, type TaskKind } from '@fdloop/core';
import type { GcmInput, HashBatchInput, HashInput, HkdfInput, Pbkdf2Input, ScryptInput, SessionInput } from './tasks.js';

export type { BinaryLike, ScryptOptions } from 'node:crypto';

function tasksUrl(): URL {
  const here = new URL('./tasks.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  // Running the TypeScript sources (this package's own tests): the workers load the compiled file.
  return new URL('../dist/tasks.js', import.meta.url);
}

/** Options of every operation. */
export interface CryptoCallOptions {
  /** Cancel the operation: dropped if still queued, told (and rejected at once) if running. */
  readonly signal?: AbortSignal;
}

/** An AES-256-GCM result: ciphertext and authentication tag. */
export interface Sealed {
  /** The ciphertext, as long as the plaintext. */
  readonly ciphertext: Buffer;
  /** The authentication tag (16 bytes unless `tagLength` said otherwise). */
  readonly tag: Buffer;
}

/** Input of {@link CryptoApi.encrypt}. */
export interface EncryptInput extends CryptoCallOptions {
  /** 32 bytes. */
  readonly key: BinaryLike;
  /** The nonce; 12 bytes is the standard size (any length from 1 byte is accepted, as by node:crypto). */
  readonly iv: BinaryLike;
  /** What to encrypt (strings are UTF-8). */
  readonly plaintext: BinaryLike;
  /** Additional authenticated data. Defaults to none. */
  readonly aad?: BinaryLike;
  /** Tag length in bytes, 4 to 16. Defaults to `16`. */
  readonly tagLength?: number;
}

/** Input of {@link CryptoApi.decrypt}. */
export interface DecryptInput extends CryptoCallOptions {
  /** 32 bytes. */
  readonly key: BinaryLike;
  /** The nonce used to encrypt. */
  readonly iv: BinaryLike;
  /** The ciphertext. */
  readonly ciphertext: BinaryLike;
  /** The authentication tag. */
  readonly tag: BinaryLike;
  /** Additional authenticated data, as given to encrypt. Defaults to none. */
  readonly aad?: BinaryLike;
}

/**
 * A streaming hash or HMAC made by {@link CryptoApi.createHash} / {@link CryptoApi.createHmac}. Its state lives
 * in one pool worker; `update()` coalesces small chunks and sends them in order, `digest()` finishes.
 */
export interface StreamingHash {
  /** Add data (strings are UTF-8). Returns the same object. Errors surface at {@link StreamingHash.digest}. */
  update(data: BinaryLike): this;
  /** Finish and return the digest. The hash cannot be used afterwards. */
  digest(): Promise<Buffer>;
  /** Finish and return the digest as text in `encoding`. */
  digest(encoding: 'hex' | 'base64' | 'base64url'): Promise<string>;
  /** Drop the hash without a digest, releasing its state in the worker. */
  discard(): Promise<void>;
}

/** The API of {@link cryptoModule} for one runtime. */
export interface CryptoApi {
  /**
   * One-shot digest of `data` with `algorithm` (`'sha256'`, `'sha512'`, `'sha3-256'`, … any of
   * `crypto.getHashes()`).
   * @example
   * ```ts
   * const hex = (await crypto.hash('sha256', 'abc')).toString('hex');
   * ```
   */
  hash(algorithm: string, data: BinaryLike, options?: CryptoCallOptions): Promise<Buffer>;
  /** One-shot HMAC of `data` with `key`. */
  hmac(algorithm: string, key: BinaryLike, data: BinaryLike, options?: CryptoCallOptions): Promise<Buffer>;
  /** A streaming hash; see {@link StreamingHash}. */
  createHash(algorithm: string): StreamingHash;
  /** A streaming HMAC; see {@link StreamingHash}. */
  createHmac(algorithm: string, key: BinaryLike): StreamingHash;
  /**
   * Hash everything an (async) iterable yields — a file stream, a socket — without holding it in memory.
   * @example
   * ```ts
   * const digest = await crypto.hashStream('sha256', fs.createReadStream('big.iso'));
   * ```
   */
  hashStream(algorithm: string, source: AsyncIterable<BinaryLike> | Iterable<BinaryLike>, options?: CryptoCallOptions): Promise<Buffer>;
  /** PBKDF2 (RFC 8018) with HMAC-`digest`. */
  pbkdf2(password: BinaryLike, salt: BinaryLike, iterations: number, keylen: number, digest: string, options?: CryptoCallOptions): Promise<Buffer>;
  /** scrypt (RFC 7914). `options` as node:crypto's (`N`, `r`, `p`, `maxmem`); defaults N=16384, r=8, p=1. */
  scrypt(password: BinaryLike, salt: BinaryLike, keylen: number, options?: ScryptOptions & CryptoCallOptions): Promise<Buffer>;
  /** HKDF (RFC 5869) with `digest`. */
  hkdf(digest: string, ikm: BinaryLike, salt: BinaryLike, info: BinaryLike, keylen: number, options?: CryptoCallOptions): Promise<Buffer>;
  /** `size` cryptographically strong random bytes (0 to 2^31-1). */
  randomBytes(size: number, options?: CryptoCallOptions): Promise<Buffer>;
  /** AES-256-GCM encryption. */
  encrypt(input: EncryptInput): Promise<Sealed>;
  /**
   * AES-256-GCM decryption. A wrong key, nonce, tag or AAD rejects with node:crypto's error
   * (`'Unsupported state or unable to authenticate data'`) and releases no plaintext.
   */
  decrypt(input: DecryptInput): Promise<Buffer>;
}

/** Options of {@link cryptoModule}. */
export interface CryptoModuleOptions {
  /**
   * Streaming hashes send their data to the worker in chunks of at least this many bytes (smaller `update()`s
   * are coalesced on the loop thread). Defaults to `65536`.
   */
  readonly chunkSize?: number;
}

const HASHES = new Set(getHashes().map((h) => h.toLowerCase()));

function checkAlgorithm(algorithm: unknown, argument = 'algorithm'): string {
  if (typeof algorithm !== 'string' || !HASHES.has(algorithm.toLowerCase())) {
    throw new InvalidArgumentError(argument, `must be a hash algorithm known to node:crypto (sha256, sha512, …), got ${String(algorithm)}`);
  }
  return algorithm;
}

function checkBinary(value: unknown, argument: string): BinaryLike {
  if (typeof value === 'string' || ArrayBuffer.isView(value)) return value as BinaryLike;
  throw new InvalidArgumentError(argument, `must be a string, Buffer, TypedArray or DataView, got ${value === null ? 'null' : typeof value}`);
}

function checkInt(value: unknown, argument: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function bytes(value: BinaryLike): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * Inputs from this size on travel in a SharedArrayBuffer: one copy on the calling thread instead of the two of a
 * structured clone (serialize, then deserialize in the worker).
 */
const SHARE_FROM = 16 * 1024;

function shareLarge(data: BinaryLike): BinaryLike {
  if (typeof data === 'string' || data.byteLength < SHARE_FROM) return data;
  const shared = new Uint8Array(new SharedArrayBuffer(data.byteLength));
  shared.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return shared;
}

/** Must equal the layout constants of tasks.ts (not imported: the loop thread loads no task code). */
const DIGEST_ROOM = 64;
const META_HEADER = 2;
const META_FIELDS = 6;
const F_CHUNK = 0;
const F_OFFSET = 1;
const F_LENGTH = 2;
const F_ALGORITHM = 3;
const F_KEY = 4;
const F_DIGEST = 5;
/** Inputs are copied into shared chunks of this size (larger inputs get a chunk of their own). */
const CHUNK_BYTES = 4 << 20;
/** The most idle chunks a module keeps for reuse (32 MiB). */
const KEEP_CHUNKS = 8;
/** What a digest costs beyond its bytes, in bytes of SHA-256 (about 1.5 µs). */
const ITEM_WORK = 2048;
/** A tick's list is sent as soon as it holds this much work; later inputs of the tick start another list. */
const FLUSH_WORK = Number(process.env.FW ?? 4 << 20);
/** A tick's digests go to one more worker per this much work (input bytes plus ITEM_WORK per digest). */
const WORK_PER_WORKER = 256 * 1024;

/** One one-shot hash or HMAC waiting for its tick's batch. */
interface Queued {
  readonly chunk: number;
  readonly offset: number;
  readonly length: number;
  readonly algorithm: string;
  readonly key: BinaryLike | undefined;
  readonly resolve: (b: Buffer) => void;
  readonly reject: (e: unknown) => void;
}

/** The one-shot digests one tick asked for, their inputs already copied into shared chunks. */
interface Tick {
  readonly chunks: SharedArrayBuffer[];
  readonly items: Queued[];
  work: number;
}

/**
 * Copies one-shot hash inputs, at call time (later changes to the caller's buffer do not count, as with
 * node:crypto), into reused SharedArrayBuffer chunks: one copy per input, the one node:crypto makes too. A chunk
 * goes back to the free list when every task of its tick has returned; a chunk whose tick had a failed task (the
 * pool closed, a worker died) is never reused, since a worker might still be writing into it.
 */
class Chunks {
  private readonly free: SharedArrayBuffer[] = [];
  private tick: Tick | undefined;
  private view: Buffer | undefined;
  private used = 0;

  /** Whether this tick already has inputs (and a flush scheduled). */
  get pending(): boolean {
    return this.tick !== undefined;
  }

  /** Copy `data` (strings as UTF-8) into a chunk. Returns the work of the tick so far. */
  add(data: BinaryLike, algorithm: string, key: BinaryLike | undefined, resolve: (b: Buffer) => void, reject: (e: unknown) => void): number {
    const length = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
    const tick = (this.tick ??= { chunks: [], items: [], work: 0 });
    let view = this.view;
    if (view === undefined || this.used + length > view.byteLength) {
      const sab = length > CHUNK_BYTES ? new SharedArrayBuffer(length) : (this.free.pop() ?? new SharedArrayBuffer(CHUNK_BYTES));
      tick.chunks.push(sab);
      view = this.view = Buffer.from(sab);
      this.used = 0;
    }
    const offset = this.used;
    if (typeof data === 'string') view.write(data, offset, length, 'utf8');
    else view.set(new Uint8Array(data.buffer, data.byteOffset, length), offset);
    this.used += (length + 7) & ~7;
    tick.work += length + ITEM_WORK;
    tick.items.push({ chunk: tick.chunks.length - 1, offset, length, algorithm, key, resolve, reject });
    return tick.work;
  }

  /** This tick's inputs; the next input starts a new tick (and a new chunk). */
  take(): Tick | undefined {
    const tick = this.tick;
    this.tick = undefined;
    this.view = undefined;
    this.used = 0;
    return tick;
  }

  /** Every task of a tick returned: its chunks can take new inputs. */
  reuse(chunks: readonly SharedArrayBuffer[]): void {
    for (const sab of chunks) if (sab.byteLength === CHUNK_BYTES && this.free.length < KEEP_CHUNKS) this.free.push(sab);
  }
}

function toBuffer(u8: Uint8Array): Buffer {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** Reject instead of throwing, so argument errors reach `await` and callbacks alike. */
function attempt<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return fn();
  } catch (err) {
    return Promise.reject(err);
  }
}

if (!getCiphers().includes('aes-256-gcm')) {
  // Only a Node built without OpenSSL's GCM would get here; say so at load time rather than per call.
  throw new Error('@fdloop/mod-crypto needs node:crypto with aes-256-gcm');
}

let nextSession = 1;

function setup(ctx: ModuleContext, options: CryptoModuleOptions): CryptoApi {
  const url = tasksUrl();
  const hashTask: TaskKind<HashInput, Uint8Array> = ctx.task(url, 'hash');
  const hashBatchTask: TaskKind<HashBatchInput, number[]> = ctx.task(url, 'hashBatch');
  const sessionTask: TaskKind<SessionInput, Uint8Array | null> = ctx.task(url, 'hashSession');
  const pbkdf2Task: TaskKind<Pbkdf2Input, Uint8Array> = ctx.task(url, 'pbkdf2');
  const scryptTask: TaskKind<ScryptInput, Uint8Array> = ctx.task(url, 'scrypt');
  const hkdfTask: TaskKind<HkdfInput, Uint8Array> = ctx.task(url, 'hkdf');
  const randomTask: TaskKind<number, Uint8Array> = ctx.task(url, 'randomBytes');
  const encryptTask: TaskKind<GcmInput, { ciphertext: Uint8Array; tag: Uint8Array }> = ctx.task(url, 'aesGcmEncrypt');
  const decryptTask: TaskKind<GcmInput, Uint8Array> = ctx.task(url, 'aesGcmDecrypt');
  const chunkSize = options.chunkSize ?? 65536;
  checkInt(chunkSize, 'chunkSize', 1, 2 ** 30);

  // One-shot hashes and HMACs of one tick form one shared work list (see Chunks and tasks.ts's hashBatch): one
  // task per worker that the amount of work justifies, each taking the next undone digest until none is left, as
  // libuv's threads take jobs from their queue. No worker waits for the loop thread between digests, and a
  // worker that starts late (busy with something else) finds less or nothing to do.
  const chunks = new Chunks();
  const flushHashes = (): void => {
    const tick = chunks.take();
    if (tick === undefined) return;
    const { items } = tick;
    const n = items.length;
    const meta = new SharedArrayBuffer(4 * (META_HEADER + n * META_FIELDS) + DIGEST_ROOM * n);
    const ints = new Int32Array(meta, 0, META_HEADER + n * META_FIELDS);
    const digests = Buffer.from(meta, 4 * (META_HEADER + n * META_FIELDS));
    const algorithms: string[] = [];
    const algorithmIndex = new Map<string, number>();
    const keys: BinaryLike[] = [];
    ints[1] = n;
    items.forEach((q, i) => {
      let a = algorithmIndex.get(q.algorithm);
      if (a === undefined) algorithmIndex.set(q.algorithm, (a = algorithms.push(q.algorithm) - 1));
      const at = META_HEADER + i * META_FIELDS;
      ints[at + F_CHUNK] = q.chunk;
      ints[at + F_OFFSET] = q.offset;
      ints[at + F_LENGTH] = q.length;
      ints[at + F_ALGORITHM] = a;
      ints[at + F_KEY] = q.key === undefined ? -1 : keys.push(q.key) - 1;
    });
    const settledItems = new Uint8Array(n);
    const finishItem = (i: number): void => {
      const q = items[i] as Queued;
      settledItems[i] = 1;
      const length = ints[META_HEADER + i * META_FIELDS + F_DIGEST] as number;
      if (length >= 0) {
        q.resolve(Buffer.from(digests.subarray(i * DIGEST_ROOM, i * DIGEST_ROOM + length)));
        return;
      }
      // node:crypto refused this one (an HMAC with an XOF such as shake256), or its digest did not fit: run it
      // alone, for node:crypto's error (with the worker's and the caller's stacks) or the long digest.
      const chunk = tick.chunks[q.chunk] as SharedArrayBuffer;
      const data = Buffer.from(new Uint8Array(chunk, q.offset, q.length));
      run(hashTask, { algorithm: q.algorithm, data, ...(q.key === undefined ? {} : { key: q.key }) }).then((b) => q.resolve(toBuffer(b)), q.reject);
    };
    let size: number;
    try {
      size = ctx.pool.size;
    } catch (err) {
      // The runtime closed in the meantime.
      for (const q of items) q.reject(err);
      return;
    }
    const tasks = Math.max(1, Math.min(size, n, Math.ceil(tick.work / WORK_PER_WORKER)));
    const input: HashBatchInput = { meta, chunks: tick.chunks, algorithms, keys };
    let left = tasks;
    let failure: { error: unknown } | undefined;
    const settleTask = (): void => {
      if (--left > 0) return;
      if (failure === undefined) chunks.reuse(tick.chunks);
      else items.forEach((q, i) => settledItems[i] === 0 && q.reject(failure?.error));
    };
    for (let t = 0; t < tasks; t++) {
      ctx.run(hashBatchTask, input).then(
        (done) => {
          for (const i of done) finishItem(i);
          settleTask();
        },
        (error: unknown) => {
          failure ??= { error };
          settleTask();
        },
      );
    }
  };
  const oneShot = (algorithm: string, key: BinaryLike | undefined, data: BinaryLike, o: CryptoCallOptions | undefined): Promise<Buffer> => {
    if (o?.signal !== undefined) return run(hashTask, { algorithm, data: shareLarge(data), ...(key === undefined ? {} : { key }) }, o).then(toBuffer);
    // The key is copied now too (it is small), like the data.
    const keyCopy = key === undefined || typeof key === 'string' ? key : Buffer.from(bytes(key));
    return new Promise<Buffer>((resolve, reject) => {
      if (!chunks.pending) queueMicrotask(flushHashes);
      // A tick that asks for a lot starts the workers while the loop thread is still copying the rest.
      if (chunks.add(data, algorithm, keyCopy, resolve, reject) >= FLUSH_WORK) flushHashes();
    });
  };

  const run = <I, O>(kind: TaskKind<I, O>, input: I, o?: CryptoCallOptions & RunTaskOptions): Promise<O> =>
    ctx.run(kind, input, o?.signal === undefined && o?.affinity === undefined ? undefined : o);

  const streaming = (algorithm: string, key: BinaryLike | undefined): StreamingHash => {
    checkAlgorithm(algorithm);
    if (key !== undefined) checkBinary(key, 'key');
    const session = nextSession++;
    // Pin the session to one worker; tasks of one worker run in submission order.
    const affinity = session;
    let pending: BinaryLike[] = [];
    let pendingBytes = 0;
    let started = false;
    let finished = false;
    let failure: unknown;
    const inFlight: Promise<unknown>[] = [];
    const send = (finish: boolean): Promise<Uint8Array | null> => {
      const input: SessionInput = { session, algorithm, chunks: pending, finish, ...(!started && key !== undefined ? { key } : {}) };
      started = true;
      pending = [];
      pendingBytes = 0;
      return run(sessionTask, input, { affinity });
    };
    const h: StreamingHash = {
      update(data: BinaryLike) {
        if (finished) throw new InvalidArgumentError('update', 'digest() or discard() was already called on this hash');
        pending.push(checkBinary(data, 'data'));
        pendingBytes += typeof data === 'string' ? data.length : data.byteLength;
        if (pendingBytes >= chunkSize) {
          const p = send(false);
          p.catch((err: unknown) => {
            failure ??= err;
          });
          inFlight.push(p);
          if (inFlight.length > 64) inFlight.splice(0, 32);
        }
        return this;
      },
      digest(encoding?: 'hex' | 'base64' | 'base64url'): Promise<never> {
        if (finished) return Promise.reject(new InvalidArgumentError('digest', 'digest() or discard() was already called on this hash'));
        finished = true;
        const result = send(true).then(async (u8) => {
          await Promise.allSettled(inFlight);
          if (failure !== undefined) throw failure;
          const buf = toBuffer(u8 as Uint8Array);
          return encoding === undefined ? buf : buf.toString(encoding);
        });
        return result as Promise<never>;
      },
      async discard() {
        if (finished) return;
        finished = true;
        pending = [];
        if (started) await run(sessionTask, { session, algorithm, chunks: [], finish: false, discard: true }, { affinity });
      },
    };
    return h;
  };

  return {
    hash: (algorithm, data, o) => attempt(() => oneShot(checkAlgorithm(algorithm), undefined, checkBinary(data, 'data'), o)),
    hmac: (algorithm, key, data, o) =>
      attempt(() => oneShot(checkAlgorithm(algorithm), checkBinary(key, 'key'), checkBinary(data, 'data'), o)),
    createHash: (algorithm) => streaming(algorithm, undefined),
    createHmac: (algorithm, key) => streaming(algorithm, checkBinary(key, 'key')),
    hashStream: (algorithm, source, o) =>
      attempt(async () => {
        const h = streaming(algorithm, undefined);
        try {
          for await (const chunk of source) {
            o?.signal?.throwIfAborted();
            h.update(chunk);
          }
        } catch (err) {
          await h.discard().catch(() => undefined);
          throw err;
        }
        return h.digest();
      }),
    pbkdf2: (password, salt, iterations, keylen, digest, o) =>
      attempt(() =>
        run(
          pbkdf2Task,
          {
            password: checkBinary(password, 'password'),
            salt: checkBinary(salt, 'salt'),
            iterations: checkInt(iterations, 'iterations', 1, 2 ** 31 - 1),
            keylen: checkInt(keylen, 'keylen', 0, 2 ** 31 - 1),
            digest: checkAlgorithm(digest, 'digest'),
          },
          o,
        ).then(toBuffer),
      ),
    scrypt: (password, salt, keylen, o = {}) =>
      attempt(() => {
        const { signal, ...scryptOptions } = o;
        return run(
          scryptTask,
          { password: checkBinary(password, 'password'), salt: checkBinary(salt, 'salt'), keylen: checkInt(keylen, 'keylen', 0, 2 ** 31 - 1), options: scryptOptions },
          signal === undefined ? undefined : { signal },
        ).then(toBuffer);
      }),
    hkdf: (digest, ikm, salt, info, keylen, o) =>
      attempt(() =>
        run(
          hkdfTask,
          {
            digest: checkAlgorithm(digest, 'digest'),
            ikm: checkBinary(ikm, 'ikm'),
            salt: checkBinary(salt, 'salt'),
            info: checkBinary(info, 'info'),
            keylen: checkInt(keylen, 'keylen', 1, 255 * 64),
          },
          o,
        ).then(toBuffer),
      ),
    randomBytes: (size, o) => attempt(() => run(randomTask, checkInt(size, 'size', 0, 2 ** 31 - 1), o).then(toBuffer)),
    encrypt: (input) =>
      attempt(() => {
        const key = bytes(checkBinary(input.key, 'key'));
        if (key.byteLength !== 32) throw new InvalidArgumentError('key', `must be 32 bytes for AES-256-GCM, got ${key.byteLength}`);
        const tagLength = checkInt(input.tagLength ?? 16, 'tagLength', 4, 16);
        return run(
          encryptTask,
          {
            key,
            iv: bytes(checkBinary(input.iv, 'iv')),
            data: bytes(checkBinary(input.plaintext, 'plaintext')),
            ...(input.aad !== undefined ? { aad: bytes(checkBinary(input.aad, 'aad')) } : {}),
            tagLength,
          },
          input,
        ).then((r) => ({ ciphertext: toBuffer(r.ciphertext), tag: toBuffer(r.tag) }));
      }),
    decrypt: (input) =>
      attempt(() => {
        const key = bytes(checkBinary(input.key, 'key'));
        if (key.byteLength !== 32) throw new InvalidArgumentError('key', `must be 32 bytes for AES-256-GCM, got ${key.byteLength}`);
        const tag = bytes(checkBinary(input.tag, 'tag'));
        return run(
          decryptTask,
          {
            key,
            iv: bytes(checkBinary(input.iv, 'iv')),
            data: bytes(checkBinary(input.ciphertext, 'ciphertext')),
            ...(input.aad !== undefined ? { aad: bytes(checkBinary(input.aad, 'aad')) } : {}),
            tag,
            tagLength: checkInt(tag.byteLength, 'tag', 4, 16),
          },
          input,
        ).then(toBuffer);
      }),
  };
}

/**
 * The crypto module. Attach it with `rt.use(cryptoModule())`; the API it returns runs every operation on the
 * runtime's pool and counts it as pending work.
 *
 * @example
 * ```ts
 * const crypto = rt.use(cryptoModule());
 * const mac = await crypto.hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog');
 * ```
 */
export function cryptoModule(options: CryptoModuleOptions = {}): FdloopModule<CryptoApi> {
  return defineModule('crypto', (ctx) => setup(ctx, options));
}
