import * as http from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket as NodeSocket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, HttpParseError, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import type { Socket } from '@fdloop/mod-net';
import { HttpClient, createServer, type HttpServer, type ServerRequest } from '../src/index.js';

let rt: Runtime | undefined;
let nodeServer: http.Server | undefined;
const nodeSockets = new Set<NodeSocket>();
const errors: unknown[] = [];

function runtime(): Runtime {
  rt = createRuntime({ backend: epoll(), onError: (error) => errors.push(error) });
  return rt;
}

afterEach(async () => {
  errors.length = 0;
  await rt?.close();
  rt = undefined;
  if (nodeServer !== undefined) {
    // Upgraded sockets are not the server's any more: closeAllConnections() leaves them.
    for (const s of nodeSockets) s.destroy();
    nodeSockets.clear();
    nodeServer.closeAllConnections();
    await new Promise((r) => nodeServer?.close(r));
    nodeServer = undefined;
  }
});

/** A raw TCP client: everything it receives, as text. */
async function rawClient(port: number): Promise<{ socket: NodeSocket; received: () => string; until: (text: string) => Promise<void> }> {
  const socket = netConnect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let data = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  socket.on('error', () => undefined);
  const until = async (text: string): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!data.includes(text)) {
      if (Date.now() > deadline) throw new Error(`did not receive ${JSON.stringify(text)}; got ${JSON.stringify(data)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  };
  return { socket, received: () => data, until };
}

const UPGRADE = 'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n';

/** An upgrade handler that switches to a line echo protocol: `head` first, then whatever arrives. */
function echoUpgrade(seen: { req?: ServerRequest; head?: string }) {
  return (req: ServerRequest, socket: Socket, head: Buffer): void => {
    seen.req = req;
    seen.head = head.toString();
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
    if (head.length > 0) socket.write(Buffer.concat([Buffer.from('echo:'), head]));
    socket.handle({ data: (chunk) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk])), end: () => socket.end() });
  };
}

describe('server upgrade', () => {
  it('hands the socket and the bytes after the head to the upgrade handler', async () => {
    const seen: { req?: ServerRequest; head?: string } = {};
    let server: HttpServer | undefined;
    server = createServer(runtime(), { upgrade: echoUpgrade(seen) }, (_req, res) => res.end('plain'));
    const c = await rawClient(server.port);
    c.socket.write(`${UPGRADE}FIRST`);
    await c.until('echo:FIRST');
    expect(c.received().startsWith('HTTP/1.1 101 Switching Protocols\r\n')).toBe(true);
    expect(seen.req?.url).toBe('/chat');
    expect(seen.req?.header('upgrade')).toBe('echo');
    expect(seen.head).toBe('FIRST');
    // The connection is no longer the HTTP server's: bytes that look like HTTP are the new protocol's.
    c.socket.write('GET / HTTP/1.1\r\n\r\n');
    await c.until('echo:GET / HTTP/1.1');
    expect(server.connectionCount).toBe(0);
    expect(server.requestCount).toBe(1);
    c.socket.destroy();
    server = undefined;
  });

  it('answers pipelined requests before the upgrade, then hands over', async () => {
    const seen: { req?: ServerRequest; head?: string } = {};
    const server = createServer(runtime(), { upgrade: echoUpgrade(seen) }, (req, res) => {
      // The first response takes a while: the upgrade must wait for it.
      rt?.setTimeout(() => res.end(`answer ${req.url}`), 30);
    });
    const c = await rawClient(server.port);
    c.socket.write(`GET /before HTTP/1.1\r\nHost: x\r\n\r\n${UPGRADE}AFTER`);
    await c.until('echo:AFTER');
    const text = c.received();
    expect(text.indexOf('answer /before')).toBeGreaterThan(0);
    expect(text.indexOf('answer /before')).toBeLessThan(text.indexOf('HTTP/1.1 101'));
    expect(seen.head).toBe('AFTER');
    c.socket.destroy();
  });

  it('serves upgrade requests as normal requests when shouldUpgrade says no, without a handler, with a body or in HTTP/1.0', async () => {
    const seen: { req?: ServerRequest; head?: string } = {};
    const server = createServer(
      runtime(),
      { upgrade: echoUpgrade(seen), shouldUpgrade: (req) => req.header('upgrade') === 'echo' },
      (req, res) => res.end(`plain ${req.method} ${req.url}`),
    );
    const plain = createServer(runtime(), {}, (req, res) => res.end(`plain ${req.url}`));
    const ask = async (port: number, request: string): Promise<string> => {
      const c = await rawClient(port);
      c.socket.write(request);
      await c.until('plain');
      c.socket.destroy();
      return c.received();
    };
    expect(await ask(server.port, 'GET /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n')).toContain('plain GET /h2c');
    expect(await ask(plain.port, UPGRADE)).toContain('plain /chat');
    expect(await ask(server.port, 'POST /body HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\nContent-Length: 2\r\n\r\nhi')).toContain('plain POST /body');
    expect(await ask(server.port, 'GET /old HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n')).toContain('plain GET /old');
    expect(seen.req).toBeUndefined();
  });

  it("a throwing upgrade handler closes that socket, goes to onError, and the server keeps serving", async () => {
    const server = createServer(
      runtime(),
      {
        upgrade: () => {
          throw new Error('handler bug');
        },
      },
      (_req, res) => res.end('still here'),
    );
    const c = await rawClient(server.port);
    const closed = new Promise((r) => c.socket.once('close', r));
    c.socket.write(UPGRADE);
    await closed;
    await new Promise((r) => setTimeout(r, 20));
    expect(errors.map((e) => (e as Error).message)).toEqual(['handler bug']);
    const res = await fetch(`http://127.0.0.1:${server.port}/`);
    expect(await res.text()).toBe('still here');
  });

  it('node:http as the client: the upgrade event gets our 101 and the socket', async () => {
    const server = createServer(runtime(), { upgrade: echoUpgrade({}) }, (_req, res) => res.end('plain'));
    const req = http.request({ port: server.port, host: '127.0.0.1', path: '/chat', headers: { Connection: 'Upgrade', Upgrade: 'echo' } });
    const [res, socket, head] = await new Promise<[http.IncomingMessage, NodeSocket, Buffer]>((resolve, reject) => {
      req.on('upgrade', (r, s, h) => resolve([r, s as NodeSocket, h]));
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(101);
    expect(head.length).toBe(0);
    socket.write('ping');
    const got = await new Promise<string>((r) => socket.once('data', (d: Buffer) => r(d.toString())));
    expect(got).toBe('echo:ping');
    socket.destroy();
    // Graceful close does not wait for the upgraded connection: it is not the server's any more.
    await server.close();
  });
});

