/**
 * The Autobahn-style case table (test/cases.ts) on the wire, in both directions: our server against a raw client
 * peer (which masks), and our client against a raw server peer (which does not). The endpoint under test echoes
 * every message; peer faults go to its hook, never to the runtime's error handler, and one server survives every
 * case. No network beyond 127.0.0.1.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, ErrnoError, SocketClosedError, WebSocketProtocolError, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { WebSocketServer, connect, type WebSocket } from '../src/index.js';
import { CASES, LIMITS, type Expected, type Step, type WsCase } from './cases.js';
import { RawPeer, closeOf, closePayload, encodeFrame, rawClient, rawServer, sleep, type Received } from './peer.js';

const OPTIONS = { ...LIMITS, closeTimeout: 1000 };

let rt: Runtime;
const runtimeErrors: unknown[] = [];

beforeAll(() => {
  rt = createRuntime({ backend: epoll(), onError: (error) => runtimeErrors.push(error) });
});

afterAll(async () => {
  await rt.close();
  // A peer fault never reaches the runtime's error handler: only bugs of the program would.
  expect(runtimeErrors).toEqual([]);
});

function echo(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

const label = (f: Expected | Received): string => `${f.opcode}:${f.payload.length <= 64 ? f.payload.toString('hex') : `${f.payload.length} bytes, sha ${f.payload.subarray(0, 8).toString('hex')}`}`;
const same = (a: readonly (Expected | Received)[], b: readonly Expected[]): void => {
  expect(a.map(label)).toEqual(b.map(label));
  for (let i = 0; i < a.length; i++) expect((a[i] as Received).payload.equals((b[i] as Expected).payload)).toBe(true);
};

async function sendStep(peer: RawPeer, s: Step): Promise<void> {
  if (s.payloadCuts !== undefined) {
    const frame = s.frames[0];
    if (frame === undefined) throw new Error('payloadCuts needs a frame');
    const bytes = encodeFrame(frame, peer.masks);
    const payloadLength = typeof frame.payload === 'string' ? Buffer.byteLength(frame.payload) : (frame.payload?.length ?? 0);
    const headerLength = bytes.length - payloadLength;
    const cuts = [0, ...s.payloadCuts.map((c) => headerLength + c), bytes.length];
    for (let k = 0; k + 1 < cuts.length; k++) {
      await peer.sendBytes(bytes.subarray(cuts[k], cuts[k + 1]));
      await sleep(30);
      if (s.failAtPiece === k) {
        expect(await peer.until(() => peer.closeFrame !== undefined, 2000), `failed fast after piece ${k}`).toBe(true);
      }
    }
    return;
  }
  if (s.frames.length > 0) await peer.send(s.frames, s.chop);
  if (s.bytes !== undefined) await peer.sendBytes(s.bytes);
  if (s.pause !== undefined) await sleep(s.pause);
  if (s.failHere === true) expect(await peer.until(() => peer.closeFrame !== undefined, 2000), 'failed fast').toBe(true);
}

/**
 * Play `kase` as `peer` against `ws` (the endpoint under test); `peerErrors` collects what the endpoint reported
 * to its hook. `serverUnderTest`: the endpoint is the server, so it must close TCP first after a close handshake.
 */
