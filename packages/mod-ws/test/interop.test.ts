/**
 * Against the npm `ws` package, both ways: our server with `ws` clients, and our client with a `ws` server.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WsClient, { WebSocketServer as WsServer, type RawData } from 'ws';
import { createRuntime, WebSocketHandshakeError, WebSocketProtocolError, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { WebSocketServer, connect, type WebSocket, type WebSocketServerOptions } from '../src/index.js';

let rt: Runtime;
const runtimeErrors: unknown[] = [];
const cleanup: (() => unknown)[] = [];

beforeEach(() => {
  rt = createRuntime({ backend: epoll(), onError: (error) => runtimeErrors.push(error) });
});

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await rt.close();
  expect(runtimeErrors.splice(0)).toEqual([]);
});

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** Our echo server (events style), its faults collected. */
function ourServer(options: WebSocketServerOptions = {}): { wss: WebSocketServer; url: string; faults: Error[] } {
  const faults: Error[] = [];
  const wss = new WebSocketServer(rt, { port: 0, onClientError: (e) => faults.push(e), ...options }, (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  cleanup.push(() => wss.close());
  return { wss, url: `ws://127.0.0.1:${wss.port}`, faults };
}

/** A `ws` client, open. */
async function wsClient(url: string, protocols?: string[], options: WsClient.ClientOptions = {}): Promise<WsClient> {
  const c = new WsClient(url, protocols, options);
  cleanup.push(() => c.terminate());
  await new Promise<void>((resolve, reject) => {
    c.once('open', resolve);
    c.once('error', reject);
  });
  return c;
}

/** Messages a `ws` client receives, as [text or hex-sha, isBinary]. */
function collect(c: WsClient): { got: [string, boolean][]; until: (n: number) => Promise<void> } {
  const got: [string, boolean][] = [];
  c.on('message', (data: RawData, isBinary: boolean) => {
    const b = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
    got.push([b.length > 64 ? `sha:${sha(b)}` : b.toString(isBinary ? 'hex' : 'utf8'), isBinary]);
  });
  const until = async (n: number): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (got.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${got.length} of ${n} messages`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { got, until };
}

function closeOf(c: WsClient): Promise<[number, string]> {
  return new Promise((resolve) => c.once('close', (code: number, reason: Buffer) => resolve([code, reason.toString()])));
}

describe('our server, ws clients', () => {
  it('echoes text, binary, empty and large messages in order', async () => {
    const { url } = ourServer();
    const c = await wsClient(url);
    const { got, until } = collect(c);
    const big = randomBytes(5 * 1024 * 1024);
    c.send('hello');
    c.send(Buffer.from([0, 1, 2, 255]));
    c.send('');
    c.send(Buffer.alloc(0));
    c.send('κόσμε 😀');
    c.send(big);
    c.send('x'.repeat(70_000));
    for (let i = 0; i < 1000; i++) c.send(`m${i}`);
    await until(1007);
    expect(got.slice(0, 7)).toEqual([
      ['hello', false],
      ['000102ff', true],
      ['', false],
      ['', true],
      ['κόσμε 😀', false],
      [`sha:${sha(big)}`, true],
      [`sha:${sha('x'.repeat(70_000))}`, false],
    ]);
    expect(got.slice(7).map((g) => g[0])).toEqual(Array.from({ length: 1000 }, (_, i) => `m${i}`));
  });

  it('answers pings, and its pings are answered; payloads are kept', async () => {
    let server: WebSocket | undefined;
    const { wss, url } = ourServer();
    wss.on('connection', (ws) => (server = ws));
    const c = await wsClient(url);
    const pong = new Promise<string>((r) => c.once('pong', (d: Buffer) => r(d.toString())));
    c.ping('from ws');
    expect(await pong).toBe('from ws');
    const ping = new Promise<string>((r) => c.once('ping', (d: Buffer) => r(d.toString())));
    const ourPong = new Promise<string>((r) => server?.once('pong', (d) => r(d.toString())));
    server?.ping('from fdloop');
    expect(await ping).toBe('from fdloop');
    expect(await ourPong).toBe('from fdloop');
  });

  it('closes both ways with codes and reasons', async () => {
    const opened: WebSocket[] = [];
    const { wss, url } = ourServer();
    wss.on('connection', (ws) => opened.push(ws));
    const a = await wsClient(url);
    const aClosed = closeOf(a);
    a.close(4000, 'client says bye');
    const [ours] = opened;
    expect(await ours?.whenClosed()).toEqual({ code: 4000, reason: 'client says bye', wasClean: true, error: undefined });
    expect((await aClosed)[0]).toBe(4000);
    const b = await wsClient(url);
    const bClosed = closeOf(b);
    opened[1]?.close(1001, 'restarting');
    expect(await bClosed).toEqual([1001, 'restarting']);
    expect(await opened[1]?.whenClosed()).toMatchObject({ code: 1001, wasClean: true });
    expect(wss.clients.size).toBe(0);
  });

  it('negotiates a subprotocol in its own order of preference', async () => {
    const { wss, url } = ourServer({ protocols: ['chat.v2', 'chat.v1'] });
    const seen = new Promise<string>((r) => wss.once('connection', (ws) => r(ws.protocol)));
    const c = await wsClient(url, ['chat.v1', 'chat.v2']);
    expect(c.protocol).toBe('chat.v2');
    expect(await seen).toBe('chat.v2');
    // Without a common subprotocol the server answers without one (RFC 6455 §4.2.2); npm ws, unlike browsers,
    // then fails the connection itself.
    const none = new WsClient(url, ['other']);
    const error = await new Promise<Error>((r) => none.once('error', r));
    expect(error.message).toBe('Server sent no subprotocol');
  });

  it('fails a message above maxMessageSize with 1009, reports it, and keeps serving others', async () => {
    const { url, faults } = ourServer({ maxMessageSize: 1024 * 1024 });
    const c = await wsClient(url);
    const closed = closeOf(c);
    c.send(Buffer.alloc(2 * 1024 * 1024));
    expect((await closed)[0]).toBe(1009);
    expect(faults).toHaveLength(1);
    expect(faults[0]).toBeInstanceOf(WebSocketProtocolError);
    expect((faults[0] as WebSocketProtocolError).closeCode).toBe(1009);
    const d = await wsClient(url);
    const { got, until } = collect(d);
    d.send('fine');
    await until(1);
    expect(got).toEqual([['fine', false]]);
  });

  it('refuses bad handshakes with an HTTP status the ws client reports', async () => {
    const { url, faults } = ourServer({ path: '/ws', verifyClient: (req) => req.header('authorization') === 'Bearer ok' || { status: 401, message: 'token needed', headers: { 'www-authenticate': 'Bearer' } } });
    const status = (u: string, options: WsClient.ClientOptions = {}): Promise<number> =>
      new Promise((resolve, reject) => {
        const c = new WsClient(u, options);
        c.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          c.terminate();
        });
        c.on('open', () => reject(new Error('opened')));
        c.on('error', () => undefined);
      });
    expect(await status(`${url}/ws`)).toBe(401);
    expect(await status(`${url}/elsewhere`, { headers: { authorization: 'Bearer ok' } })).toBe(404);
    const ok = await wsClient(`${url}/ws`, undefined, { headers: { authorization: 'Bearer ok' } });
    expect(ok.readyState).toBe(WsClient.OPEN);
    // A refusal by verifyClient is the program's decision, not a peer fault.
    expect(faults).toEqual([]);
  });

  it('fragments a message on request; ws reassembles it', async () => {
    const { wss, url } = ourServer();
    wss.on('connection', (ws) => {
      ws.send('part 1, ', { fin: false });
      ws.send('part 2, ', { fin: false });
      ws.send('part 3');
      ws.send(Buffer.from([1]), { fin: false });
      ws.send(Buffer.from([2]));
    });
    const c = new WsClient(url);
    cleanup.push(() => c.terminate());
    const { got, until } = collect(c);
    await until(2);
    expect(got).toEqual([
      ['part 1, part 2, part 3', false],
      ['0102', true],
    ]);
  });

  it('sending backpressure: send() turns false, drained() waits, nothing is lost (32 MiB to a slow ws client)', async () => {
    const total = 32;
    let maxBuffered = 0;
    let sawFalse = false;
    const { wss, url } = ourServer();
    const done = new Promise<void>((resolve) =>
      wss.on('connection', async (ws) => {
        const chunk = Buffer.alloc(1024 * 1024, 7);
        for (let i = 0; i < total; i++) {
          if (!ws.send(chunk)) {
            sawFalse = true;
            maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
            await ws.drained();
          }
        }
        resolve();
      }),
    );
    const c = new WsClient(url);
    cleanup.push(() => c.terminate());
    let received = 0;
    c.on('message', (d: Buffer) => {
      received += d.length;
      // A slow consumer: stop reading for a moment now and then.
      if (received % (8 * 1024 * 1024) === 0) {
        const raw = (c as unknown as { _socket: { pause(): void; resume(): void } })._socket;
        raw.pause();
        setTimeout(() => raw.resume(), 50);
      }
    });
    await done;
    while (received < total * 1024 * 1024) await new Promise((r) => setTimeout(r, 10));
    expect(received).toBe(total * 1024 * 1024);
    expect(sawFalse).toBe(true);
    // Never more than one message above the socket's high-water mark is queued.
    expect(maxBuffered).toBeLessThanOrEqual(64 * 1024 + 1024 * 1024 + 16);
  });

  it('receiving backpressure: a slow `for await` consumer pauses reading; every byte arrives in order', async () => {
    let paused = false;
    const { wss, url } = ourServer({ highWaterMark: 256 * 1024 });
    wss.removeAllListeners('connection');
    const hashes: string[] = [];
    const consumed = new Promise<void>((resolve) =>
      wss.on('connection', (ws) => {
        ws.removeAllListeners('message');
        void (async () => {
          for await (const msg of ws) {
            if (ws.isPaused) paused = true;
            hashes.push(sha(msg as Buffer));
            if (hashes.length % 16 === 0) await new Promise((r) => setTimeout(r, 20));
            if (hashes.length === 128) resolve();
          }
        })();
      }),
    );
    // The server's echo handler was set in ourServer(); replace it: this one only consumes.
    const c = await wsClient(url);
    const sent: string[] = [];
    for (let i = 0; i < 128; i++) {
      const m = randomBytes(64 * 1024);
      sent.push(sha(m));
      c.send(m);
    }
    await consumed;
    expect(hashes).toEqual(sent);
    expect(paused).toBe(true);
  });
});

describe('our client, a ws server', () => {
  async function wsServer(options: WsClient.ServerOptions = {}, onConnection?: (c: WsClient) => void): Promise<{ server: WsServer; url: string }> {
    const server = new WsServer({ port: 0, host: '127.0.0.1', ...options });
    await new Promise<void>((r) => server.once('listening', r));
    server.on('connection', (c) => {
      // npm ws emits 'error' for a peer's protocol violation and, without a listener, that throws.
      c.on('error', () => undefined);
      if (onConnection !== undefined) onConnection(c);
      else c.on('message', (d: RawData, isBinary: boolean) => c.send(d as Buffer, { binary: isBinary }));
    });
    cleanup.push(
      () =>
        new Promise<void>((r) => {
          for (const c of server.clients) c.terminate();
          server.close(() => r());
        }),
    );
    return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  it('echo: text as strings, binary as Buffers, large ones intact, in order (async iteration)', async () => {
    const { url } = await wsServer();
    const ws = await connect(rt, `${url}/echo?x=1`);
    expect(ws.url).toBe(`${url}/echo?x=1`);
    const big = randomBytes(3 * 1024 * 1024);
    ws.send('hello');
    ws.send(Buffer.from([9, 8, 7]));
    ws.send(big);
    ws.send('');
    const got: (string | Buffer)[] = [];
    for await (const m of ws) {
      got.push(m);
      if (got.length === 4) ws.close(1000, 'thanks');
    }
    expect(got[0]).toBe('hello');
    expect(got[1]).toEqual(Buffer.from([9, 8, 7]));
    expect(sha(got[2] as Buffer)).toBe(sha(big));
    expect(got[3]).toBe('');
    expect(await ws.whenClosed()).toEqual({ code: 1000, reason: 'thanks', wasClean: true, error: undefined });
  });

  it('pings and pongs both ways', async () => {
    let peer: WsClient | undefined;
    const { url } = await wsServer({}, (c) => (peer = c));
    const ws = await connect(rt, url);
    const pong = new Promise<string>((r) => ws.once('pong', (d) => r(d.toString())));
    ws.ping('are you there');
    expect(await pong).toBe('are you there');
    const ping = new Promise<string>((r) => ws.once('ping', (d) => r(d.toString())));
    const theirPong = new Promise<string>((r) => peer?.once('pong', (d: Buffer) => r(d.toString())));
    peer?.ping('and you?');
    expect(await ping).toBe('and you?');
    expect(await theirPong).toBe('and you?');
    ws.close();
    expect((await ws.whenClosed()).code).toBe(1005);
  });

  it('a close from the ws server: code and reason arrive; the server closes TCP first', async () => {
    const { url } = await wsServer({}, (c) => setTimeout(() => c.close(4321, 'server bye'), 10));
    const ws = await connect(rt, url);
    expect(await ws.whenClosed()).toEqual({ code: 4321, reason: 'server bye', wasClean: true, error: undefined });
  });

  it('subprotocols: the server picks one of ours', async () => {
    const { url } = await wsServer({ handleProtocols: (offered) => (offered.has('b') ? 'b' : false) });
    const ws = await connect(rt, url, { protocols: ['a', 'b'] });
    expect(ws.protocol).toBe('b');
    ws.close(1000);
    await ws.whenClosed();
  });

  it('limits both ways: ws refuses our too-big message with 1009, we refuse its with 1009', async () => {
    const { url } = await wsServer({ maxPayload: 1024 * 1024 });
    const ws = await connect(rt, url);
    ws.send(Buffer.alloc(2 * 1024 * 1024));
    expect((await ws.whenClosed()).code).toBe(1009);

    let theirClose: Promise<number> | undefined;
    const { url: url2 } = await wsServer({}, (c) => {
      theirClose = new Promise((r) => c.once('close', (code: number) => r(code)));
      c.send(Buffer.alloc(2 * 1024 * 1024));
    });
    const faults: Error[] = [];
    const small = await connect(rt, url2, { maxMessageSize: 1024 * 1024, onPeerError: (e) => faults.push(e) });
    const info = await small.whenClosed();
    expect(info.code).toBe(1009);
    expect(info.error).toBeInstanceOf(WebSocketProtocolError);
    expect(faults).toEqual([info.error]);
    expect(await theirClose).toBe(1009);
  });

  it('a refused handshake rejects with its status; a ws server that vanishes mid-message is a 1006, not a crash', async () => {
    const { url } = await wsServer({ verifyClient: (_info, cb) => cb(false, 401, 'no') });
    const error = await connect(rt, url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketHandshakeError);
    expect((error as WebSocketHandshakeError).status).toBe(401);

    const { url: url2 } = await wsServer({}, (c) => {
      // Half a frame, then the TCP connection dies.
      const raw = (c as unknown as { _socket: import('node:net').Socket })._socket;
      raw.write(Buffer.from([0x82, 0x7e, 0x10, 0x00, 1, 2, 3]));
      setTimeout(() => raw.destroy(), 20);
    });
    const faults: Error[] = [];
    const ws = await connect(rt, url2, { onPeerError: (e) => faults.push(e) });
    const messages: unknown[] = [];
    for await (const m of ws) messages.push(m);
    const info = await ws.whenClosed();
    expect(messages).toEqual([]);
    expect(info.code).toBe(1006);
    expect(info.error?.message).toContain('middle of a frame');
    expect(faults).toEqual([info.error]);
    expect(ws.send('after close')).toBe(false);
  });
});
