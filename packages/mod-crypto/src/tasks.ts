/**
 * The crypto task kinds, loaded once in each pool worker. Each one calls node:crypto's synchronous API, which is
 * fine here: it blocks a pool worker, never the loop thread.
 * @internal
 * @packageDocumentation
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hash as oneShotHash,
  hkdfSync,
  pbkdf2Sync,
  randomFillSync,
  scryptSync,
  type BinaryLike,
  type Hash,
  type Hmac,
  type ScryptOptions,
} from 'node:crypto';
import type { TaskContext } from '@fdloop/core';

/** Move a result's bytes to the caller when they own their memory; small pooled buffers are copied. */
function give(bytes: Buffer | Uint8Array, ctx: TaskContext): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    ctx.transfer(bytes.buffer);
    return bytes;
  }
  return new Uint8Array(bytes);
}

export interface HashInput {
  readonly algorithm: string;
  readonly data: BinaryLike;
  readonly key?: BinaryLike;
}

export function hash(input: HashInput, ctx: TaskContext): Uint8Array {
  const h = input.key === undefined ? createHash(input.algorithm) : createHmac(input.algorithm, input.key);
  return give(h.update(input.data).digest(), ctx);
}

/** Bytes for each digest in {@link HashBatchInput.meta} (sha512, sha3-512, blake2b512: 64). */
export const DIGEST_ROOM = 64;
/** Int32 fields of {@link HashBatchInput.meta}: the next item to take, the number of items. */
export const META_HEADER = 2;
/** Int32 fields per item, after the header: chunk, offset, length, algorithm index, key index (-1: none), digest length. */
export const META_FIELDS = 6;

/**
 * The one-shot digests of one tick, shared by the one to N tasks working on them. `meta` holds the Int32 header
 * and item fields ({@link META_HEADER}, {@link META_FIELDS}), then {@link DIGEST_ROOM} bytes per item for its
 * digest. Each item's input is in `chunks`, copied there once by the caller.
 */
export interface HashBatchInput {
  readonly meta: SharedArrayBuffer;
  readonly chunks: readonly SharedArrayBuffer[];
  readonly algorithms: readonly string[];
  readonly keys: readonly BinaryLike[];
}

/**
 * Take items of the tick's list (an atomic counter shared with the tick's other tasks) until none is left; write
 * each digest and its length (-1 when node:crypto threw, or the digest is longer than {@link DIGEST_ROOM}) into
 * `meta`. Returns the indices of the items this task did.
 */
export function hashBatch(input: HashBatchInput): number[] {
  const ints = new Int32Array(input.meta);
  const n = ints[1] as number;
  const digests = new Uint8Array(input.meta, 4 * (META_HEADER + n * META_FIELDS));
  const chunks = input.chunks.map((sab) => new Uint8Array(sab));
  const done: number[] = [];
  for (let i = Atomics.add(ints, 0, 1); i < n; i = Atomics.add(ints, 0, 1)) {
    const at = META_HEADER + i * META_FIELDS;
    const offset = ints[at + 1] as number;
    const data = (chunks[ints[at] as number] as Uint8Array).subarray(offset, offset + (ints[at + 2] as number));
    const algorithm = input.algorithms[ints[at + 3] as number] as string;
    const keyIndex = ints[at + 4] as number;
    let length = -1;
    try {
      // crypto.hash() (Node 20.12+) skips the Hash object: about a microsecond less per digest.
      const digest = keyIndex < 0 ? oneShotHash(algorithm, data, 'buffer') : createHmac(algorithm, input.keys[keyIndex] as BinaryLike).update(data).digest();
      if (digest.byteLength <= DIGEST_ROOM) {
        digests.set(digest, i * DIGEST_ROOM);
        length = digest.byteLength;
      }
    } catch {
      // This item alone fails (an HMAC with an XOF such as shake256): the caller reruns it on its own for
      // node:crypto's error; the rest of the tick is unaffected.
    }
    ints[at + 5] = length;
    done.push(i);
  }
  return done;
}

// Streaming sessions live in the worker that owns them (the caller pins them with an affinity key).
const sessions = new Map<number, Hash | Hmac>();

export interface SessionInput {
  readonly session: number;
  readonly algorithm: string;
  readonly key?: BinaryLike;
  readonly chunks: readonly BinaryLike[];
  readonly finish: boolean;
  readonly discard?: boolean;
}

export function hashSession(input: SessionInput, ctx: TaskContext): Uint8Array | null {
  if (input.discard) {
    sessions.delete(input.session);
    return null;
  }
  let h = sessions.get(input.session);
  if (h === undefined) {
    h = input.key === undefined ? createHash(input.algorithm) : createHmac(input.algorithm, input.key);
    sessions.set(input.session, h);
  }
  try {
    for (const chunk of input.chunks) h.update(chunk);
  } catch (err) {
    sessions.delete(input.session);
    throw err;
  }
  if (!input.finish) return null;
  sessions.delete(input.session);
  return give(h.digest(), ctx);
}

export interface Pbkdf2Input {
  readonly password: BinaryLike;
  readonly salt: BinaryLike;
  readonly iterations: number;
  readonly keylen: number;
  readonly digest: string;
}

export function pbkdf2(input: Pbkdf2Input, ctx: TaskContext): Uint8Array {
  return give(pbkdf2Sync(input.password, input.salt, input.iterations, input.keylen, input.digest), ctx);
}

export interface ScryptInput {
  readonly password: BinaryLike;
  readonly salt: BinaryLike;
  readonly keylen: number;
  readonly options: ScryptOptions;
}

export function scrypt(input: ScryptInput, ctx: TaskContext): Uint8Array {
  return give(scryptSync(input.password, input.salt, input.keylen, input.options), ctx);
}

export interface HkdfInput {
  readonly digest: string;
  readonly ikm: BinaryLike;
  readonly salt: BinaryLike;
  readonly info: BinaryLike;
  readonly keylen: number;
}

export function hkdf(input: HkdfInput, ctx: TaskContext): Uint8Array {
  const out = new Uint8Array(hkdfSync(input.digest, input.ikm, input.salt, input.info, input.keylen));
  return give(out, ctx);
}

export function randomBytes(size: number, ctx: TaskContext): Uint8Array {
  return give(randomFillSync(new Uint8Array(size)), ctx);
}

export interface GcmInput {
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
  readonly data: Uint8Array;
  readonly aad?: Uint8Array;
  readonly tag?: Uint8Array;
  readonly tagLength: number;
}

export function aesGcmEncrypt(input: GcmInput, ctx: TaskContext): { ciphertext: Uint8Array; tag: Uint8Array } {
  const cipher = createCipheriv('aes-256-gcm', input.key, input.iv, { authTagLength: input.tagLength });
  if (input.aad !== undefined) cipher.setAAD(input.aad);
  const ciphertext = Buffer.concat([cipher.update(input.data), cipher.final()]);
  return { ciphertext: give(ciphertext, ctx), tag: new Uint8Array(cipher.getAuthTag()) };
}

export function aesGcmDecrypt(input: GcmInput, ctx: TaskContext): Uint8Array {
  const decipher = createDecipheriv('aes-256-gcm', input.key, input.iv, { authTagLength: input.tagLength });
  if (input.aad !== undefined) decipher.setAAD(input.aad);
  decipher.setAuthTag(input.tag as Uint8Array);
  return give(Buffer.concat([decipher.update(input.data), decipher.final()]), ctx);
}
