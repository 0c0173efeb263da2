/**
 * WebSocket conformance cases modelled on the categories of the Autobahn testsuite (framing, pings, reserved
 * bits, opcodes, fragmentation, UTF-8 handling, close handling, large messages, limits), written for this
 * package: each case is the frames a raw peer sends and what the endpoint under test must answer. Run against
 * our server and our client by `autobahn.test.ts`; numbering follows Autobahn's where a case has a counterpart.
 */

import type { FrameSpec } from './peer.js';
import { closePayload } from './peer.js';

/** A frame the endpoint under test must send back. */
export interface Expected {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** One write (or several, `chop` bytes each) of the raw peer. */
export interface Step {
  readonly frames: readonly FrameSpec[];
  /** Send in pieces of this many bytes, a loop turn apart. */
  readonly chop?: number;
  /** Wait this long after the step (ms). */
  readonly pause?: number;
  /** The endpoint must fail the connection after this step, before the next is sent ("fail fast"). */
  readonly failHere?: boolean;
  /** Raw bytes to send after the frames (a cut-off header…). */
  readonly bytes?: Buffer;
  /**
   * Send the step's single frame in pieces cut at these offsets of its payload (the header goes with the first
   * piece), a pause apart; with `failAtPiece`, the endpoint must fail the connection right after that piece.
   */
  readonly payloadCuts?: readonly number[];
  readonly failAtPiece?: number;
}

/** What the endpoint under test must do. */
export type Expectation =
  /** Echo these frames (messages echoed, pings answered) and then close cleanly when the peer closes with 1000. */
  | { readonly kind: 'echo'; readonly frames: readonly Expected[] }
  /** Send the frames in `before` (if any), then fail the connection with a close frame carrying `code`. */
  | { readonly kind: 'fail'; readonly code: number; readonly before?: readonly Expected[] }
  /** The case sends a close frame: answer with one carrying `code` (1005: empty), after the frames in `before`. */
  | { readonly kind: 'close'; readonly code: number; readonly before?: readonly Expected[] }
  /** The peer vanishes (TCP end or reset) after the steps: the endpoint closes with 1006 and reports it. */
  | { readonly kind: 'vanish'; readonly reset: boolean };

export type Category = 'framing' | 'pings' | 'reserved bits' | 'opcodes' | 'fragmentation' | 'utf-8' | 'close handling' | 'large messages' | 'limits';

export interface WsCase {
  readonly id: string;
  readonly category: Category;
  readonly title: string;
  readonly steps: readonly Step[];
  readonly expect: Expectation;
}

/** The endpoint's limits while the cases run (see the `limits` category). */
export const LIMITS = { maxMessageSize: 8 * 1024 * 1024, maxFrameSize: 4 * 1024 * 1024 };

// Frames to send.
const text = (payload: string | Buffer, o: Partial<FrameSpec> = {}): FrameSpec => ({ opcode: 1, payload, ...o });
const binary = (payload: Buffer, o: Partial<FrameSpec> = {}): FrameSpec => ({ opcode: 2, payload, ...o });
const cont = (payload: string | Buffer, fin: boolean): FrameSpec => ({ opcode: 0, payload, fin });
const ping = (payload: string | Buffer = '', o: Partial<FrameSpec> = {}): FrameSpec => ({ opcode: 9, payload, ...o });
const pong = (payload: string | Buffer = '', o: Partial<FrameSpec> = {}): FrameSpec => ({ opcode: 10, payload, ...o });
const close = (code?: number, reason: string | Buffer = ''): FrameSpec => ({ opcode: 8, payload: code === undefined ? '' : closePayload(code, reason) });
// Frames expected back.
const eText = (s: string | Buffer): Expected => ({ opcode: 1, payload: typeof s === 'string' ? Buffer.from(s) : s });
const eBinary = (b: Buffer): Expected => ({ opcode: 2, payload: b });
const ePong = (p: string | Buffer = ''): Expected => ({ opcode: 10, payload: typeof p === 'string' ? Buffer.from(p) : p });

const step = (frames: readonly FrameSpec[], o: Omit<Step, 'frames'> = {}): Step => ({ frames, ...o });
const echo = (...frames: Expected[]): Expectation => ({ kind: 'echo', frames });
const fail = (code: number, ...before: Expected[]): Expectation => ({ kind: 'fail', code, before });

/** `payload` as a text (or binary) message split into fragments of `size` bytes. */
function fragments(payload: Buffer, size: number, opcode = 1): FrameSpec[] {
  const out: FrameSpec[] = [];
  for (let i = 0; i < payload.length || i === 0; i += size) {
    out.push({ opcode: i === 0 ? opcode : 0, payload: payload.subarray(i, i + size), fin: i + size >= payload.length });
  }
  return out;
}

const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

export const CASES: WsCase[] = [];
const add = (id: string, category: Category, title: string, steps: Step[], expect: Expectation): void => {
  CASES.push({ id, category, title, steps, expect });
};

// 1. Framing: text and binary messages of the lengths where the length encoding changes.
const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];
LENGTHS.forEach((n, i) => add(`1.1.${i + 1}`, 'framing', `text message of ${n} bytes`, [step([text('*'.repeat(n))])], echo(eText('*'.repeat(n)))));
add('1.1.8', 'framing', 'text message of 65536 bytes sent in 997-byte pieces', [step([text('*'.repeat(65536))], { chop: 997 })], echo(eText('*'.repeat(65536))));
LENGTHS.forEach((n, i) => add(`1.2.${i + 1}`, 'framing', `binary message of ${n} bytes`, [step([binary(Buffer.alloc(n, 0xfe))])], echo(eBinary(Buffer.alloc(n, 0xfe)))));
add('1.2.8', 'framing', 'binary message of 65536 bytes sent in 997-byte pieces', [step([binary(Buffer.alloc(65536, 0xfe))], { chop: 997 })], echo(eBinary(Buffer.alloc(65536, 0xfe))));

