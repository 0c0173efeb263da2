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
import { InvalidArgumentError, describeReceived, defineModule, type FdloopModule, type ModuleContext, type RunTaskOptions, type TaskKind } from '@fdloop/core';
import type { BatchItem, GcmInput, HashBatchInput, HashBatchOutput, HashInput, HkdfInput, Pbkdf2Input, ScryptInput, SessionInput } from './tasks.js';

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
  /**
   * Add data (strings are UTF-8). The bytes are copied at once, so the caller may reuse its buffer. Returns the
   * same object. Errors surface at {@link StreamingHash.digest}.
   */
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
   * `crypto.getHashes()`). `data` is copied when the call is made (as by node:crypto's asynchronous functions):
   * changing the buffer afterwards does not change the digest. The one-shot hashes and HMACs of one tick travel
   * to the workers together, in batches.
   * @example
   * ```ts
   * const hex = (await crypto.hash('sha256', 'abc')).toString('hex');
   * ```
   */
  hash(algorithm: string, data: BinaryLike, options?: CryptoCallOptions): Promise<Buffer>;
  /** One-shot HMAC of `data` with `key`; both are copied when the call is made, as for {@link CryptoApi.hash}. */
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
    throw new InvalidArgumentError(argument, `must be a hash algorithm known to node:crypto (sha256, sha512, …), got ${describeReceived(algorithm)}`);
  }
  return algorithm;
}

function checkBinary(value: unknown, argument: string): BinaryLike {
  if (typeof value === 'string' || ArrayBuffer.isView(value)) return value as BinaryLike;
  throw new InvalidArgumentError(argument, `must be a string, Buffer, TypedArray or DataView, got ${describeReceived(value)}`);
}

function checkInt(value: unknown, argument: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, `must be an integer from ${min} to ${max}, got ${describeReceived(value)}`);
  }
  return value;
}

function bytes(value: BinaryLike): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * A private copy of the bytes of `value` (strings as UTF-8), taken now, in an ArrayBuffer of its own: later
 * changes to the caller's buffer do not count (as with node:crypto's asynchronous functions, even when the task
 * waits in the pool's queue), and the copy can be moved to the worker instead of cloned.
 */
function ownBytes(value: BinaryLike): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes(value));
}

/** Like {@link ownBytes} for inputs that stay small (keys, salts): strings, which cannot change, stay strings. */
function own(value: BinaryLike): BinaryLike {
  return typeof value === 'string' ? value : ownBytes(value);
}

/** Must equal DIGEST_ROOM and BATCH_ITEM_FAILED in tasks.ts (not imported: the loop thread loads no task code). */
const DIGEST_ROOM = 64;
const BATCH_ITEM_FAILED = -1;
/**
 * Hashing work per pool message, in bytes of input plus {@link ITEM_WORK} per digest (what a digest costs beyond
 * its bytes): about 1.5 ms of SHA-256 on one core. Also the size of a batch's buffer.
 */
const BATCH_WORK = 2 << 20;
const ITEM_WORK = 2048;
/** The most idle batch buffers a module keeps for reuse (32 MiB). */
const KEEP_SLABS = 16;

/** One one-shot hash or HMAC waiting for its batch. */
interface Queued {
  readonly offset: number;
  readonly length: number;
  readonly algorithm: string;
  readonly key: BinaryLike | undefined;
  readonly resolve: (b: Buffer) => void;
  readonly reject: (e: unknown) => void;
}

/** A pool message's worth of one-shot digests, their inputs copied into one ArrayBuffer. */
interface Batch {
  readonly slab: ArrayBuffer;
  readonly buf: Buffer;
  used: number;
  work: number;
  readonly items: Queued[];
}

/**
 * Collects the one-shot hashes of one tick into batches. Each input is copied once, at call time (later changes
 * to the caller's buffer do not count, as with node:crypto), into the batch's ArrayBuffer, which is then moved
 * (transferred, not copied) to a worker with the whole batch; the worker writes the digests into it and moves it
 * back, and it is reused. A buffer whose batch failed (the pool closed, a worker died) is not reused.
 */
class Batcher {
  private readonly free: ArrayBuffer[] = [];
  private readonly full: Batch[] = [];
  private current: Batch | undefined;

  /** Whether anything waits for {@link Batcher.take}. */
  get pending(): boolean {
    return this.current !== undefined || this.full.length > 0;
  }

  /** Copy `data` (strings as UTF-8) into a batch, with room for its digest in front. */
  add(data: BinaryLike, algorithm: string, key: BinaryLike | undefined, resolve: (b: Buffer) => void, reject: (e: unknown) => void): void {
    const length = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
    const need = DIGEST_ROOM + ((length + 7) & ~7);
    const work = length + ITEM_WORK;
    let batch = this.current;
    if (batch === undefined || batch.work + work > BATCH_WORK || batch.used + need > batch.slab.byteLength) {
      if (batch !== undefined) this.full.push(batch);
      const slab = need > BATCH_WORK ? new ArrayBuffer(need) : (this.free.pop() ?? new ArrayBuffer(BATCH_WORK));
      batch = { slab, buf: Buffer.from(slab), used: 0, work: 0, items: [] };
      this.current = batch;
    }
    const offset = batch.used;
    if (typeof data === 'string') batch.buf.write(data, offset + DIGEST_ROOM, length, 'utf8');
    else batch.buf.set(new Uint8Array(data.buffer, data.byteOffset, length), offset + DIGEST_ROOM);
    batch.used += need;
    batch.work += work;
    batch.items.push({ offset, length, algorithm, key, resolve, reject });
  }

