/**
 * GPIO character devices, ABI v2 (`/dev/gpiochipN`, Linux 5.10+): chip and line information, line requests (input or
 * output, bias, active-low, drive, debounce, edge detection), edge events with kernel timestamps and sequence
 * numbers, and getting/setting values. Edge events are read from the line request's descriptor through the
 * runtime, like any other descriptor.
 *
 * The structs are encoded here byte by byte; their sizes and field offsets are pinned by static_asserts against
 * `<linux/gpio.h>` in native/sources/gpio.cc and compared with the addon's layout when this module first runs.
 *
 * @module
 */

import { closeSync, openSync } from 'node:fs';
import { Interest, InvalidArgumentError, describeReceived, errnoError, type Runtime, type Watcher } from '@fdloop/core';
import { WOULD_BLOCK, read as sysRead } from './sys.js';
import { nativeSources } from './sources/native.js';

/** Sizes of the v2 structs, as this module encodes them (checked against the addon's `layout`). */
export const GPIO_LAYOUT = Object.freeze({
  /** `sizeof(struct gpiochip_info)`. */
  chipInfo: 68,
  /** `sizeof(struct gpio_v2_line_info)`. */
  lineInfo: 256,
  /** `sizeof(struct gpio_v2_line_request)`. */
  lineRequest: 592,
  /** `sizeof(struct gpio_v2_line_config)`. */
  lineConfig: 272,
  /** `sizeof(struct gpio_v2_line_values)`. */
  lineValues: 16,
  /** `sizeof(struct gpio_v2_line_event)`. */
  lineEvent: 48,
  /** `offsetof(struct gpio_v2_line_request, config)`. */
  requestConfigOffset: 288,
  /** `offsetof(struct gpio_v2_line_request, fd)`. */
  requestFdOffset: 588,
  /** `offsetof(struct gpio_v2_line_info, attrs)`. */
  infoAttrsOffset: 80,
});

/** `enum gpio_v2_line_flag` of `<linux/gpio.h>`. */
export const GpioLineFlag = Object.freeze({
  /** The line is in use (by anyone). */
  USED: 1,
  /** Active state is physical low. */
  ACTIVE_LOW: 2,
  /** An input. */
  INPUT: 4,
  /** An output. */
  OUTPUT: 8,
  /** Detect rising edges (inactive to active). */
  EDGE_RISING: 16,
  /** Detect falling edges (active to inactive). */
  EDGE_FALLING: 32,
  /** Open-drain output. */
  OPEN_DRAIN: 64,
  /** Open-source output. */
  OPEN_SOURCE: 128,
  /** Pull-up bias. */
  BIAS_PULL_UP: 256,
  /** Pull-down bias. */
  BIAS_PULL_DOWN: 512,
  /** Bias disabled. */
  BIAS_DISABLED: 1024,
  /** Edge events carry CLOCK_REALTIME timestamps. */
  EVENT_CLOCK_REALTIME: 2048,
});

const LINES_MAX = 64;
const NUM_ATTRS_MAX = 10;
const ATTR_ID_OUTPUT_VALUES = 2;
const ATTR_ID_DEBOUNCE = 3;
const IOCTL = { chipInfo: 0, lineInfo: 1, lineRequest: 2, setConfig: 3, getValues: 4, setValues: 5 } as const;

let layoutChecked = false;
function checkLayout(): void {
  if (layoutChecked) return;
  const native = nativeSources().gpio.layout;
  for (const [key, value] of Object.entries(GPIO_LAYOUT)) {
    if (native[key] !== value) {
      throw new Error(`GPIO struct layout mismatch for ${key}: this module encodes ${value}, the addon was built with ${String(native[key])}`);
    }
  }
  layoutChecked = true;
}

/** Information about a GPIO chip. */
export interface GpioChipInfo {
  /** The kernel name (`gpiochip0`). */
  readonly name: string;
  /** The functional label (`pinctrl-bcm2711`). */
  readonly label: string;
  /** How many lines it has. */
  readonly lines: number;
}

/** Information about one line. */
export interface GpioLineInfo {
  /** The line's offset on its chip. */
  readonly offset: number;
  /** Its name, if the platform names it. */
  readonly name: string;
  /** Who requested it, if anyone. */
  readonly consumer: string;
  /** {@link GpioLineFlag} bits. */
  readonly flags: number;
  /** Whether it is in use by someone (this process included). */
  readonly used: boolean;
  /** The debounce period in microseconds, if one is configured. */
  readonly debounceUs?: number;
}