// 2. Pings and pongs.
add('2.1', 'pings', 'ping without payload', [step([ping()])], echo(ePong()));
add('2.2', 'pings', 'ping with a small text payload', [step([ping('Hello, world!')])], echo(ePong('Hello, world!')));
add('2.3', 'pings', 'ping with a small binary payload', [step([ping(h('00ff fe fd fc fb 00 ff'))])], echo(ePong(h('00ff fe fd fc fb 00 ff'))));
add('2.4', 'pings', 'ping with a 125-byte payload', [step([ping(Buffer.alloc(125, 0xfe))])], echo(ePong(Buffer.alloc(125, 0xfe))));
add('2.5', 'pings', 'ping with a 126-byte payload', [step([ping(Buffer.alloc(126, 0xfe))])], fail(1002));
add('2.6', 'pings', 'ping with a 125-byte payload sent one byte at a time', [step([ping(Buffer.alloc(125, 0xfe))], { chop: 1 })], echo(ePong(Buffer.alloc(125, 0xfe))));
add('2.7', 'pings', 'unsolicited pong without payload', [step([pong()])], echo());
add('2.8', 'pings', 'unsolicited pong with payload', [step([pong('unsolicited pong payload')])], echo());
add('2.9', 'pings', 'unsolicited pong, then a ping', [step([pong('unsolicited pong payload'), ping('ping payload')])], echo(ePong('ping payload')));
add('2.10', 'pings', '10 pings', [step(Array.from({ length: 10 }, (_, i) => ping(`payload-${i}`)))], echo(...Array.from({ length: 10 }, (_, i) => ePong(`payload-${i}`))));
add('2.11', 'pings', '10 pings sent one byte at a time', [step(Array.from({ length: 10 }, (_, i) => ping(`payload-${i}`)), { chop: 1 })], echo(...Array.from({ length: 10 }, (_, i) => ePong(`payload-${i}`))));