  /** Whether some batch is full. */
  get hasFull(): boolean {
    return this.full.length > 0;
  }

  /** The batches that are full: they can leave before the tick ends. */
  takeFull(): Batch[] {
    return this.full.splice(0);
  }

  /** Every batch, the current one included; the next input starts a new one. */
  take(): Batch[] {
    const all = this.full.splice(0);
    if (this.current !== undefined) all.push(this.current);
    this.current = undefined;
    return all;
  }

  /** A batch's buffer came back from its worker. */
  reuse(slab: ArrayBuffer): void {
    if (slab.byteLength === BATCH_WORK && this.free.length < KEEP_SLABS) this.free.push(slab);
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
  const hashBatchTask: TaskKind<HashBatchInput, HashBatchOutput> = ctx.task(url, 'hashBatch');
  const sessionTask: TaskKind<SessionInput, Uint8Array | null> = ctx.task(url, 'hashSession');
  const pbkdf2Task: TaskKind<Pbkdf2Input, Uint8Array> = ctx.task(url, 'pbkdf2');
  const scryptTask: TaskKind<ScryptInput, Uint8Array> = ctx.task(url, 'scrypt');
  const hkdfTask: TaskKind<HkdfInput, Uint8Array> = ctx.task(url, 'hkdf');
  const randomTask: TaskKind<number, Uint8Array> = ctx.task(url, 'randomBytes');
  const encryptTask: TaskKind<GcmInput, { ciphertext: Uint8Array; tag: Uint8Array }> = ctx.task(url, 'aesGcmEncrypt');
  const decryptTask: TaskKind<GcmInput, Uint8Array> = ctx.task(url, 'aesGcmDecrypt');
  const chunkSize = options.chunkSize ?? 65536;
  checkInt(chunkSize, 'chunkSize', 1, 2 ** 30);

  // One-shot hashes and HMACs of one tick travel together in batches of about 2 MiB of work (see Batcher):
  // few messages per digest, no copy beyond the one node:crypto makes too, and enough batches to keep every worker
  // busy when there is that much to do. Full batches leave during the tick, the last one at its end.
  const batcher = new Batcher();
  const flushHashes = (eager = false): void => {
    for (const batch of eager ? batcher.takeFull() : batcher.take()) {
      const items = batch.items.map((q): BatchItem => {
        const item = { offset: q.offset, length: q.length, algorithm: q.algorithm };
        return q.key === undefined ? item : { ...item, key: q.key };
      });
      ctx.run(hashBatchTask, { slab: batch.slab, items }, { transfer: [batch.slab] }).then(
        (out) => {
          const view = Buffer.from(out.slab);
          batch.items.forEach((q, j) => {
            const d = out.digests[j] as number | Uint8Array;
            if (typeof d !== 'number') q.resolve(toBuffer(d));
            else if (d !== BATCH_ITEM_FAILED) q.resolve(Buffer.from(view.subarray(q.offset, q.offset + d)));
            else {
              // node:crypto refused this one: run it alone for its error (with the worker's and caller's stacks).
              const data = Buffer.from(view.subarray(q.offset + DIGEST_ROOM, q.offset + DIGEST_ROOM + q.length));
              run(hashTask, { algorithm: q.algorithm, data, ...(q.key === undefined ? {} : { key: q.key }) }).then((b) => q.resolve(toBuffer(b)), q.reject);
            }
          });
          batcher.reuse(out.slab);
        },
        (err: unknown) => batch.items.forEach((q) => q.reject(err)),
      );
    }
  };
  const oneShot = (algorithm: string, key: BinaryLike | undefined, data: BinaryLike, o: CryptoCallOptions | undefined): Promise<Buffer> => {
    if (o?.signal !== undefined) {
      const copy = ownBytes(data);
      return run(hashTask, { algorithm, data: copy, ...(key === undefined ? {} : { key: own(key) }) }, { signal: o.signal, transfer: [copy.buffer] }).then(toBuffer);
    }
    // The key is copied now too (it is small), like the data.
    const keyCopy = key === undefined ? undefined : own(key);
    return new Promise<Buffer>((resolve, reject) => {
      if (!batcher.pending) queueMicrotask(flushHashes);
      batcher.add(data, algorithm, keyCopy, resolve, reject);
      // A full batch leaves at once: the workers start while the loop thread still copies the tick's other inputs.
      if (batcher.hasFull) flushHashes(true);
    });
  };

  const run = <I, O>(kind: TaskKind<I, O>, input: I, o?: CryptoCallOptions & RunTaskOptions): Promise<O> =>
    ctx.run(kind, input, o?.signal === undefined && o?.affinity === undefined && o?.transfer === undefined ? undefined : o);

  const streaming = (algorithm: string, key: BinaryLike | undefined): StreamingHash => {
    checkAlgorithm(algorithm);
    if (key !== undefined) checkBinary(key, 'key');
    const session = nextSession++;
    // Pin the session to one worker; tasks of one worker run in submission order.
    const affinity = session;
    // update() copies its data at once (node:crypto's Hash consumes it at once too, so the caller may reuse its
    // buffer) into an ArrayBuffer that moves to the worker, without a second copy, when chunkSize bytes are in.
    let pending: Buffer<ArrayBuffer> | undefined;
    let pendingBytes = 0;
    const ownKey = key === undefined ? undefined : own(key);
    let started = false;
    let finished = false;
    let failure: unknown;
    const inFlight: Promise<unknown>[] = [];
    const send = (finish: boolean): Promise<Uint8Array | null> => {
      const chunks = pending === undefined ? [] : [new Uint8Array(pending.buffer, 0, pendingBytes)];
      const transfer = pending === undefined ? [] : [pending.buffer];
      const input: SessionInput = { session, algorithm, chunks, finish, ...(!started && ownKey !== undefined ? { key: ownKey } : {}) };
      started = true;
      pending = undefined;
      pendingBytes = 0;
      return run(sessionTask, input, { affinity, transfer });
    };
    const sendSome = (): void => {
      const p = send(false);
      p.catch((err: unknown) => {
        failure ??= err;
      });
      inFlight.push(p);
      if (inFlight.length > 64) inFlight.splice(0, 32);
    };
    const h: StreamingHash = {
      update(data: BinaryLike) {
        if (finished) throw new InvalidArgumentError('update', 'digest() or discard() was already called on this hash');
        checkBinary(data, 'data');
        const length = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
        if (pending !== undefined && pendingBytes + length > pending.byteLength) sendSome();
        pending ??= Buffer.from(new ArrayBuffer(Math.max(chunkSize, length)));
        if (typeof data === 'string') pending.write(data, pendingBytes, length, 'utf8');
        else pending.set(new Uint8Array(data.buffer, data.byteOffset, length), pendingBytes);
        pendingBytes += length;
        if (pendingBytes >= chunkSize) sendSome();
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
        pending = undefined;
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
            password: own(checkBinary(password, 'password')),
            salt: own(checkBinary(salt, 'salt')),
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
          { password: own(checkBinary(password, 'password')), salt: own(checkBinary(salt, 'salt')), keylen: checkInt(keylen, 'keylen', 0, 2 ** 31 - 1), options: scryptOptions },
          signal === undefined ? undefined : { signal },
        ).then(toBuffer);
      }),
    hkdf: (digest, ikm, salt, info, keylen, o) =>
      attempt(() =>
        run(
          hkdfTask,
          {
            digest: checkAlgorithm(digest, 'digest'),
            ikm: own(checkBinary(ikm, 'ikm')),
            salt: own(checkBinary(salt, 'salt')),
            info: own(checkBinary(info, 'info')),
            keylen: checkInt(keylen, 'keylen', 1, 255 * 64),
          },
          o,
        ).then(toBuffer),
      ),
    randomBytes: (size, o) => attempt(() => run(randomTask, checkInt(size, 'size', 0, 2 ** 31 - 1), o).then(toBuffer)),
    encrypt: (input) =>
      attempt(() => {
        const key = ownBytes(checkBinary(input.key, 'key'));
        if (key.byteLength !== 32) throw new InvalidArgumentError('key', `must be 32 bytes for AES-256-GCM, got ${key.byteLength} bytes`);
        const tagLength = checkInt(input.tagLength ?? 16, 'tagLength', 4, 16);
        const data = ownBytes(checkBinary(input.plaintext, 'plaintext'));
        return run(
          encryptTask,
          {
            key,
            iv: ownBytes(checkBinary(input.iv, 'iv')),
            data,
            ...(input.aad !== undefined ? { aad: ownBytes(checkBinary(input.aad, 'aad')) } : {}),
            tagLength,
          },
          { ...(input.signal !== undefined ? { signal: input.signal } : {}), transfer: [data.buffer] },
        ).then((r) => ({ ciphertext: toBuffer(r.ciphertext), tag: toBuffer(r.tag) }));
      }),
    decrypt: (input) =>
      attempt(() => {
        const key = ownBytes(checkBinary(input.key, 'key'));
        if (key.byteLength !== 32) throw new InvalidArgumentError('key', `must be 32 bytes for AES-256-GCM, got ${key.byteLength} bytes`);
        const tag = ownBytes(checkBinary(input.tag, 'tag'));
        const data = ownBytes(checkBinary(input.ciphertext, 'ciphertext'));
        return run(
          decryptTask,
          {
            key,
            iv: ownBytes(checkBinary(input.iv, 'iv')),
            data,
            ...(input.aad !== undefined ? { aad: ownBytes(checkBinary(input.aad, 'aad')) } : {}),
            tag,
            tagLength: checkInt(tag.byteLength, 'tag', 4, 16),
          },
          { ...(input.signal !== undefined ? { signal: input.signal } : {}), transfer: [data.buffer] },
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
