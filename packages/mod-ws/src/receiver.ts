/**
 * The incremental frame parser and message assembler of one connection (RFC 6455 §5–§7). Bytes go in as they
 * arrive, in pieces of any size; messages, pings, pongs and the close frame come out. Every violation fails the
 * connection with the close code RFC 6455 names for it, at the first byte that shows it.
 *
 * @module
 */

import { CloseCode, MAX_CONTROL_PAYLOAD, Opcode, applyMask, isValidCloseCode } from './frame.js';
import { Utf8Validator } from './utf8.js';

/** What a {@link Receiver} reports. Payload views are valid only during the call unless said otherwise. */
export interface ReceiverSink {
  /** A complete message: a string for text (validated UTF-8), a Buffer the receiver no longer uses for binary. */
  onMessage(data: string | Buffer, binary: boolean): void;
  /** A ping (its payload, a copy). */
  onPing(data: Buffer): void;
  /** A pong (its payload, a copy). */
  onPong(data: Buffer): void;
  /** The peer's close frame: `code` 1005 when it carried none. Nothing after it is parsed. */
  onClose(code: number, reason: string): void;
  /** A violation: fail the connection with `code` (1002, 1007 or 1009). Nothing after it is parsed. */
  onViolation(code: number, message: string): void;
}

/** Limits a receiver enforces (→ 1009). */
export interface ReceiverLimits {
  /** Largest frame payload. */
  readonly maxFrameSize: number;
  /** Largest message (all its fragments). */
  readonly maxMessageSize: number;
}

const HEADER = 0;
const PAYLOAD = 1;
const DEAD = 2;

/** Bytes of a frame header at most: 2, an 8-byte length, a 4-byte masking key. */
const MAX_HEADER = 14;

/** Header length from its second byte: 2, plus the extended length, plus the masking key. */
function fullHeaderLength(byte1: number): number {
  const len7 = byte1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (byte1 & 0x80 ? 4 : 0);
}

/**
 * One connection's receiving side. `isServer`: frames must be masked (a client's); otherwise they must not be.
 */
export class Receiver {
  private readonly isServer: boolean;
  private readonly limits: ReceiverLimits;
  private readonly sink: ReceiverSink;
  private state = HEADER;
  /** A header cut off at the end of a read, waiting for the rest. */
  private readonly header = new Uint8Array(MAX_HEADER);
  private headerBytes = 0;
  // The frame being read.
  private opcode = 0;
  private fin = false;
  private masked = false;
  private readonly key = new Uint8Array(4);
  private phase = 0;
  private frameLength = 0;
  private remaining = 0;
  // The message being assembled (data frames), across fragments.
  private messageOpcode = -1;
  private messageBytes = 0;
  private parts: Buffer[] = [];
  private readonly utf8 = new Utf8Validator();
  // A control frame's payload (at most 125 bytes), which may arrive in pieces.
  private control: Buffer[] = [];
  private held = false;

  constructor(isServer: boolean, limits: ReceiverLimits, sink: ReceiverSink) {
    this.isServer = isServer;
    this.limits = limits;
    this.sink = sink;
  }

  /** Whether a frame was started and not finished (the peer vanishing now cut it off). */
  get midFrame(): boolean {
    return (this.state === HEADER && this.headerBytes > 0) || this.state === PAYLOAD || this.messageOpcode !== -1;
  }

  /** Whether parsing stopped for good (close frame or violation). */
  get stopped(): boolean {
    return this.state === DEAD;
  }

  /** Parse nothing more, ever (the connection is closing). */
  stop(): void {
    this.state = DEAD;
    this.parts = [];
    this.control = [];
  }

  /**
   * Stop after the message being delivered now: {@link Receiver.write} returns how far it got, and the caller
   * hands the rest in again after {@link Receiver.release}.
   */
  hold(): void {
    this.held = true;
  }

  /** Undo {@link Receiver.hold}. */
  release(): void {
    this.held = false;
  }