// 3. Reserved bits: no extension is negotiated, so any set bit fails the connection.
add('3.1', 'reserved bits', 'text message with RSV = 1', [step([text('Hello', { rsv: 1 })])], fail(1002));
add('3.2', 'reserved bits', 'text, then text with RSV = 2, then ping', [step([text('Hello'), text('Hello', { rsv: 2 }), ping('Hello')])], fail(1002, eText('Hello')));
add('3.3', 'reserved bits', 'text, then text with RSV = 3, then ping, each written separately', [step([text('Hello')]), step([text('Hello', { rsv: 3 })]), step([ping('Hello')])], fail(1002, eText('Hello')));
add('3.4', 'reserved bits', 'text, then text with RSV = 4, then ping, sent one byte at a time', [step([text('Hello'), text('Hello', { rsv: 4 }), ping('Hello')], { chop: 1 })], fail(1002, eText('Hello')));
add('3.5', 'reserved bits', 'binary message with RSV = 5', [step([binary(h('00ff'), { rsv: 5 })])], fail(1002));
add('3.6', 'reserved bits', 'ping with RSV = 6', [step([ping('Hello', { rsv: 6 })])], fail(1002));
add('3.7', 'reserved bits', 'close with RSV = 7', [step([{ opcode: 8, payload: closePayload(1000), rsv: 7 }])], fail(1002));

// 4. Opcodes: 3–7 (data) and 11–15 (control) are reserved.
[3, 4, 5, 6, 7].forEach((op, i) => {
  const frames = i < 2 ? [{ opcode: op, payload: i === 1 ? 'reserved' : '' }] : [text('Hello'), { opcode: op, payload: i === 2 ? '' : 'reserved' }, ping('Hello')];
  add(`4.1.${i + 1}`, 'opcodes', `reserved data opcode ${op}${i >= 2 ? ' between a message and a ping' : ''}`, [step(frames, { chop: i === 4 ? 1 : undefined })], fail(1002, ...(i >= 2 ? [eText('Hello')] : [])));
});
[11, 12, 13, 14, 15].forEach((op, i) => {
  const frames = i < 2 ? [{ opcode: op, payload: i === 1 ? 'reserved' : '' }] : [text('Hello'), { opcode: op, payload: i === 2 ? '' : 'reserved' }, ping('Hello')];
  add(`4.2.${i + 1}`, 'opcodes', `reserved control opcode ${op}${i >= 2 ? ' between a message and a ping' : ''}`, [step(frames, { chop: i === 4 ? 1 : undefined })], fail(1002, ...(i >= 2 ? [eText('Hello')] : [])));
});

