/**
 * Incremental UTF-8 validation (RFC 3629) for text messages that arrive in pieces: a frame split across reads, a
 * message split into fragments. It fails at the first byte that can never be part of valid UTF-8, so a peer
 * sending an invalid sequence is refused when that byte arrives, not when the message ends ("fail fast").
 *
 * @module
 */

import { isUtf8 } from 'node:buffer';

/** Pieces at least this long check their complete part with Node's native `isUtf8` instead of the byte loop. */
const NATIVE_FROM = 64;

/**
 * The state of one text message being validated: how many continuation bytes the current character still
 * needs, and the range the next one must fall in (narrower after E0, ED, F0 and F4, which is how overlong forms,
 * surrogates and code points above U+10FFFF are refused at their second byte).
 */
export class Utf8Validator {
  private need = 0;
  private lo = 0x80;
  private hi = 0xbf;

  /** Start a new text. */
  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }

  /** Whether the bytes so far end on a character boundary (a complete text must). */
  get complete(): boolean {
    return this.need === 0;
  }

  /**
   * Check `bytes[start, end)`, continuing the text fed so far.
   * @returns `false` as soon as the bytes cannot be valid UTF-8, whatever follows.
   */
  write(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    let i = start;
    while (this.need > 0 && i < end) {
      const c = bytes[i++] as number;
      if (c < this.lo || c > this.hi) return false;
      this.lo = 0x80;
      this.hi = 0xbf;
      this.need -= 1;
    }
    if (end - i >= NATIVE_FROM) {
      // The native check wants whole characters: leave out a character cut off at the end and check it below.
      let split = end;
      let k = end - 1;
      while (k > i && k >= end - 4 && ((bytes[k] as number) & 0xc0) === 0x80) k--;
      const lead = bytes[k] as number;
      if (lead >= 0xc0) {
        const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (end - k < length) split = k;
      }
      if (!isUtf8(bytes.subarray(i, split))) return false;
      i = split;
    }
    return this.bytes(bytes, i, end);
  }

  private bytes(bytes: Uint8Array, start: number, end: number): boolean {
    let need = this.need;
    let lo = this.lo;
    let hi = this.hi;
    for (let i = start; i < end; i++) {
      const c = bytes[i] as number;
      if (need === 0) {
        if (c < 0x80) continue;
        if (c < 0xc2) return false; // a continuation byte without a lead, or C0/C1 (overlong two-byte forms)
        if (c < 0xe0) {
          need = 1;
        } else if (c < 0xf0) {
          need = 2;
          lo = c === 0xe0 ? 0xa0 : 0x80; // E0 80..9F would be overlong
          hi = c === 0xed ? 0x9f : 0xbf; // ED A0..BF would be a UTF-16 surrogate
        } else if (c < 0xf5) {
          need = 3;
          lo = c === 0xf0 ? 0x90 : 0x80; // F0 80..8F would be overlong
          hi = c === 0xf4 ? 0x8f : 0xbf; // F4 90.. would be above U+10FFFF
        } else {
          return false; // F5..FF: never in UTF-8
        }
      } else {
        if (c < lo || c > hi) return false;
        lo = 0x80;
        hi = 0xbf;
        need -= 1;
      }
    }
    this.need = need;
    this.lo = lo;
    this.hi = hi;
    return true;
  }
}
