/**
 * Line settings: what {@link open} and {@link SerialPort.update} accept, their defaults and their validation.
 *
 * @module
 */

import { InvalidArgumentError, describeReceived } from '@fdloop/core';
import { PARITY_CODES, SETTINGS_FIELDS } from './native.js';

/** Parity: none, odd, even, or the stick parities mark (always 1) and space (always 0). */
export type Parity = 'none' | 'odd' | 'even' | 'mark' | 'space';

/** The line settings of a port. */
export interface LineSettings {
  /**
   * Bits per second. Any positive integer: standard rates and custom ones (250000, 31250…) alike, set through
   * termios2 `BOTHER` on Linux; the driver may round a rate it cannot produce, and {@link SerialPort.settings}
   * shows what it accepted. Defaults to `9600`.
   */
  readonly baudRate: number;
  /** Data bits per character: 5, 6, 7 or 8. Defaults to `8`. */
  readonly dataBits: 5 | 6 | 7 | 8;
  /** Stop bits: 1 or 2 (1.5 does not exist in Linux termios). Defaults to `1`. */
  readonly stopBits: 1 | 2;
  /** Parity. Defaults to `'none'`. */
  readonly parity: Parity;
  /** Hardware flow control with RTS/CTS (`CRTSCTS`). Defaults to `false`. */
  readonly rtscts: boolean;
  /** Obey XON/XOFF from the peer: stop sending on XOFF (`IXON`). Defaults to `false`. */
  readonly xon: boolean;
  /** Send XON/XOFF to the peer when our input queue fills (`IXOFF`). Defaults to `false`. */
  readonly xoff: boolean;
  /** Any character restarts output stopped by XOFF (`IXANY`). Defaults to `false`. */
  readonly xany: boolean;
  /** Drop DTR and RTS when the last descriptor of the port closes (`HUPCL`). Defaults to `true`. */
  readonly hupcl: boolean;
}

/** The defaults of {@link LineSettings}: 9600 8N1, no flow control, `hupcl`. */
export const DEFAULT_SETTINGS: LineSettings = Object.freeze({
  baudRate: 9600,
  dataBits: 8,
  stopBits: 1,
  parity: 'none',
  rtscts: false,
  xon: false,
  xoff: false,
  xany: false,
  hupcl: true,
});

function bool(name: string, value: unknown, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(name, `must be a boolean, got ${describeReceived(value)}`);
  return value;
}

/**
 * Merge `patch` into `base`, validating every field given.
 * @throws InvalidArgumentError naming the field (`'baudRate'`, `'parity'`…).
 */
export function resolveSettings(base: LineSettings, patch: Partial<LineSettings> | undefined, prefix = ''): LineSettings {
  if (patch === undefined) return base;
  const p = patch as Record<string, unknown>;
  const baudRate = p.baudRate ?? base.baudRate;
  if (typeof baudRate !== 'number' || !Number.isInteger(baudRate) || baudRate < 1 || baudRate > 0x7fffffff) {
    throw new InvalidArgumentError(`${prefix}baudRate`, `must be a positive integer (bits per second), got ${describeReceived(baudRate)}`);
  }
  const dataBits = p.dataBits ?? base.dataBits;
  if (dataBits !== 5 && dataBits !== 6 && dataBits !== 7 && dataBits !== 8) {
    throw new InvalidArgumentError(`${prefix}dataBits`, `must be 5, 6, 7 or 8, got ${describeReceived(dataBits)}`);
  }
  const stopBits = p.stopBits ?? base.stopBits;
  if (stopBits !== 1 && stopBits !== 2) {
    const hint = stopBits === 1.5 ? ' (1.5 stop bits cannot be set through Linux termios)' : '';
    throw new InvalidArgumentError(`${prefix}stopBits`, `must be 1 or 2, got ${describeReceived(stopBits)}${hint}`);
  }
  const parity = p.parity ?? base.parity;
  if (typeof parity !== 'string' || !(PARITY_CODES as readonly string[]).includes(parity)) {
    throw new InvalidArgumentError(`${prefix}parity`, `must be one of ${PARITY_CODES.map((c) => `'${c}'`).join(', ')}, got ${describeReceived(parity)}`);
  }
  return {
    baudRate,
    dataBits,
    stopBits,
    parity: parity as Parity,
    rtscts: bool(`${prefix}rtscts`, p.rtscts, base.rtscts),
    xon: bool(`${prefix}xon`, p.xon, base.xon),
    xoff: bool(`${prefix}xoff`, p.xoff, base.xoff),
    xany: bool(`${prefix}xany`, p.xany, base.xany),
    hupcl: bool(`${prefix}hupcl`, p.hupcl, base.hupcl),
  };
}

/** Encode settings into the addon's Int32Array layout. */
export function encodeSettings(s: LineSettings, out: Int32Array): Int32Array {
  for (let i = 0; i < SETTINGS_FIELDS.length; i++) {
    const field = SETTINGS_FIELDS[i] as (typeof SETTINGS_FIELDS)[number];
    const v = s[field];
    out[i] = field === 'parity' ? PARITY_CODES.indexOf(v as Parity) : typeof v === 'boolean' ? (v ? 1 : 0) : (v as number);
  }
  return out;
}

/** Decode the addon's Int32Array layout. */
export function decodeSettings(a: Int32Array): LineSettings {
  return Object.freeze({
    baudRate: a[0] as number,
    dataBits: a[1] as 5 | 6 | 7 | 8,
    stopBits: a[2] as 1 | 2,
    parity: PARITY_CODES[a[3] as number] ?? 'none',
    rtscts: a[4] === 1,
    xon: a[5] === 1,
    xoff: a[6] === 1,
    xany: a[7] === 1,
    hupcl: a[8] === 1,
  });
}