// 5. Fragmentation.
add('5.1', 'fragmentation', 'ping in 2 fragments', [step([ping('frag1', { fin: false }), cont('frag2', true)])], fail(1002));
add('5.2', 'fragmentation', 'pong in 2 fragments', [step([pong('frag1', { fin: false }), cont('frag2', true)])], fail(1002));
const twoFrags = [text('fragment1', { fin: false }), cont('fragment2', true)];
add('5.3', 'fragmentation', 'text message in 2 fragments', [step(twoFrags)], echo(eText('fragment1fragment2')));
add('5.4', 'fragmentation', 'text message in 2 fragments, written separately', [step([twoFrags[0] as FrameSpec], { pause: 20 }), step([twoFrags[1] as FrameSpec])], echo(eText('fragment1fragment2')));
add('5.5', 'fragmentation', 'text message in 2 fragments, sent one byte at a time', [step(twoFrags, { chop: 1 })], echo(eText('fragment1fragment2')));
const pingBetween = [text('fragment1', { fin: false }), ping('pongme 2!'), cont('fragment2', true)];
add('5.6', 'fragmentation', 'text message in 2 fragments with a ping between them', [step(pingBetween)], echo(ePong('pongme 2!'), eText('fragment1fragment2')));
add('5.7', 'fragmentation', 'the same, each frame written separately', [step([pingBetween[0] as FrameSpec]), step([pingBetween[1] as FrameSpec]), step([pingBetween[2] as FrameSpec])], echo(ePong('pongme 2!'), eText('fragment1fragment2')));
add('5.8', 'fragmentation', 'the same, sent one byte at a time', [step(pingBetween, { chop: 1 })], echo(ePong('pongme 2!'), eText('fragment1fragment2')));
const strayFinal = [cont('fragment1', true), text('fragment2', { fin: false }), cont('fragment3', true)];
add('5.9', 'fragmentation', 'continuation with FIN and nothing to continue', [step(strayFinal)], fail(1002));
add('5.10', 'fragmentation', 'the same, frames written separately', strayFinal.map((f) => step([f])), fail(1002));
add('5.11', 'fragmentation', 'the same, sent one byte at a time', [step(strayFinal, { chop: 1 })], fail(1002));
const strayOpen = [cont('fragment1', false), text('fragment2', { fin: false }), cont('fragment3', true)];
add('5.12', 'fragmentation', 'continuation without FIN and nothing to continue', [step(strayOpen)], fail(1002));
add('5.13', 'fragmentation', 'the same, frames written separately', strayOpen.map((f) => step([f])), fail(1002));
add('5.14', 'fragmentation', 'the same, sent one byte at a time', [step(strayOpen, { chop: 1 })], fail(1002));
add('5.15', 'fragmentation', 'a fragmented message, then a stray continuation', [step([text('fragment1', { fin: false }), cont('fragment2', true), cont('fragment3', false), text('fragment4', { fin: true })])], fail(1002, eText('fragment1fragment2')));
add('5.16', 'fragmentation', 'twice: stray continuation without FIN, text, final continuation', [step([...strayOpen, ...strayOpen])], fail(1002));
add('5.17', 'fragmentation', 'twice: stray continuation with FIN, text, final continuation', [step([...strayFinal, ...strayFinal])], fail(1002));
add('5.18', 'fragmentation', 'a fragmented message whose second frame is a new text frame', [step([text('fragment1', { fin: false }), text('fragment2', { fin: true })])], fail(1002));
const longFrags = [text('fragment1', { fin: false }), cont('fragment2', false), ping('pongme 1!')];
const longFrags2 = [cont('fragment3', false), cont('fragment4', false), ping('pongme 2!'), cont('fragment5', true)];
add('5.19', 'fragmentation', 'a message in 5 fragments with 2 pings and a pause in between', [step(longFrags, { pause: 100 }), step(longFrags2)], echo(ePong('pongme 1!'), ePong('pongme 2!'), eText('fragment1fragment2fragment3fragment4fragment5')));
add('5.20', 'fragmentation', 'the same, sent one byte at a time', [step(longFrags, { chop: 1, pause: 100 }), step(longFrags2, { chop: 1 })], echo(ePong('pongme 1!'), ePong('pongme 2!'), eText('fragment1fragment2fragment3fragment4fragment5')));

