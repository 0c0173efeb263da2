/**
 * Shared output helpers: reason phrases, the cached Date header, header validation.
 *
 * @module
 */

import { InvalidArgumentError, describeReceived, currentTick, inTick } from '@fdloop/core';

/** Reason phrases of the status codes a server commonly sends. */
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  417: 'Expectation Failed',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
});

let dateSecond = -1;
let dateValue = '';
let dateTick = -1;

/**
 * The current `Date` header value, formatted once per second. Inside a runtime tick (one batch of events, like
 * nginx's per-iteration time cache) the clock is read once: the responses of one batch share one value. Outside a
 * tick (a response finished from a Node timer or a promise libuv settled) the clock is read every time.
 */
export function httpDate(): string {
  const tick = inTick() ? currentTick() : -1;
  if (tick === dateTick && tick !== -1) return dateValue;
  dateTick = tick;
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible ASCII, space and tab: header values go out as part of one string, so nothing outside ASCII is allowed
// (percent-encode or use RFC 8187 encoding), and CR/LF (response splitting) never.
const VALUE_RE = /^[\t\x20-\x7e]*$/;

// Names seen valid before: most handlers set the same few headers on every response.
const validNames = new Set<string>();

/** Check a header name (a token). @throws InvalidArgumentError */
export function validateHeaderName(name: unknown): string {
  if (validNames.has(name as string)) return name as string;
  if (typeof name !== 'string' || !TOKEN_RE.test(name)) {
    throw new InvalidArgumentError('name', `must be an HTTP token, got ${describeReceived(name)}`);
  }
  if (validNames.size < 1024) validNames.add(name);
  return name;
}

// Short values seen valid before ('text/plain', 'no-cache', …): the same few recur on every response.
const validValues = new Set<string>();

/** Check a header value (visible ASCII, SP, HTAB; numbers are converted). @throws InvalidArgumentError */
export function validateHeaderValue(name: string, value: unknown): string {
  if (validValues.has(value as string)) return value as string;
  const v = typeof value === 'number' ? String(value) : value;
  if (typeof v !== 'string' || !VALUE_RE.test(v)) {
    throw new InvalidArgumentError(name, `header value must be visible ASCII without CR or LF, got ${describeReceived(value)}`);
  }
  if (v.length <= 64 && validValues.size < 1024) validValues.add(v);
  return v;
}

/** Header input accepted by the APIs: an object, or a list of `[name, value]` pairs. */
export type HeadersInit = Record<string, string | number | readonly string[]> | readonly (readonly [string, string])[];

/** Flatten {@link HeadersInit} into `[name, value, …]`, validating each. */
export function flattenHeaders(init: HeadersInit | undefined, out: string[] = []): string[] {
  if (init === undefined) return out;
  if (Array.isArray(init)) {
    for (const pair of init as readonly (readonly [string, string])[]) {
      const name = validateHeaderName(pair[0]);
      out.push(name, validateHeaderValue(name, pair[1]));
    }
    return out;
  }
  for (const [key, value] of Object.entries(init as Record<string, string | number | readonly string[]>)) {
    const name = validateHeaderName(key);
    if (Array.isArray(value)) for (const v of value as readonly string[]) out.push(name, validateHeaderValue(name, v));
    else out.push(name, validateHeaderValue(name, value));
  }
  return out;
}

/** A body the APIs accept for sending. */
export type BodyInit = string | Uint8Array;

/** `body` as bytes. */
export function bodyBytes(body: BodyInit): Uint8Array {
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return body;
  throw new InvalidArgumentError('body', 'must be a string, Buffer or Uint8Array');
}

/** Whether a status code never has a body. */
export function statusHasNoBody(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}