async function play(kase: WsCase, peer: RawPeer, ws: WebSocket, peerErrors: Error[], serverUnderTest: boolean): Promise<void> {
  for (const s of kase.steps) await sendStep(peer, s);
  const expectation = kase.expect;
  const data = (): Received[] => peer.frames.filter((f) => f.opcode !== 8);
  const finishTcp = async (): Promise<void> => {
    if (serverUnderTest) {
      // The server closes the TCP connection first (RFC 6455 §7.1.1).
      expect(await peer.until(() => peer.ended || peer.closed, 3000), 'the server ended TCP').toBe(true);
      peer.socket.end();
    } else {
      peer.socket.end();
    }
    expect(await peer.until(() => peer.closed, 3000), 'TCP closed').toBe(true);
  };
  if (expectation.kind === 'vanish') {
    if (expectation.reset) peer.socket.resetAndDestroy();
    else peer.socket.end();
    const info = await ws.whenClosed();
    expect(info.code).toBe(1006);
    expect(info.wasClean).toBe(false);
    expect(info.error instanceof SocketClosedError || info.error instanceof ErrnoError).toBe(true);
    expect(peerErrors).toContain(info.error);
    peer.destroy();
    return;
  }
  if (expectation.kind === 'echo') {
    expect(await peer.until(() => data().length >= expectation.frames.length, 10_000), `${expectation.frames.length} frames back`).toBe(true);
    await peer.send([{ opcode: 8, payload: closePayload(1000, 'done') }]);
    expect(await peer.until(() => peer.closeFrame !== undefined, 3000), 'a close frame back').toBe(true);
    same(data(), expectation.frames);
    expect(closeOf(peer.closeFrame as Received).code).toBe(1000);
    await finishTcp();
    const info = await ws.whenClosed();
    expect(info).toMatchObject({ code: 1000, reason: 'done', wasClean: true, error: undefined });
    expect(peerErrors).toEqual([]);
    return;
  }
  expect(await peer.until(() => peer.closeFrame !== undefined, 5000), 'a close frame').toBe(true);
  const closeIndex = peer.frames.findIndex((f) => f.opcode === 8);
  same(peer.frames.slice(0, closeIndex), expectation.before ?? []);
  expect(closeOf(peer.frames[closeIndex] as Received).code).toBe(expectation.code);
  if (expectation.kind === 'close') {
    // The answer to our close frame: nothing else may follow it.
    await finishTcp();
    expect(peer.frames.length).toBe(closeIndex + 1);
    const info = await ws.whenClosed();
    expect(info.wasClean).toBe(true);
    expect(peerErrors).toEqual([]);
    return;
  }
  // A failed connection: the endpoint closes TCP without waiting for our close frame.
  expect(await peer.until(() => peer.ended || peer.closed, 3000), 'the endpoint ended TCP').toBe(true);
  peer.socket.end();
  const info = await ws.whenClosed();
  expect(info.code).toBe(expectation.code);
  expect(info.error).toBeInstanceOf(WebSocketProtocolError);
  expect((info.error as WebSocketProtocolError).closeCode).toBe(expectation.code);
  expect(peerErrors).toEqual([info.error]);
  peer.destroy();
}

const byCategory = new Map<string, WsCase[]>();
for (const c of CASES) byCategory.set(c.category, [...(byCategory.get(c.category) ?? []), c]);

describe('Autobahn-style cases: our server, a raw client peer', () => {
  let wss: WebSocketServer;
  const connections = new Map<number, WebSocket>();
  const errors = new Map<WebSocket, Error[]>();
  beforeAll(() => {
    wss = new WebSocketServer(
      rt,
      {
        port: 0,
        ...OPTIONS,
        onClientError: (error, { ws }) => {
          if (ws !== undefined) errors.get(ws)?.push(error);
        },
      },
      (ws) => {
        errors.set(ws, []);
        connections.set(ws.remoteAddress()?.port ?? 0, ws);
        echo(ws);
      },
    );
  });
  afterAll(async () => {
    await wss.close();
  });

  for (const [category, cases] of byCategory) {
    describe(category, () => {
      for (const kase of cases) {
        it(`${kase.id} ${kase.title}`, async () => {
          const peer = await rawClient(wss.port);
          const port = peer.socket.localPort ?? 0;
          await new Promise<void>((r) => setImmediate(r));
          const ws = connections.get(port);
          if (ws === undefined) throw new Error('no server-side connection');
          await play(kase, peer, ws, errors.get(ws) ?? [], true);
          connections.delete(port);
        });
      }
    });
  }

  it('the server survived every case and still serves', async () => {
    const peer = await rawClient(wss.port);
    await peer.send([{ opcode: 1, payload: 'still alive' }]);
    expect(await peer.until(() => peer.frames.length > 0)).toBe(true);
    expect(peer.frames[0]?.payload.toString()).toBe('still alive');
    peer.destroy();
  });
});

describe('Autobahn-style cases: our client, a raw server peer', () => {
  let server: Awaited<ReturnType<typeof rawServer>>;
  let nextPeer: ((peer: RawPeer) => void) | undefined;
  beforeAll(async () => {
    server = await rawServer((peer) => nextPeer?.(peer));
  });
  afterAll(async () => {
    await server.close();
  });

  for (const [category, cases] of byCategory) {
    describe(category, () => {
      for (const kase of cases) {
        it(`${kase.id} ${kase.title}`, async () => {
          const peerReady = new Promise<RawPeer>((resolve) => (nextPeer = resolve));
          const errors: Error[] = [];
          const ws = await connect(rt, `ws://127.0.0.1:${server.port}/`, { ...OPTIONS, onPeerError: (error) => errors.push(error) });
          echo(ws);
          const peer = await peerReady;
          await play(kase, peer, ws, errors, false);
        });
      }
    });
  }
});