/** Edge detection of a request. */
export type GpioEdge = 'none' | 'rising' | 'falling' | 'both';
/** Bias of a request. */
export type GpioBias = 'as-is' | 'pull-up' | 'pull-down' | 'disabled';
/** Output drive of a request. */
export type GpioDrive = 'push-pull' | 'open-drain' | 'open-source';

/** Options of {@link requestLines}. */
export interface GpioRequestOptions {
  /** Line offsets on the chip (1 to 64 distinct integers). */
  readonly offsets: readonly number[];
  /** Consumer label shown by `gpioinfo`. Defaults to `'fdloop'`. */
  readonly consumer?: string;
  /** Defaults to `'input'`. */
  readonly direction?: 'input' | 'output';
  /** Initial output values (one per offset), for outputs. Defaults to all inactive. */
  readonly values?: readonly boolean[];
  /** Defaults to `'as-is'`. */
  readonly bias?: GpioBias;
  /** Active-low lines (values are logical). Defaults to `false`. */
  readonly activeLow?: boolean;
  /** Output drive. Defaults to `'push-pull'`. */
  readonly drive?: GpioDrive;
  /** Edge detection for inputs. Defaults to `'none'`. */
  readonly edge?: GpioEdge;
  /** Debounce period in microseconds for inputs (0 = none). Defaults to `0`. */
  readonly debounceUs?: number;
  /** Timestamp edge events with CLOCK_REALTIME instead of CLOCK_MONOTONIC. Defaults to `false`. */
  readonly realtimeClock?: boolean;
  /** The kernel's event buffer size in events (0 = kernel default, 16 per line). Defaults to `0`. */
  readonly eventBufferSize?: number;
}

/** One edge event (`struct gpio_v2_line_event`). */
export interface GpioEdgeEvent {
  /** `'rising'` or `'falling'`. */
  readonly edge: 'rising' | 'falling';
  /** The line's offset on the chip. */
  readonly offset: number;
  /** Kernel timestamp in nanoseconds (CLOCK_MONOTONIC unless `realtimeClock`). */
  readonly timestampNs: bigint;
  /** Sequence number among all lines of the request. */
  readonly seqno: number;
  /** Sequence number of this line. */
  readonly lineSeqno: number;
}

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

function openChip(path: string): number {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArgumentError('chip', 'must be a path such as /dev/gpiochip0');
  try {
    return openSync(path, 'r+');
  } catch (err) {
    throw errnoError((err as NodeJS.ErrnoException).errno ?? -5, 'open', { path, message: 'no such GPIO chip' });
  }
}

function ioctl(fd: number, which: number, buf: Buffer, what: string, path?: string): void {
  const rc = nativeSources().gpio.ioctl(fd, which, buf);
  if (rc < 0) throw errnoError(rc, 'ioctl', path === undefined ? { fd, message: what } : { path, message: what });
}

function readChipInfo(fd: number, path: string): GpioChipInfo {
  checkLayout();
  const buf = Buffer.alloc(GPIO_LAYOUT.chipInfo);
  ioctl(fd, IOCTL.chipInfo, buf, 'GPIO_GET_CHIPINFO_IOCTL', path);
  return { name: cString(buf, 0, 32), label: cString(buf, 32, 32), lines: buf.readUInt32LE(64) };
}

/**
 * Read a chip's information.
 * @param chip - the device path, for example `/dev/gpiochip0`.
 * @throws ErrnoError `ENOENT` naming the path when the chip does not exist.
 * @example
 * ```ts
 * const info = gpio.chipInfo('/dev/gpiochip0'); // { name: 'gpiochip0', label: '…', lines: 54 }
 * ```
 */
export function chipInfo(chip: string): GpioChipInfo {
  const fd = openChip(chip);
  try {
    return readChipInfo(fd, chip);
  } finally {
    closeSync(fd);
  }
}