// 6. UTF-8 handling.
add('6.1.1', 'utf-8', 'empty text message', [step([text('')])], echo(eText('')));
add('6.1.2', 'utf-8', 'text message of 3 empty fragments', [step([text('', { fin: false }), cont('', false), cont('', true)])], echo(eText('')));
add('6.1.3', 'utf-8', 'text message of an empty, a non-empty and an empty fragment', [step([text('', { fin: false }), cont('middle frame payload', false), cont('', true)])], echo(eText('middle frame payload')));
const hello = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!');
add('6.2.1', 'utf-8', 'valid UTF-8 text in one frame', [step([text(hello)])], echo(eText(hello)));
add('6.2.2', 'utf-8', 'valid UTF-8 text in 2 fragments cut inside a character', [step([text(hello.subarray(0, 12), { fin: false }), cont(hello.subarray(12), true)])], echo(eText(hello)));
add('6.2.3', 'utf-8', 'valid UTF-8 text in 1-byte fragments', [step(fragments(hello, 1))], echo(eText(hello)));
const kosme = h('cebae1bdb9cf83cebcceb5');
add('6.2.4', 'utf-8', 'κόσμε in 1-byte fragments', [step(fragments(kosme, 1))], echo(eText(kosme)));
const bad = h('cebae1bdb9cf83cebcceb5eda080656469746564');
add('6.3.1', 'utf-8', 'invalid UTF-8 (a surrogate) in one frame', [step([text(bad)])], fail(1007));
add('6.3.2', 'utf-8', 'invalid UTF-8 (a surrogate) in 1-byte fragments', [step(fragments(bad, 1))], fail(1007));
// Fail fast: the connection must fail when the impossible byte arrives, not when the message ends.
add('6.4.1', 'utf-8', 'fail fast: 3 fragments, the 2nd makes it invalid (U+110000)', [
  step([text(kosme, { fin: false })], { pause: 50 }),
  step([cont(h('f4908080'), false)], { failHere: true }),
  step([cont(h('656469746564'), true)]),
], fail(1007));
add('6.4.2', 'utf-8', 'fail fast: 3 fragments, the 2nd holds the first 2 bytes of an invalid sequence', [
  step([text(h('cebae1bdb9cf83cebcceb5f4'), { fin: false })], { pause: 50 }),
  step([cont(h('90'), false)], { failHere: true }),
  step([cont(h('8080656469746564'), true)]),
], fail(1007));
add('6.4.3', 'utf-8', 'fail fast: one frame written in 3 pieces, the 2nd makes it invalid (U+110000)', [
  step([text(Buffer.concat([kosme, h('f4908080'), h('656469746564')]))], { payloadCuts: [11, 15], failAtPiece: 1 }),
], fail(1007));
add('6.4.4', 'utf-8', 'fail fast: one frame written in 3 pieces, the 2nd holds 1 byte that makes it invalid', [
  step([text(Buffer.concat([kosme, h('f4908080'), h('656469746564')]))], { payloadCuts: [12, 13], failAtPiece: 1 }),
], fail(1007));
const VALID_SEQUENCES: [string, string][] = [
  ['6.5.1', 'cebae1bdb9cf83cebcceb5'],
  ['6.7.1', '00'], ['6.7.2', 'c280'], ['6.7.3', 'e0a080'], ['6.7.4', 'f0908080'],
  ['6.8.1', '7f'], ['6.8.2', 'dfbf'], ['6.8.3', 'efbfbf'], ['6.8.4', 'f48fbfbf'],
  ['6.9.1', 'ed9fbf'], ['6.9.2', 'ee8080'], ['6.9.3', 'efbfbd'], ['6.9.4', 'f48fbfbf'],
  ['6.23.1', 'efbfbe'], ['6.23.2', 'f09fbfbe'], ['6.23.3', 'f48fbfbe'], ['6.23.4', 'efb790'],
];
for (const [id, hex] of VALID_SEQUENCES) {
  add(id, 'utf-8', `valid sequence ${hex} in one frame`, [step([text(h(hex))])], echo(eText(h(hex))));
  add(`${id}.f`, 'utf-8', `valid sequence ${hex} in 1-byte fragments`, [step(fragments(h(hex), 1))], echo(eText(h(hex))));
}
const INVALID_SEQUENCES: [string, string, string][] = [
  ['6.10.1', 'f888808080', '5-byte sequence'], ['6.10.2', 'fc8480808080', '6-byte sequence'], ['6.10.3', 'f7bfbfbf', 'above U+10FFFF (F7)'],
  ['6.11.1', 'f4908080', 'U+110000'], ['6.11.2', 'f4bfbfbf', 'above U+10FFFF (F4 BF)'],
  ['6.12.1', '80', 'lone continuation 80'], ['6.12.2', 'bf', 'lone continuation BF'], ['6.12.3', '80bf', 'two continuations'], ['6.12.4', '80bf80', 'three continuations'],
  ['6.13.1', 'c020', 'lone start C0'], ['6.13.2', 'e020', 'lone start E0'], ['6.13.3', 'f020', 'lone start F0'], ['6.13.4', 'f820', 'lone start F8'], ['6.13.5', 'fc20', 'lone start FC'],
  ['6.14.1', 'df', 'last byte of a 2-byte sequence missing'], ['6.14.2', 'efbf', 'last byte of a 3-byte sequence missing'], ['6.14.3', 'f48fbf', 'last byte of a 4-byte sequence missing'],
  ['6.15.1', 'cebae1bdb9cf83cebcceb5f4908080656469746564', 'κόσμε with U+110000 inside'],
  ['6.16.1', 'fe', 'impossible byte FE'], ['6.16.2', 'ff', 'impossible byte FF'], ['6.16.3', 'fefeffff', 'impossible bytes'],
  ['6.17.1', 'c0af', 'overlong / (2 bytes)'], ['6.17.2', 'e080af', 'overlong / (3 bytes)'], ['6.17.3', 'f08080af', 'overlong / (4 bytes)'],
  ['6.18.1', 'c1bf', 'maximum overlong (2 bytes)'], ['6.18.2', 'e09fbf', 'maximum overlong (3 bytes)'], ['6.18.3', 'f08fbfbf', 'maximum overlong (4 bytes)'],
  ['6.19.1', 'c080', 'overlong NUL (2 bytes)'], ['6.19.2', 'e08080', 'overlong NUL (3 bytes)'], ['6.19.3', 'f0808080', 'overlong NUL (4 bytes)'],
  ['6.20.1', 'eda080', 'surrogate U+D800'], ['6.20.2', 'edadbf', 'surrogate U+DB7F'], ['6.20.3', 'edae80', 'surrogate U+DB80'], ['6.20.4', 'edafbf', 'surrogate U+DBFF'],
  ['6.20.5', 'edb080', 'surrogate U+DC00'], ['6.20.6', 'edbe80', 'surrogate U+DF80'], ['6.20.7', 'edbfbf', 'surrogate U+DFFF'],
  ['6.21.1', 'eda080edb080', 'surrogate pair U+D800 U+DC00'], ['6.21.2', 'edafbfedbfbf', 'surrogate pair U+DBFF U+DFFF'],
];
for (const [id, hex, what] of INVALID_SEQUENCES) {
  add(id, 'utf-8', `invalid: ${what}, in one frame`, [step([text(h(hex))])], fail(1007));
  add(`${id}.f`, 'utf-8', `invalid: ${what}, in 1-byte fragments`, [step(fragments(h(hex), 1))], fail(1007));
}

