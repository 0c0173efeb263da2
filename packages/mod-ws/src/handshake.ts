/**
 * The opening handshake's pieces (RFC 6455 §4): keys, the accept value, header lists and subprotocols.
 *
 * @module
 */

import { createHash, randomBytes } from 'node:crypto';

/** The GUID RFC 6455 §1.3 appends to the key. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A fresh `Sec-WebSocket-Key`: 16 random bytes in base64. */
export function newKey(): string {
  return randomBytes(16).toString('base64');
}

/** `Sec-WebSocket-Accept` for `key`: base64 of the SHA-1 of the key and the GUID. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

const BASE64_KEY = /^[A-Za-z0-9+/]{22}==$/;

/** Whether `key` is a valid `Sec-WebSocket-Key`: base64 of exactly 16 bytes. */
export function isValidKey(key: string | undefined): key is string {
  return key !== undefined && BASE64_KEY.test(key);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `value` is an RFC 9110 token (what a subprotocol name must be). */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/**
 * A comma-separated header value as its trimmed, non-empty elements; `undefined` when an element is not a
 * token (or is repeated, with `unique`).
 */
export function tokenList(value: string, unique: boolean): string[] | undefined {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim();
    if (t === '') continue;
    if (!isToken(t)) return undefined;
    if (unique && out.includes(t)) return undefined;
    out.push(t);
  }
  return out;
}

/** Whether the comma-separated `value` contains `token`, compared case-insensitively. */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}