/** Decode a `struct gpio_v2_line_info`. Exported for tests. */
export function decodeLineInfo(buf: Buffer): GpioLineInfo {
  const flags = Number(buf.readBigUInt64LE(72));
  const numAttrs = Math.min(buf.readUInt32LE(68), NUM_ATTRS_MAX);
  let debounceUs: number | undefined;
  for (let i = 0; i < numAttrs; i++) {
    const at = GPIO_LAYOUT.infoAttrsOffset + i * 16;
    if (buf.readUInt32LE(at) === ATTR_ID_DEBOUNCE) debounceUs = buf.readUInt32LE(at + 8);
  }
  const info = {
    name: cString(buf, 0, 32),
    consumer: cString(buf, 32, 32),
    offset: buf.readUInt32LE(64),
    flags,
    used: (flags & GpioLineFlag.USED) !== 0,
  };
  return debounceUs === undefined ? info : { ...info, debounceUs };
}

/**
 * Read one line's information.
 * @throws InvalidArgumentError for an offset the chip does not have; ErrnoError `ENOENT` for a missing chip.
 */
export function lineInfo(chip: string, offset: number): GpioLineInfo {
  const fd = openChip(chip);
  try {
    const info = readChipInfo(fd, chip);
    validateOffsets([offset], info.lines);
    const buf = Buffer.alloc(GPIO_LAYOUT.lineInfo);
    buf.writeUInt32LE(offset, 64);
    ioctl(fd, IOCTL.lineInfo, buf, 'GPIO_V2_GET_LINEINFO_IOCTL', chip);
    return decodeLineInfo(buf);
  } finally {
    closeSync(fd);
  }
}

/**
 * Check line offsets: 1 to 64 distinct non-negative integers, below `lines` when the chip's line count is known.
 * @throws InvalidArgumentError
 */
export function validateOffsets(offsets: unknown, lines?: number): number[] {
  if (!Array.isArray(offsets) || offsets.length === 0 || offsets.length > LINES_MAX) {
    throw new InvalidArgumentError('offsets', `must be an array of 1 to ${LINES_MAX} line offsets`);
  }
  const seen = new Set<number>();
  for (const o of offsets) {
    if (typeof o !== 'number' || !Number.isInteger(o) || o < 0 || o > 0xffffffff) {
      throw new InvalidArgumentError('offsets', `${String(o)} is not a line offset (a non-negative integer)`);
    }
    if (lines !== undefined && o >= lines) throw new InvalidArgumentError('offsets', `line ${o} does not exist: the chip has lines 0 to ${lines - 1}`);
    if (seen.has(o)) throw new InvalidArgumentError('offsets', `line ${o} is listed twice`);
    seen.add(o);
  }
  return offsets as number[];
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw new InvalidArgumentError(name, `must be one of ${allowed.join(', ')}, got ${describeReceived(value)}`);
  return value as T;
}

/**
 * Encode a `struct gpio_v2_line_request` (validating everything first). Exported for tests.
 * @throws InvalidArgumentError
 */
