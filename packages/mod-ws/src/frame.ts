/**
 * RFC 6455 §5 framing: opcodes, close codes, masking and frame headers.
 *
 * @module
 */

import { randomFillSync } from 'node:crypto';

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  /** A later fragment of a fragmented message. */
  CONTINUATION: 0x0,
  /** A UTF-8 text message (or its first fragment). */
  TEXT: 0x1,
  /** A binary message (or its first fragment). */
  BINARY: 0x2,
  /** The closing handshake: an optional code and reason. */
  CLOSE: 0x8,
  /** A ping; the peer answers with a pong carrying the same payload. */
  PING: 0x9,
  /** The answer to a ping, or an unsolicited heartbeat. */
  PONG: 0xa,
} as const;

/**
 * Close codes (RFC 6455 §7.4.1). `NO_STATUS` (1005) and `ABNORMAL` (1006) are never sent: they report a close
 * frame without a code and a connection that closed without any close frame.
 */
export const CloseCode = {
  /** Normal closure: the purpose of the connection was fulfilled. */
  NORMAL: 1000,
  /** The endpoint is going away: a server shutting down, a page navigated away. */
  GOING_AWAY: 1001,
  /** The peer broke RFC 6455 (bad opcode, reserved bits, wrong masking, bad fragmentation…). */
  PROTOCOL_ERROR: 1002,
  /** A kind of data the endpoint cannot accept (text to a binary-only endpoint…). */
  UNSUPPORTED_DATA: 1003,
  /** Never sent: a close frame arrived without a code. */
  NO_STATUS: 1005,
  /** Never sent: the connection closed without a close frame. */
  ABNORMAL: 1006,
  /** Data inconsistent with the message type: text (or a close reason) that is not UTF-8. */
  INVALID_PAYLOAD: 1007,
  /** A message that violates the endpoint's policy (the generic code when no other fits). */
  POLICY_VIOLATION: 1008,
  /** A frame or message larger than the endpoint's limits. */
  MESSAGE_TOO_BIG: 1009,
  /** Sent by a client: the server did not negotiate an extension the client requires. */
  MANDATORY_EXTENSION: 1010,
  /** The server met an unexpected condition. */
  INTERNAL_ERROR: 1011,
  /** The server is restarting. */
  SERVICE_RESTART: 1012,
  /** The server is overloaded: try again later. */
  TRY_AGAIN_LATER: 1013,
  /** A gateway or proxy got an invalid answer from upstream. */
  BAD_GATEWAY: 1014,
} as const;

/**
 * Whether `code` may appear in a close frame: 1000–1003, 1007–1014 (registered with IANA), or 3000–4999 (for
 * libraries and applications). 1004–1006 and 1015 are reserved, and everything else is undefined.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** The largest control frame payload (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/**
 * XOR `data[start, end)` with the 4-byte masking key, starting at key byte `phase`. Masking and unmasking are the
 * same operation. The aligned middle goes four bytes at a time through a `Uint32Array` view.
 */
export function applyMask(data: Uint8Array, start: number, end: number, key: Uint8Array, phase: number): void {
  let i = start;
  let p = phase & 3;
  // Byte-wise up to a 4-byte boundary of the underlying memory.
  while (i < end && ((data.byteOffset + i) & 3) !== 0) {
    data[i] = (data[i] as number) ^ (key[p] as number);
    p = (p + 1) & 3;
    i++;
  }
  const words = (end - i) >> 2;
  if (words > 0) {
    // The key as a little-endian word starting at byte p (typed arrays use the platform's byte order; every
    // platform Node runs on here is little-endian, and `LITTLE_ENDIAN` guards the rest).
    const k0 = key[p] as number;
    const k1 = key[(p + 1) & 3] as number;
    const k2 = key[(p + 2) & 3] as number;
    const k3 = key[(p + 3) & 3] as number;
    if (LITTLE_ENDIAN) {
      const word = (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24)) >>> 0;
      const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
      for (let w = 0; w < words; w++) view[w] = ((view[w] as number) ^ word) >>> 0;
      i += words << 2;
    } else {
      for (let w = 0; w < words; w++, i += 4) {
        data[i] = (data[i] as number) ^ k0;
        data[i + 1] = (data[i + 1] as number) ^ k1;
        data[i + 2] = (data[i + 2] as number) ^ k2;
        data[i + 3] = (data[i + 3] as number) ^ k3;
      }
    }
  }
  while (i < end) {
    data[i] = (data[i] as number) ^ (key[p] as number);
    p = (p + 1) & 3;
    i++;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Length of a frame header for a payload of `length` bytes, with (`masked`) or without a masking key. */
export function headerLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Write a frame header into `out` at `offset`: FIN, no reserved bits, `opcode`, the payload length, and the
 * masking key when `key` is given. Returns the offset after the header.
 */
export function writeHeader(out: Uint8Array, offset: number, opcode: number, fin: boolean, length: number, key: Uint8Array | undefined): number {
  let o = offset;
  out[o++] = (fin ? 0x80 : 0) | opcode;
  const maskBit = key !== undefined ? 0x80 : 0;
  if (length < 126) {
    out[o++] = maskBit | length;
  } else if (length < 65536) {
    out[o++] = maskBit | 126;
    out[o++] = length >>> 8;
    out[o++] = length & 0xff;
  } else {
    out[o++] = maskBit | 127;
    const hi = Math.floor(length / 0x1_0000_0000);
    const lo = length >>> 0;
    out[o++] = hi >>> 24;
    out[o++] = (hi >>> 16) & 0xff;
    out[o++] = (hi >>> 8) & 0xff;
    out[o++] = hi & 0xff;
    out[o++] = lo >>> 24;
    out[o++] = (lo >>> 16) & 0xff;
    out[o++] = (lo >>> 8) & 0xff;
    out[o++] = lo & 0xff;
  }
  if (key !== undefined) {
    out[o++] = key[0] as number;
    out[o++] = key[1] as number;
    out[o++] = key[2] as number;
    out[o++] = key[3] as number;
  }
  return o;
}

/**
 * Masking keys for a client's frames. RFC 6455 §5.3 asks for keys an attacker cannot predict, so they come from
 * the system's CSPRNG, filled 8 KiB at a time (one `getrandom` per 2048 frames instead of one per frame).
 */
export class MaskKeys {
  private pool = Buffer.allocUnsafe(8192);
  private offset = this.pool.length;

  /** Four fresh random bytes (a view; copy them into the frame before asking again). */
  next(): Uint8Array {
    if (this.offset + 4 > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const key = this.pool.subarray(this.offset, this.offset + 4);
    this.offset += 4;
    return key;
  }
}
