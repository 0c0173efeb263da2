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

/** Bytes reserved for each digest in front of its input in a batch buffer (sha512, sha3-512, blake2b512: 64). */
export const DIGEST_ROOM = 64;

/** What {@link hashBatch} reports for an item that threw. */
export const BATCH_ITEM_FAILED = -1;

/**
 * One one-shot digest of a {@link HashBatchInput}: its input is `length` bytes at `offset + DIGEST_ROOM` of the
 * batch's buffer, and its digest goes to `offset`.
 */
export interface BatchItem {
  readonly offset: number;
  readonly length: number;
  readonly algorithm: string;
  readonly key?: BinaryLike;
}

/**
 * Several one-shot digests in one task. The caller copied the inputs into one ArrayBuffer and moved it here;
 * the digests are written into the same buffer, which moves back.
 */
export interface HashBatchInput {
  readonly slab: ArrayBuffer;
  readonly items: readonly BatchItem[];
}

/** The result of {@link hashBatch}. */
export interface HashBatchOutput {
  /** The batch's buffer, digests written in. */
  readonly slab: ArrayBuffer;
  /**
   * Per item: the digest's length (the digest is in the buffer), the digest when longer than {@link DIGEST_ROOM},
   * or {@link BATCH_ITEM_FAILED}.
   */
  readonly digests: (number | Uint8Array)[];
}

/** Hash every item of `input` (what one tick of the caller asked for, or about 2 MiB of it). */
export function hashBatch(input: HashBatchInput, ctx: TaskContext): HashBatchOutput {
  const slab = new Uint8Array(input.slab);
  const digests = input.items.map((item) => {
    const data = slab.subarray(item.offset + DIGEST_ROOM, item.offset + DIGEST_ROOM + item.length);
    let digest: Buffer;
    try {
      // crypto.hash() (Node 20.12+) skips the Hash object: about a microsecond less per digest.
      digest = item.key === undefined ? oneShotHash(item.algorithm, data, 'buffer') : createHmac(item.algorithm, item.key).update(data).digest();
    } catch {
      // This item alone fails (HMAC with an XOF such as shake256); the caller reruns it on its own to get
      // node:crypto's error, and the rest of the batch is unaffected.
      return BATCH_ITEM_FAILED;
    }
    if (digest.byteLength > DIGEST_ROOM) return new Uint8Array(digest);
    slab.set(digest, item.offset);
    return digest.byteLength;
  });
  ctx.transfer(input.slab);
  return { slab: input.slab, digests };
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