// 7. Close handling.
const closeCase = (code: number, before: Expected[] = []): Expectation => ({ kind: 'close', code, before });
add('7.1.1', 'close handling', 'a message, then a close', [step([text('Hello World!'), close(1000)])], closeCase(1000, [eText('Hello World!')]));
add('7.1.2', 'close handling', 'two close frames', [step([close(1000), close(1000)])], closeCase(1000));
add('7.1.3', 'close handling', 'a ping after the close is not answered', [step([close(1000), ping('Hello World!')])], closeCase(1000));
add('7.1.4', 'close handling', 'a message after the close is not echoed', [step([close(1000), text('Hello World!')])], closeCase(1000));
add('7.1.5', 'close handling', 'a fragment, the close, then the rest of the message', [step([text('fragment1', { fin: false }), close(1000), cont('fragment2', true)])], closeCase(1000));
add('7.3.1', 'close handling', 'close frame without payload', [step([close()])], closeCase(1005));
add('7.3.2', 'close handling', 'close frame with a 1-byte payload', [step([{ opcode: 8, payload: h('03') }])], fail(1002));
add('7.3.3', 'close handling', 'close 1000 without reason', [step([close(1000)])], closeCase(1000));
add('7.3.4', 'close handling', 'close 1000 with a reason', [step([close(1000, 'Hello World!')])], closeCase(1000));
add('7.3.5', 'close handling', 'close 1000 with a 123-byte reason', [step([close(1000, '*'.repeat(123))])], closeCase(1000));
add('7.3.6', 'close handling', 'close 1000 with a 124-byte reason (payload 126 bytes)', [step([close(1000, '*'.repeat(124))])], fail(1002));
add('7.5.1', 'close handling', 'close 1000 with an invalid UTF-8 reason', [step([close(1000, h('cebae1bdb9cf83cebcceb5eda080656469746564'))])], fail(1007));
[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999].forEach((code, i) =>
  add(`7.7.${i + 1}`, 'close handling', `close with valid code ${code}`, [step([close(code)])], closeCase(code)),
);
[0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535].forEach((code, i) =>
  add(`7.9.${i + 1}`, 'close handling', `close with invalid code ${code}`, [step([close(code)])], fail(1002)),
);
add('7.10.1', 'close handling', 'peer closes TCP without a close frame', [step([text('Hello')])], { kind: 'vanish', reset: false });
add('7.10.2', 'close handling', 'peer closes TCP in the middle of a frame header', [step([text('Hello')], { bytes: h('81fe') })], { kind: 'vanish', reset: false });
add('7.10.3', 'close handling', 'peer closes TCP in the middle of a payload', [step([{ opcode: 2, payload: Buffer.alloc(100, 1), length: 5000 }])], { kind: 'vanish', reset: false });
add('7.10.4', 'close handling', 'peer resets the connection in the middle of a fragmented message', [step([text('part', { fin: false })])], { kind: 'vanish', reset: true });