describe('client upgrade', () => {
  async function upgradingServer(onUpgrade: (req: http.IncomingMessage, socket: NodeSocket, head: Buffer) => void): Promise<string> {
    nodeServer = http.createServer((_req, res) => res.end('no upgrade here'));
    nodeServer.on('upgrade', onUpgrade);
    nodeServer.on('connection', (s: NodeSocket) => nodeSockets.add(s));
    await new Promise<void>((r) => nodeServer?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(nodeServer.address() as AddressInfo).port}`;
  }

  it('resolves with the 101, the socket and the bytes that came with the head; the socket leaves the pool', async () => {
    const base = await upgradingServer((req, socket) => {
      expect(req.headers.connection).toBe('Upgrade');
      expect(req.headers.upgrade).toBe('echo');
      expect(req.headers['x-token']).toBe('t');
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nWELCOME');
      socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    });
    const client = new HttpClient(runtime());
    const result = await client.upgrade(`${base}/chat`, { protocol: 'echo', headers: { 'x-token': 't', connection: 'keep-alive' } });
    expect(result.upgraded).toBe(true);
    if (!result.upgraded) return;
    expect(result.response.status).toBe(101);
    expect(result.response.header('upgrade')).toBe('echo');
    expect(client.connectionCount).toBe(0);
    let text = result.head.toString();
    const socket = result.socket;
    const more = new Promise<void>((resolve) => {
      socket.handle({
        data: (chunk) => {
          text += chunk.toString();
          if (text.includes('echo:hi')) resolve();
        },
      });
    });
    socket.write('hi');
    await more;
    expect(text).toBe('WELCOMEecho:hi');
    socket.close();
    client.close();
  });

  it('resolves with the response when the server does not switch', async () => {
    const base = await upgradingServer(() => undefined);
    nodeServer?.removeAllListeners('upgrade'); // node:http then answers upgrade requests with its request handler
    const client = new HttpClient(runtime());
    const result = await client.upgrade(`${base}/`, { protocol: 'echo' });
    expect(result.upgraded).toBe(false);
    expect(result.response.status).toBe(200);
    expect(await result.response.text()).toBe('no upgrade here');
    client.close();
  });

  it('refuses a 101 it did not ask for', async () => {
    const base = await upgradingServer(() => undefined);
    nodeServer?.removeAllListeners('request');
    nodeServer?.on('request', (req: http.IncomingMessage) => {
      req.socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: surprise\r\n\r\n');
    });
    const client = new HttpClient(runtime());
    await expect(client.get(`${base}/`)).rejects.toBeInstanceOf(HttpParseError);
    client.close();
  });
});