  /**
   * Parse `data[start…]`. `data` may be changed in place (payloads are unmasked where they lie).
   * @returns the offset parsing stopped at: `data.length`, unless {@link Receiver.hold} or {@link Receiver.stop}
   *   was called while it ran.
   */
  write(data: Buffer, start = 0): number {
    let pos = start;
    const n = data.length;
    while (pos < n && this.state !== DEAD && !this.held) {
      if (this.state === HEADER) {
        pos = this.readHeader(data, pos);
        continue;
      }
      const take = Math.min(this.remaining, n - pos);
      const end = pos + take;
      if (this.masked) {
        applyMask(data, pos, end, this.key, this.phase);
        this.phase = (this.phase + take) & 3;
      }
      this.remaining -= take;
      const whole = take === this.frameLength;
      this.payload(data, pos, end, whole);
      pos = end;
      if (this.remaining === 0 && this.state === PAYLOAD) this.endFrame();
    }
    return this.state === DEAD ? n : pos;
  }

  /** Read a header from `data[pos…]` (completing one cut off earlier). Returns the new position. */
  private readHeader(data: Buffer, pos: number): number {
    const n = data.length;
    if (this.headerBytes === 0 && n - pos >= 2) {
      const length = fullHeaderLength(data[pos + 1] as number);
      if (n - pos >= length) return this.parseHeader(data, pos) ? pos + length : n;
    }
    // Cut off at the end of a read: collect it, first the two bytes that tell how long it is, then the rest.
    let p = pos;
    let want = this.headerBytes < 2 ? 2 : fullHeaderLength(this.header[1] as number);
    while (p < n && this.headerBytes < want) {
      const copy = Math.min(want - this.headerBytes, n - p);
      this.header.set(data.subarray(p, p + copy), this.headerBytes);
      this.headerBytes += copy;
      p += copy;
      if (this.headerBytes === 2) want = fullHeaderLength(this.header[1] as number);
    }
    if (this.headerBytes < want) return p;
    this.headerBytes = 0;
    return this.parseHeader(this.header, 0) ? p : n;
  }

  /** Check and take the header at `h[at…]`. Returns `false` when it failed the connection. */
  private parseHeader(h: Uint8Array, at: number): boolean {
    const b0 = h[at] as number;
    const b1 = h[at + 1] as number;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    if ((b0 & 0x70) !== 0) return this.violate(CloseCode.PROTOCOL_ERROR, 'reserved bits set (no extension was negotiated)');
    const control = opcode >= 0x8;
    if (control) {
      if (opcode > Opcode.PONG) return this.violate(CloseCode.PROTOCOL_ERROR, `reserved control opcode 0x${opcode.toString(16)}`);
      if (!fin) return this.violate(CloseCode.PROTOCOL_ERROR, 'fragmented control frame');
      if ((b1 & 0x7f) > MAX_CONTROL_PAYLOAD) return this.violate(CloseCode.PROTOCOL_ERROR, 'control frame payload longer than 125 bytes');
    } else if (opcode > Opcode.BINARY) {
      return this.violate(CloseCode.PROTOCOL_ERROR, `reserved data opcode 0x${opcode.toString(16)}`);
    } else if (opcode === Opcode.CONTINUATION) {
      if (this.messageOpcode === -1) return this.violate(CloseCode.PROTOCOL_ERROR, 'continuation frame without a message to continue');
    } else if (this.messageOpcode !== -1) {
      return this.violate(CloseCode.PROTOCOL_ERROR, 'new data frame inside a fragmented message');
    }
    if (masked !== this.isServer) {
      return this.violate(CloseCode.PROTOCOL_ERROR, this.isServer ? 'unmasked frame from a client' : 'masked frame from a server');
    }
    let o = at + 2;
    let length = b1 & 0x7f;
    if (length === 126) {
      length = ((h[o] as number) << 8) | (h[o + 1] as number);
      o += 2;
    } else if (length === 127) {
      const hi = (((h[o] as number) << 24) | ((h[o + 1] as number) << 16) | ((h[o + 2] as number) << 8) | (h[o + 3] as number)) >>> 0;
      const lo = (((h[o + 4] as number) << 24) | ((h[o + 5] as number) << 16) | ((h[o + 6] as number) << 8) | (h[o + 7] as number)) >>> 0;
      if (hi >= 0x8000_0000) return this.violate(CloseCode.PROTOCOL_ERROR, 'payload length with the most significant bit set');
      // Beyond 2^53 a length is not even an exact number here; every limit is far below anyway.
      length = hi > 0x1f_ffff ? Number.MAX_SAFE_INTEGER : hi * 0x1_0000_0000 + lo;
      o += 8;
    }
    if (length > this.limits.maxFrameSize) {
      return this.violate(CloseCode.MESSAGE_TOO_BIG, `frame of ${length} bytes exceeds maxFrameSize ${this.limits.maxFrameSize}`);
    }
    if (!control && this.messageBytes + length > this.limits.maxMessageSize) {
      return this.violate(CloseCode.MESSAGE_TOO_BIG, `message of at least ${this.messageBytes + length} bytes exceeds maxMessageSize ${this.limits.maxMessageSize}`);
    }
    if (masked) {
      this.key[0] = h[o] as number;
      this.key[1] = h[o + 1] as number;
      this.key[2] = h[o + 2] as number;
      this.key[3] = h[o + 3] as number;
    }
    this.opcode = opcode;
    this.fin = fin;
    this.masked = masked;
    this.phase = 0;
    this.frameLength = length;
    this.remaining = length;
    if (!control) {
      if (opcode !== Opcode.CONTINUATION) {
        this.messageOpcode = opcode;
        this.messageBytes = 0;
        if (opcode === Opcode.TEXT) this.utf8.reset();
      }
      this.messageBytes += length;
    }
    this.state = PAYLOAD;
    if (length === 0) this.endFrame();
    return true;
  }