// 9. Large messages (Autobahn's 9.x "limits/performance"), within the endpoint's limits.
const KIB = 1024;
const MIB = 1024 * KIB;
[64 * KIB, 256 * KIB, MIB, 4 * MIB].forEach((n, i) => {
  add(`9.1.${i + 1}`, 'large messages', `text message of ${n / KIB} KiB`, [step([text(Buffer.alloc(n, 0x2a))])], echo(eText(Buffer.alloc(n, 0x2a))));
  add(`9.2.${i + 1}`, 'large messages', `binary message of ${n / KIB} KiB`, [step([binary(Buffer.alloc(n, 0xfe))])], echo(eBinary(Buffer.alloc(n, 0xfe))));
});
[256, 4 * KIB, 64 * KIB].forEach((size, i) => {
  add(`9.3.${i + 1}`, 'large messages', `1 MiB text message in ${size}-byte fragments`, [step(fragments(Buffer.alloc(MIB, 0x2a), size))], echo(eText(Buffer.alloc(MIB, 0x2a))));
  add(`9.4.${i + 1}`, 'large messages', `1 MiB binary message in ${size}-byte fragments`, [step(fragments(Buffer.alloc(MIB, 0xfe), size, 2))], echo(eBinary(Buffer.alloc(MIB, 0xfe))));
});
add('9.5.1', 'large messages', '1 MiB text message written in 1 KiB pieces', [step([text(Buffer.alloc(MIB, 0x2a))], { chop: KIB })], echo(eText(Buffer.alloc(MIB, 0x2a))));

// 10. Limits and masking (RFC 6455 §5.1, §5.2, §10.4).
const noPayloadHeader = (length: number, opcode = 2): FrameSpec => ({ opcode, payload: '', length });
add('10.1.1', 'limits', 'a frame larger than maxFrameSize fails from its header alone (1009)', [step([noPayloadHeader(LIMITS.maxFrameSize + 1)], { failHere: true })], fail(1009));
add('10.1.2', 'limits', 'a message growing past maxMessageSize across fragments (1009)', [
  step([binary(Buffer.alloc(3 * MIB, 1), { fin: false }), cont(Buffer.alloc(3 * MIB, 1), false)]),
  step([{ opcode: 0, payload: '', length: 3 * MIB, fin: true }], { failHere: true }),
], fail(1009));
add('10.1.3', 'limits', 'a 64-bit length with the most significant bit set (1002)', [step([noPayloadHeader(2 ** 63)])], fail(1002));
add('10.1.4', 'limits', 'a text frame announcing 1 GiB (1009)', [step([noPayloadHeader(1024 * MIB, 1)], { failHere: true })], fail(1009));
add('10.2.1', 'limits', 'a frame masked the wrong way for its direction (1002)', [step([{ opcode: 1, payload: 'Hello', wrongMask: true }])], fail(1002));