export function encodeLineRequest(options: GpioRequestOptions, lines?: number): Buffer {
  const offsets = validateOffsets(options.offsets, lines);
  const direction = oneOf('direction', options.direction, ['input', 'output'] as const, 'input');
  const bias = oneOf('bias', options.bias, ['as-is', 'pull-up', 'pull-down', 'disabled'] as const, 'as-is');
  const drive = oneOf('drive', options.drive, ['push-pull', 'open-drain', 'open-source'] as const, 'push-pull');
  const edge = oneOf('edge', options.edge, ['none', 'rising', 'falling', 'both'] as const, 'none');
  const debounceUs = options.debounceUs ?? 0;
  if (!Number.isInteger(debounceUs) || debounceUs < 0 || debounceUs > 0xffffffff) {
    throw new InvalidArgumentError('debounceUs', `must be an integer number of microseconds >= 0, got ${describeReceived(debounceUs)}`);
  }
  const bufferSize = options.eventBufferSize ?? 0;
  if (!Number.isInteger(bufferSize) || bufferSize < 0 || bufferSize > 0xffffffff) {
    throw new InvalidArgumentError('eventBufferSize', `must be an integer >= 0, got ${describeReceived(bufferSize)}`);
  }
  const consumer = options.consumer ?? 'fdloop';
  if (typeof consumer !== 'string' || Buffer.byteLength(consumer) > 31) throw new InvalidArgumentError('consumer', 'must be a string of at most 31 bytes');
  if (direction === 'output' && edge !== 'none') throw new InvalidArgumentError('edge', 'edge detection needs direction input');
  if (direction === 'input' && drive !== 'push-pull') throw new InvalidArgumentError('drive', 'a drive mode needs direction output');
  const values = options.values ?? [];
  if (!Array.isArray(values) || values.length > offsets.length || values.some((v) => typeof v !== 'boolean')) {
    throw new InvalidArgumentError('values', 'must be an array of booleans, at most one per offset');
  }

  let flags = direction === 'input' ? GpioLineFlag.INPUT : GpioLineFlag.OUTPUT;
  if (options.activeLow) flags |= GpioLineFlag.ACTIVE_LOW;
  if (bias === 'pull-up') flags |= GpioLineFlag.BIAS_PULL_UP;
  if (bias === 'pull-down') flags |= GpioLineFlag.BIAS_PULL_DOWN;
  if (bias === 'disabled') flags |= GpioLineFlag.BIAS_DISABLED;
  if (drive === 'open-drain') flags |= GpioLineFlag.OPEN_DRAIN;
  if (drive === 'open-source') flags |= GpioLineFlag.OPEN_SOURCE;
  if (edge === 'rising' || edge === 'both') flags |= GpioLineFlag.EDGE_RISING;
  if (edge === 'falling' || edge === 'both') flags |= GpioLineFlag.EDGE_FALLING;
  if (options.realtimeClock) flags |= GpioLineFlag.EVENT_CLOCK_REALTIME;

  const buf = Buffer.alloc(GPIO_LAYOUT.lineRequest);
  offsets.forEach((o, i) => buf.writeUInt32LE(o, i * 4));
  buf.write(consumer, 256, 31, 'utf8');
  const cfg = GPIO_LAYOUT.requestConfigOffset;
  buf.writeBigUInt64LE(BigInt(flags), cfg);
  const allLines = offsets.length === 64 ? (1n << 64n) - 1n : (1n << BigInt(offsets.length)) - 1n;
  let attrs = 0;
  const attr = (id: number, write: (at: number) => void, mask: bigint): void => {
    const at = cfg + 32 + attrs * 24;
    buf.writeUInt32LE(id, at);
    write(at + 8);
    buf.writeBigUInt64LE(mask, at + 16);
    attrs++;
  };
  if (direction === 'output' && values.length > 0) {
    let bits = 0n;
    values.forEach((v, i) => {
      if (v) bits |= 1n << BigInt(i);
    });
    attr(ATTR_ID_OUTPUT_VALUES, (at) => buf.writeBigUInt64LE(bits, at), allLines);
  }
  if (debounceUs > 0) attr(ATTR_ID_DEBOUNCE, (at) => buf.writeUInt32LE(debounceUs, at), allLines);
  buf.writeUInt32LE(attrs, cfg + 8);
  buf.writeUInt32LE(offsets.length, 560);
  buf.writeUInt32LE(bufferSize, 564);
  // Every line shares the config's default flags, so no per-line flags attribute is needed.
  return buf;
}

/** Decode `struct gpio_v2_line_event` records (48 bytes each). Exported for tests. */
export function decodeLineEvents(buf: Uint8Array, length: number): GpioEdgeEvent[] {
  const view = new DataView(buf.buffer, buf.byteOffset, length);
  const out: GpioEdgeEvent[] = [];
  for (let off = 0; off + GPIO_LAYOUT.lineEvent <= length; off += GPIO_LAYOUT.lineEvent) {
    const id = view.getUint32(off + 8, true);
    out.push({
      timestampNs: view.getBigUint64(off, true),
      edge: id === 1 ? 'rising' : 'falling',
      offset: view.getUint32(off + 12, true),
      seqno: view.getUint32(off + 16, true),
      lineSeqno: view.getUint32(off + 20, true),
    });
  }
  return out;
}

/** A watcher of edge events on a descriptor (see {@link watchLineEvents}). */
export interface GpioEventWatcher extends Disposable {
  /** Stop watching (the descriptor stays open). */
  close(): void;
}

/**
 * Watch a line request's descriptor (or any descriptor producing `gpio_v2_line_event` records) and call `callback`
 * with each decoded edge event. {@link GpioLines.onEdge} uses it.
 */