  /** A piece of the current frame's payload, already unmasked. `whole`: it is the entire frame payload. */
  private payload(data: Buffer, start: number, end: number, whole: boolean): void {
    if (this.opcode >= 0x8) {
      this.control.push(Buffer.from(data.subarray(start, end)));
      return;
    }
    if (this.messageOpcode === Opcode.TEXT && !this.utf8.write(data, start, end)) {
      this.violate(CloseCode.INVALID_PAYLOAD, 'text message is not valid UTF-8');
      return;
    }
    if (whole && this.fin && this.parts.length === 0) {
      // The common case: a whole unfragmented message in one read. Decode or copy it straight out of the read.
      const binary = this.messageOpcode === Opcode.BINARY;
      if (!binary && !this.utf8.complete) {
        this.violate(CloseCode.INVALID_PAYLOAD, 'text message ends inside a UTF-8 sequence');
        return;
      }
      this.messageOpcode = -1;
      this.messageBytes = 0;
      this.state = HEADER;
      this.sink.onMessage(binary ? Buffer.from(data.subarray(start, end)) : data.toString('utf8', start, end), binary);
      return;
    }
    this.parts.push(Buffer.from(data.subarray(start, end)));
  }

  private endFrame(): void {
    this.state = HEADER;
    const opcode = this.opcode;
    if (opcode >= 0x8) {
      const payload = this.control.length === 1 ? (this.control[0] as Buffer) : Buffer.concat(this.control);
      this.control = [];
      this.controlFrame(opcode, payload);
      return;
    }
    if (!this.fin) return;
    const binary = this.messageOpcode === Opcode.BINARY;
    if (!binary && !this.utf8.complete) {
      this.violate(CloseCode.INVALID_PAYLOAD, 'text message ends inside a UTF-8 sequence');
      return;
    }
    const parts = this.parts;
    this.parts = [];
    this.messageOpcode = -1;
    this.messageBytes = 0;
    const whole = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    this.sink.onMessage(binary ? whole : whole.toString('utf8'), binary);
  }

  private controlFrame(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.PING) {
      this.sink.onPing(payload);
      return;
    }
    if (opcode === Opcode.PONG) {
      this.sink.onPong(payload);
      return;
    }
    // Close (RFC 6455 §5.5.1): empty, or a 2-byte code and a UTF-8 reason.
    if (payload.length === 1) {
      this.violate(CloseCode.PROTOCOL_ERROR, 'close frame with a 1-byte payload');
      return;
    }
    let code: number = CloseCode.NO_STATUS;
    let reason = '';
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) {
        this.violate(CloseCode.PROTOCOL_ERROR, `invalid close code ${code}`);
        return;
      }
      const validator = new Utf8Validator();
      if (!validator.write(payload, 2) || !validator.complete) {
        this.violate(CloseCode.INVALID_PAYLOAD, 'close reason is not valid UTF-8');
        return;
      }
      reason = payload.toString('utf8', 2);
    }
    this.stop();
    this.sink.onClose(code, reason);
  }

  private violate(code: number, message: string): false {
    this.stop();
    this.sink.onViolation(code, message);
    return false;
  }
}
