import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, ErrnoError, HttpParseError, InvalidArgumentError, TimeoutError, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { HttpClient } from '../src/index.js';

let rt: Runtime;
let client: HttpClient;
let server: http.Server;
let base: string;
const connections = new Set<unknown>();

/** A node:http server as the peer. */
async function nodeServer(handler: http.RequestListener): Promise<void> {
  server = http.createServer(handler);
  server.on('connection', (s) => connections.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeEach(() => {
  rt = createRuntime({ backend: epoll() });
  client = new HttpClient(rt);
  connections.clear();
});

afterEach(async () => {
  client.close();
  await rt.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('our client against node:http', () => {
  it('GETs text, JSON and bytes over one keep-alive connection', async () => {
    await nodeServer((req, res) => {
      if (req.url === '/json') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: true }));
      } else res.end(`hello ${req.url}`);
    });
    const a = await client.get(`${base}/a`);
    expect(a.status).toBe(200);
    expect(a.ok).toBe(true);
    expect(await a.text()).toBe('hello /a');
    const b = await client.get(`${base}/json`);
    expect(b.header('Content-Type')).toBe('application/json');
    expect(await b.json()).toEqual({ ok: true });
    const c = await client.get(`${base}/c`);
    expect((await c.bytes()).toString()).toBe('hello /c');
    expect(connections.size).toBe(1);
    expect(client.connectionCount).toBe(1);
  });

  it('keeps at most maxSocketsPerOrigin connections and queues the rest', async () => {
    await nodeServer((_req, res) => setTimeout(() => res.end('x'), 5));
    const limited = new HttpClient(rt, { maxSocketsPerOrigin: 2 });
    const all = await Promise.all(Array.from({ length: 10 }, () => limited.get(`${base}/`).then((r) => r.text())));
    expect(all).toEqual(Array(10).fill('x'));
    expect(connections.size).toBe(2);
    limited.close();
  });

  it('streams a chunked request body and a chunked response body (checksums)', async () => {
    await nodeServer((req, res) => {
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (d: Buffer) => {
        hash.update(d);
        n += d.length;
      });
      req.on('end', () => {
        res.setHeader('x-te', String(req.headers['transfer-encoding']));
        res.write(`${n}:`);
        res.write(hash.digest('hex'));
        res.end();
      });
    });
    const payload = Buffer.alloc(5 * 1024 * 1024, 7);
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < payload.length; i += 64 * 1024) yield payload.subarray(i, i + 64 * 1024);
    }
    const res = await client.request(`${base}/up`, { method: 'POST', body: pieces() });
    expect(res.header('x-te')).toBe('chunked');
    expect(res.header('transfer-encoding')).toBe('chunked');
    const parts: Buffer[] = [];
    for await (const chunk of res.body) parts.push(chunk);
    expect(Buffer.concat(parts).toString()).toBe(`${payload.length}:${createHash('sha256').update(payload).digest('hex')}`);
  });

  it('downloads 32 MiB as a stream with a matching checksum', async () => {
    const block = Buffer.alloc(1024 * 1024);
    await nodeServer(async (_req, res) => {
      res.setHeader('content-length', 32 * block.length);
      for (let i = 0; i < 32; i++) {
        if (!res.write(Buffer.from(block.fill(i)))) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    });
    const res = await client.get(`${base}/big`);
    const hash = createHash('sha256');
    let n = 0;
    for await (const chunk of res.body) {
      hash.update(chunk);
      n += chunk.length;
    }
    const expected = createHash('sha256');
    for (let i = 0; i < 32; i++) expected.update(Buffer.alloc(block.length, i));
    expect(n).toBe(32 * block.length);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
  });

  it('follows redirects only when asked', async () => {
    await nodeServer((req, res) => {
      if (req.url === '/old') {
        res.statusCode = 302;
        res.setHeader('location', '/new');
        res.end('moved');
      } else if (req.url === '/loop') {
        res.statusCode = 307;
        res.setHeader('location', '/loop');
        res.end();
      } else res.end(`at ${req.url} via ${req.method}`);
    });
    const manual = await client.get(`${base}/old`);
    expect(manual.status).toBe(302);
    expect(manual.header('location')).toBe('/new');
    await manual.text();
    const followed = await client.request(`${base}/old`, { method: 'POST', body: 'x', redirect: 'follow' });
    expect(followed.status).toBe(200);
    expect(followed.redirected).toBe(true);
    expect(followed.url).toBe(`${base}/new`);
    expect(await followed.text()).toBe('at /new via GET');
    await expect(client.get(`${base}/loop`, { redirect: 'follow', maxRedirects: 3 })).rejects.toThrow(/too many redirects/);
  });

  it('times out waiting for a response head, and aborts with a signal', async () => {
    await nodeServer(() => {
      /* never answers */
    });
    const error = await client.get(`${base}/`, { timeout: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const pending = client.get(`${base}/`, { signal: controller.signal, timeout: 0 });
    setTimeout(() => controller.abort(new Error('user abort')), 20);
    await expect(pending).rejects.toThrow('user abort');
    const pre = new AbortController();
    pre.abort(new Error('early'));
    await expect(client.get(`${base}/`, { signal: pre.signal })).rejects.toThrow('early');
  });

  it('fails the body when aborted mid-stream', async () => {
    await nodeServer((_req, res) => {
      res.write('first');
    });
    const controller = new AbortController();
    const res = await client.get(`${base}/`, { signal: controller.signal });
    expect(String(await res.body.read())).toBe('first');
    controller.abort(new Error('stop reading'));
    await expect(res.text()).rejects.toThrow('stop reading');
  });

  it('retries once on a pooled connection the server closed meanwhile', async () => {
    await nodeServer((_req, res) => res.end('ok'));
    const first = await client.get(`${base}/`);
    await first.text();
    server.closeAllConnections(); // the pooled connection dies while idle
    await rt.sleep(20);
    const second = await client.get(`${base}/`);
    expect(await second.text()).toBe('ok');
  });

  it('reports connection errors, bad URLs and malformed responses with typed errors', async () => {
    await nodeServer((_req, res) => res.end());
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r));
    await expect(client.get(`http://127.0.0.1:${port}/`)).rejects.toSatisfy((e: unknown) => e instanceof ErrnoError && e.code === 'ECONNREFUSED');
    await expect(client.get('https://127.0.0.1/')).rejects.toBeInstanceOf(InvalidArgumentError);
    // A peer that answers garbage.
    const net = await import('node:net');
    // resume(): a paused node socket would never read our end of stream and never close.
    const bad = net.createServer((s) => s.resume().end('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'));
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    await expect(client.get(`http://127.0.0.1:${(bad.address() as AddressInfo).port}/`)).rejects.toBeInstanceOf(HttpParseError);
    await new Promise((r) => bad.close(r));
    server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
});