export function watchLineEvents(rt: Runtime, fd: number, callback: (event: GpioEdgeEvent) => void): GpioEventWatcher {
  if (typeof callback !== 'function') throw new InvalidArgumentError('callback', 'must be a function');
  const buf = Buffer.alloc(GPIO_LAYOUT.lineEvent * 16);
  const watcher: Watcher = rt.watch(fd, Interest.READABLE, (ev, w) => {
    for (;;) {
      const n = sysRead(fd, buf);
      if (n === WOULD_BLOCK) break;
      if (n === 0) {
        w.close();
        break;
      }
      for (const e of decodeLineEvents(buf, n)) callback(e);
      if (w.closed) break;
    }
    if (ev.hangup && !w.closed) w.close();
  });
  return { close: () => watcher.close(), [Symbol.dispose]: () => watcher.close() };
}

/** Requested lines; see {@link requestLines}. */
export interface GpioLines extends Disposable {
  /** The request's descriptor (edge events are read from it). */
  readonly fd: number;
  /** The offsets, in request order. */
  readonly offsets: readonly number[];
  /** Read the logical values, one per offset. */
  getValues(): boolean[];
  /** Set logical output values, one per offset (`undefined` leaves a line unchanged). */
  setValues(values: ReadonlyArray<boolean | undefined>): void;
  /** Call `callback` for every edge event (needs `edge` in the request). */
  onEdge(rt: Runtime, callback: (event: GpioEdgeEvent) => void): GpioEventWatcher;
  /** Release the lines. Idempotent. */
  close(): void;
}

/**
 * Request lines of a chip.
 * @throws InvalidArgumentError for bad options or offsets the chip does not have; ErrnoError `ENOENT` (naming the
 *   path) for a missing chip, `EBUSY` for lines in use.
 * @example
 * ```ts
 * const button = gpio.requestLines('/dev/gpiochip0', { offsets: [17], edge: 'both', bias: 'pull-up', debounceUs: 5000 });
 * button.onEdge(rt, (ev) => print(ev.edge, ev.timestampNs));
 * ```
 */
export function requestLines(chip: string, options: GpioRequestOptions): GpioLines {
  validateOffsets(options?.offsets);
  encodeLineRequest(options);
  const chipFd = openChip(chip);
  let buf: Buffer;
  try {
    const info = readChipInfo(chipFd, chip);
    buf = encodeLineRequest(options, info.lines);
    ioctl(chipFd, IOCTL.lineRequest, buf, 'GPIO_V2_GET_LINE_IOCTL', chip);
  } finally {
    closeSync(chipFd);
  }
  const fd = buf.readInt32LE(GPIO_LAYOUT.requestFdOffset);
  const offsets = Object.freeze([...options.offsets]);
  let closed = false;
  const all = offsets.length === 64 ? (1n << 64n) - 1n : (1n << BigInt(offsets.length)) - 1n;
  const lines: GpioLines = {
    fd,
    offsets,
    getValues() {
      const v = Buffer.alloc(GPIO_LAYOUT.lineValues);
      v.writeBigUInt64LE(all, 8);
      ioctl(fd, IOCTL.getValues, v, 'GPIO_V2_LINE_GET_VALUES_IOCTL');
      const bits = v.readBigUInt64LE(0);
      return offsets.map((_, i) => ((bits >> BigInt(i)) & 1n) === 1n);
    },
    setValues(values) {
      if (!Array.isArray(values) || values.length > offsets.length) throw new InvalidArgumentError('values', 'at most one value per offset');
      let bits = 0n;
      let mask = 0n;
      values.forEach((val, i) => {
        if (val === undefined) return;
        if (typeof val !== 'boolean') throw new InvalidArgumentError('values', 'must be booleans');
        mask |= 1n << BigInt(i);
        if (val) bits |= 1n << BigInt(i);
      });
      const v = Buffer.alloc(GPIO_LAYOUT.lineValues);
      v.writeBigUInt64LE(bits, 0);
      v.writeBigUInt64LE(mask, 8);
      ioctl(fd, IOCTL.setValues, v, 'GPIO_V2_LINE_SET_VALUES_IOCTL');
    },
    onEdge(rt, callback) {
      return watchLineEvents(rt, fd, callback);
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
    [Symbol.dispose]() {
      lines.close();
    },
  };
  return lines;
}
