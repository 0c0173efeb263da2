import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as nodeNet from 'node:net';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { createServer, type HttpServer, type RequestHandler, type ServerOptions } from '../src/index.js';
import { CASE_LIMITS, LIMIT_CASES, REFUSED, VALID } from './cases.js';

const run = promisify(execFile);

let rt: Runtime;
let errors: unknown[];

beforeEach(() => {
  errors = [];
  rt = createRuntime({ backend: epoll(), onError: (e) => errors.push(e) });
});

afterEach(async () => {
  await rt.close();
});

function serve(handler: RequestHandler, options: ServerOptions = {}): HttpServer {
  return createServer(rt, { port: 0, ...options }, handler);
}

const hello: RequestHandler = (req, res) => {
  if (req.path === '/json') res.json({ method: req.method, url: req.url });
  else res.end('Hello World');
};

/** Send raw bytes on a fresh connection and read until the server closes (or `until` matches). */
function raw(port: number, data: string | Buffer, until?: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = nodeNet.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ text, closed });
    };
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (until?.(text)) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (e) => (done ? undefined : reject(e)));
    socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  });
}

function nodeRequest(options: http.RequestOptions, body?: Buffer | string | Buffer[]): Promise<{ res: http.IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', ...options }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ res, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Array.isArray(body)) for (const b of body) req.write(b);
    else if (body !== undefined) req.write(body);
    req.end();
  });
}

describe('interop: real clients against our server', () => {
  it('curl: GET, POST and keep-alive reuse of one connection', async () => {
    const server = serve(async (req, res) => {
      if (req.method === 'POST') res.send(`got ${await req.text()}`);
      else hello(req, res);
    });
    const url = `http://127.0.0.1:${server.port}/`;
    const { stdout, stderr } = await run('curl', ['-sv', url, `${url}json`]);
    expect(stdout).toBe('Hello World{"method":"GET","url":"/json"}');
    expect(stderr).toMatch(/Re-using existing connection|Reusing existing connection/);
    const post = await run('curl', ['-s', '-d', 'abc', url]);
    expect(post.stdout).toBe('got abc');
    const chunked = await run('curl', ['-s', '-H', 'Transfer-Encoding: chunked', '--data-binary', 'chunky', url]);
    expect(chunked.stdout).toBe('got chunky');
    await server.close();
  });

  it("node:http's client: keep-alive agent, JSON, chunked upload", async () => {
    const server = serve(async (req, res) => {
      if (req.method === 'POST') res.json({ len: (await req.bytes()).length, te: req.header('transfer-encoding') ?? null });
      else hello(req, res);
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const a = await nodeRequest({ port: server.port, path: '/json', agent });
    expect(a.res.statusCode).toBe(200);
    expect(JSON.parse(a.body.toString())).toEqual({ method: 'GET', url: '/json' });
    const b = await nodeRequest({ port: server.port, path: '/', agent });
    expect(b.body.toString()).toBe('Hello World');
    expect(a.res.socket).toBe(b.res.socket); // the same connection was reused
    const c = await nodeRequest({ port: server.port, method: 'POST', agent }, [Buffer.alloc(1000), Buffer.alloc(2000)]);
    expect(JSON.parse(c.body.toString())).toEqual({ len: 3000, te: 'chunked' });
    agent.destroy();
    await server.close();
  });

  it('undici (the npm package): request() over a keep-alive pool, streaming both ways', async () => {
    const { Pool } = await import('undici');
    const server = serve(async (req, res) => {
      if (req.method === 'POST') {
        const hash = createHash('sha256');
        for await (const chunk of req.body) hash.update(chunk);
        res.header('content-type', 'text/plain').end(hash.digest('hex'));
      } else hello(req, res);
    });
    const pool = new Pool(`http://127.0.0.1:${server.port}`, { connections: 2, pipelining: 4 });
    const gets = await Promise.all(Array.from({ length: 20 }, () => pool.request({ path: '/json', method: 'GET' }).then((r) => r.body.json())));
    expect(gets.every((g) => JSON.stringify(g) === '{"method":"GET","url":"/json"}')).toBe(true);
    const payload = Buffer.alloc(3 * 1024 * 1024, 9);
    async function* body(): AsyncGenerator<Buffer> {
      for (let i = 0; i < payload.length; i += 256 * 1024) yield payload.subarray(i, i + 256 * 1024);
    }
    const { Readable } = await import('node:stream');
    const up = await pool.request({ path: '/', method: 'POST', body: Readable.from(body()) });
    expect(await up.body.text()).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(server.connectionCount).toBeLessThanOrEqual(2);
    await pool.close();
    await server.close();
  });

  it("undici (Node's fetch) against our server", async () => {
    const server = serve(async (req, res) => {
      if (req.method === 'PUT') res.json(await req.json());
      else hello(req, res);
    });
    const base = `http://127.0.0.1:${server.port}`;
    const get = await fetch(`${base}/`);
    expect(await get.text()).toBe('Hello World');
    const put = await fetch(`${base}/x`, { method: 'PUT', body: JSON.stringify({ a: [1, 2] }), headers: { 'content-type': 'application/json' } });
    expect(await put.json()).toEqual({ a: [1, 2] });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"s":'));
        c.enqueue(new TextEncoder().encode('1}'));
        c.close();
      },
    });
    const streamed = await fetch(`${base}/s`, { method: 'PUT', body: stream, duplex: 'half' } as RequestInit);
    expect(await streamed.json()).toEqual({ s: 1 });
    await server.close();
  });
});

describe('HTTP/1.1 features', () => {
  it('answers pipelined requests in order, even when an earlier handler finishes last', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const server = serve(async (req, res) => {
      if (req.path === '/slow') await gate;
      res.end(req.path);
    });
    const three = 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\nGET /c HTTP/1.1\r\nHost: a\r\n\r\n';
    const pending = raw(server.port, three, (t) => t.endsWith('/c'));
    setTimeout(release, 20);
    const { text } = await pending;
    const bodies = text.split('HTTP/1.1 200 OK').slice(1).map((r) => r.slice(r.indexOf('\r\n\r\n') + 4));
    expect(bodies).toEqual(['/slow', '/b', '/c']);
    await server.close();
  });

  it('streams a chunked response with trailers to node:http', async () => {
    const server = serve(async (_req, res) => {
      res.header('content-type', 'text/plain').header('trailer', 'x-count');
      for (let i = 0; i < 5; i++) {
        if (!res.write(`part${i};`)) await res.drained();
      }
      res.addTrailers({ 'x-count': '5' });
      res.end();
    });
    const { res, body } = await nodeRequest({ port: server.port, path: '/' });
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(body.toString()).toBe('part0;part1;part2;part3;part4;');
    expect(res.trailers).toEqual({ 'x-count': '5' });
    await server.close();
  });

  it('reads request trailers of a chunked upload', async () => {
    const server = serve(async (req, res) => {
      const text = await req.text();
      res.json({ text, trailers: req.trailers });
    });
    const { text } = await raw(server.port, 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 294\r\n\r\n');
    expect(text.slice(text.indexOf('{'))).toBe('{"text":"abc","trailers":["x-sum","294"]}');
    await server.close();
  });

  it('sends 100 Continue when the handler reads the body (node:http client)', async () => {
    const server = serve(async (req, res) => res.end(`read ${(await req.bytes()).length}`));
    const result = await new Promise<{ continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = http.request({ host: '127.0.0.1', port: server.port, method: 'PUT', headers: { expect: '100-continue', 'content-length': 5 } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ continued, body }));
      });
      req.on('continue', () => {
        continued = true;
        req.end('12345');
      });
      req.on('error', reject);
    });
    expect(result).toEqual({ continued: true, body: 'read 5' });
    await server.close();
  });

  it('does not send 100 Continue when the handler answers without reading', async () => {
    const server = serve((_req, res) => res.status(403).end('no'));
    const { text } = await raw(server.port, 'PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', (t) => t.endsWith('no'));
    expect(text.startsWith('HTTP/1.1 403 Forbidden')).toBe(true);
    expect(text).not.toContain('100 Continue');
    await server.close();
  });

  it('answers HEAD with headers only and the Content-Length of the GET', async () => {
    const server = serve(hello);
    const { text } = await raw(server.port, 'HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(text).toContain('Content-Length: 11\r\n');
    expect(text.endsWith('\r\n\r\n')).toBe(true);
    await server.close();
  });

  it('closes after Connection: close and after HTTP/1.0 without keep-alive', async () => {
    const server = serve(hello);
    const a = await raw(server.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(a.closed).toBe(true);
    expect(a.text.match(/HTTP\/1.1 200/g)?.length).toBe(1);
    expect(a.text).toContain('Connection: close\r\n');
    const b = await raw(server.port, 'GET / HTTP/1.0\r\n\r\n');
    expect(b.closed).toBe(true);
    const c = await raw(server.port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', (t) => t.endsWith('Hello World'));
    expect(c.text).toContain('Connection: keep-alive\r\n');
    expect(c.closed).toBe(false);
    await server.close();
  });

  it('answers a client that half-closes right after its requests (printf | nc style)', async () => {
    const server = serve(async (req, res) => {
      await rt.sleep(5); // the end of stream arrives while the handler still works
      res.end(req.path);
    });
    const text = await new Promise<string>((resolve, reject) => {
      const socket = nodeNet.connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
      let out = '';
      socket.on('data', (d) => (out += d.toString()));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
      socket.end('GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n');
    });
    expect(text.match(/HTTP\/1.1 200 OK/g)?.length).toBe(2);
    expect(text.endsWith('/two')).toBe(true);
    await server.close();
  });

  it('answers 500 for a throwing handler and keeps serving', async () => {
    const server = serve((req, res) => {
      if (req.path === '/boom') throw new Error('boom');
      hello(req, res);
    });
    const a = await raw(server.port, 'GET /boom HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(a.text.startsWith('HTTP/1.1 500 ')).toBe(true);
    await rt.sleep(5);
    expect(errors).toHaveLength(1);
    const b = await raw(server.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(b.text.endsWith('Hello World')).toBe(true);
    await server.close();
  });
});

describe('the response memo (a repeated text response is sent as the same bytes)', () => {
  /** Split a pipelined stream of responses (each with a Content-Length; `headless` ones carry no body). */
  function responses(text: string, headless: number): { head: string; body: string }[] {
    const out: { head: string; body: string }[] = [];
    let rest = text;
    while (rest.length > 0) {
      const end = rest.indexOf('\r\n\r\n');
      const head = rest.slice(0, end);
      const length = /content-length: (\d+)/i.exec(head);
      const n = length === null || out.length === headless ? 0 : Number(length[1]);
      out.push({ head, body: rest.slice(end + 4, end + 4 + n) });
      rest = rest.slice(end + 4 + n);
    }
    return out;
  }

  it('every input that shapes a response changes it: status, headers, body, method, version, Connection', async () => {
    const server = serve((req, res) => {
      if (req.path === '/teapot') res.status(418);
      if (req.path === '/header') res.header('x-extra', '1');
      res.header('content-type', 'text/plain');
      res.end(req.path === '/other' ? 'Other text' : 'Same text');
    });
    const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const { text, closed } = await raw(
      server.port,
      get('/') + get('/') + get('/header') + get('/') + get('/teapot') + get('/other') +
        'HEAD / HTTP/1.1\r\nHost: a\r\n\r\n' + get('/') + 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' +
        'GET / HTTP/1.0\r\n\r\n',
    );
    expect(closed).toBe(true); // the HTTP/1.0 request without keep-alive ends the connection
    const r = responses(text, 6);
    expect(r.map((x) => x.head.slice(0, 13))).toEqual([
      'HTTP/1.1 200 ', 'HTTP/1.1 200 ', 'HTTP/1.1 200 ', 'HTTP/1.1 200 ', 'HTTP/1.1 418 ',
      'HTTP/1.1 200 ', 'HTTP/1.1 200 ', 'HTTP/1.1 200 ', 'HTTP/1.1 200 ', 'HTTP/1.1 200 ',
    ]);
    expect(r.map((x) => x.body)).toEqual(['Same text', 'Same text', 'Same text', 'Same text', 'Same text', 'Other text', '', 'Same text', 'Same text', 'Same text']);
    expect(r.map((x) => x.head.includes('\r\nx-extra: 1\r\n'))).toEqual([false, false, true, false, false, false, false, false, false, false]);
    expect(r[6]?.head).toMatch(/\r\nContent-Length: 9(\r\n|$)/); // HEAD: the length of the GET body, no body
    expect(r[1]?.head).not.toMatch(/Connection/i);
    expect(r[8]?.head).toMatch(/\r\nConnection: keep-alive(\r\n|$)/i); // HTTP/1.0 asking for keep-alive
    expect(r[9]?.head).toMatch(/\r\nConnection: close(\r\n|$)/i); // HTTP/1.0 without keep-alive: closed after
    for (const x of r) expect(x.head).toMatch(/\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
    await server.close();
  });

  it('the kept status line and header lines follow the reason phrase and a Connection header set by the handler', async () => {
    const server = serve((req, res) => {
      if (req.path === '/reason') res.statusMessage = 'Fine';
      if (req.path === '/bye') res.header('Connection', 'close');
      res.header('content-type', 'text/plain');
      res.end(`${req.path} ${Math.random()}`); // a new body every time: only the head part is reused
    });
    const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const { text, closed } = await raw(server.port, get('/') + get('/reason') + get('/') + get('/bye') + get('/never'));
    expect(closed).toBe(true);
    const lines = [...text.matchAll(/HTTP\/1\.1 \d{3} [^\r]*/g)].map((m) => m[0]);
    expect(lines).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 Fine', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    expect(text.match(/\r\nConnection: close\r\n/g)).toHaveLength(1);
    expect(text).not.toMatch(/never/);
    await server.close();
  });

  it('Date is the time of the response, also when it is finished outside a runtime tick (after a Node timer)', async () => {
    let endedAt = 0;
    const server = serve(async (req, res) => {
      if (req.path === '/late') {
        await new Promise((r) => setTimeout(r, 1100)); // a Node timer: the continuation runs outside any runtime tick
        endedAt = Date.now();
      }
      res.end('Same text');
    });
    const first = await raw(server.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.endsWith('Same text'));
    const late = await raw(server.port, 'GET /late HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.endsWith('Same text'));
    const date = (text: string): number => Date.parse(/\r\nDate: ([^\r]+)\r\n/.exec(text)?.[1] ?? '');
    expect(date(late.text)).toBeGreaterThanOrEqual(Math.floor(endedAt / 1000) * 1000);
    expect(date(late.text)).toBeGreaterThan(date(first.text)); // not the memoized bytes of a second ago
    await server.close();
  });

  it('a header value that differs (same names, same count) is never replayed from the memo', async () => {
    const server = serve((req, res) => {
      res.header('x-v', req.path.slice(1));
      res.end('Same text');
    });
    const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const { text } = await raw(server.port, get('/a') + get('/a') + get('/b') + get('/a') + 'GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect([...text.matchAll(/\r\nx-v: (\w)\r\n/g)].map((m) => m[1])).toEqual(['a', 'a', 'b', 'a', 'c']);
    await server.close();
  });

  it('a request with Connection: close gets its close even when the same text was just sent on keep-alive', async () => {
    const server = serve((_req, res) => res.end('Hello World'));
    const first = await raw(server.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', (t) => t.endsWith('Hello World'));
    expect(first.text).not.toMatch(/Connection: close/);
    const second = await raw(server.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(second.closed).toBe(true);
    expect(second.text).toMatch(/\r\nConnection: close\r\n/);
    expect(second.text.endsWith('Hello World')).toBe(true);
    await server.close();
  });
});

describe('interned methods and field names', () => {
  it('known names in any case arrive lower-cased, unknown ones too; methods keep their case', async () => {
    const seen: { method: string; headers: readonly string[] }[] = [];
    const server = serve((req, res) => {
      seen.push({ method: req.method, headers: req.rawHeaders });
      res.end('ok');
    });
    await raw(
      server.port,
      'GET / HTTP/1.1\r\nHOST: a\r\nContent-TYPE: text/x\r\nX-Custom-Thing: 1\r\nAccept-Encodinh: z\r\n\r\n' +
        'get / HTTP/1.1\r\nhost: a\r\n\r\nPROPFIND / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    expect(seen.map((s) => s.method)).toEqual(['GET', 'get', 'PROPFIND']);
    expect(seen[0]?.headers).toEqual(['host', 'a', 'content-type', 'text/x', 'x-custom-thing', '1', 'accept-encodinh', 'z']);
    expect(seen[2]?.headers).toEqual(['host', 'a', 'connection', 'close']);
    await server.close();
  });
});

describe('strictness: every malformed request is refused and the server keeps serving', () => {
  it(`answers ${REFUSED.length + LIMIT_CASES.length} malformed requests with the right status and a closed connection`, async () => {
    // The handler reads the body first, so errors inside bodies reach it before it answers.
    const server = serve(async (req, res) => {
      try {
        await req.bytes();
      } catch {
        return; // the server answers the malformed request itself
      }
      hello(req, res);
    }, CASE_LIMITS);
    const cases = [...REFUSED, ...LIMIT_CASES];
    expect(cases.length).toBeGreaterThanOrEqual(100);
    // A well-behaved keep-alive client stays connected through all of it.
    const good = nodeNet.connect(server.port, '127.0.0.1');
    const goodReplies: string[] = [];
    good.on('data', (d) => goodReplies.push(d.toString()));
    const failures: string[] = [];
    for (let i = 0; i < cases.length; i += 10) {
      const batch = cases.slice(i, i + 10);
      const results = await Promise.all(batch.map((c) => raw(server.port, c.raw)));
      batch.forEach((c, k) => {
        const r = results[k] as { text: string; closed: boolean };
        const status = Number(r.text.slice(9, 12));
        if (status !== c.status || !r.closed || !r.text.includes('Connection: close')) failures.push(`${c.name}: got ${status} closed=${r.closed}`);
      });
      good.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    }
    expect(failures).toEqual([]);
    for (const c of VALID) {
      const r = await raw(server.port, `${c.raw}`, (t) => /\r\n\r\n/.test(t) && (t.includes('Hello World') || t.startsWith('HTTP/1.1 200 OK') && c.raw.startsWith('HEAD')));
      expect(r.text.startsWith('HTTP/1.1 200 OK'), c.name).toBe(true);
    }
    while (goodReplies.join('').split('Hello World').length - 1 < Math.ceil(cases.length / 10)) await rt.sleep(5);
    good.destroy();
    await server.close();
  });

  it('answers the good requests before a malformed pipelined one, in order, then closes', async () => {
    const server = serve(async (req, res) => {
      if (req.path === '/slow') await rt.sleep(10);
      res.end(req.path);
    });
    const { text, closed } = await raw(server.port, 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n');
    expect(closed).toBe(true);
    const statuses = [...text.matchAll(/HTTP\/1.1 (\d+)/g)].map((m) => m[1]);
    expect(statuses).toEqual(['200', '200', '400']);
    expect(text.indexOf('/slow')).toBeLessThan(text.indexOf('/fast'));
    await server.close();
  });

  it('does not let a smuggled request through (CL.TE)', async () => {
    const seen: string[] = [];
    const server = serve((req, res) => {
      seen.push(req.path);
      res.end('ok');
    });
    const { text, closed } = await raw(server.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(text.startsWith('HTTP/1.1 400')).toBe(true);
    expect(closed).toBe(true);
    expect(seen).toEqual([]);
    await server.close();
  });
});

describe('limits and timeouts', () => {
  it('answers 408 and closes a slowloris connection that never finishes its head', async () => {
    const server = serve(hello, { headersTimeout: 150 });
    const socket = nodeNet.connect(server.port, '127.0.0.1');
    const reply = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
    });
    socket.write('GET / HTTP/1.1\r\nHost: a\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X-Drip: 1\r\n'), 20);
    const text = await reply;
    clearInterval(drip);
    expect(text.startsWith('HTTP/1.1 408 Request Timeout')).toBe(true);
    while (server.connectionCount > 0) await rt.sleep(5);
    await server.close();
  });

  it('closes idle keep-alive connections after keepAliveTimeout', async () => {
    const server = serve(hello, { keepAliveTimeout: 100 });
    const r = await raw(server.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(r.closed).toBe(true);
    expect(r.text.endsWith('Hello World')).toBe(true);
    await server.close();
  });

  it('refuses connections above maxConnections', async () => {
    const server = serve(hello, { maxConnections: 2 });
    const sockets = [0, 1].map(() => nodeNet.connect(server.port, '127.0.0.1'));
    await Promise.all(sockets.map((s) => new Promise((r) => s.once('connect', r))));
    while (server.connectionCount < 2) await rt.sleep(2);
    const third = await raw(server.port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(third).toEqual({ text: '', closed: true });
    for (const s of sockets) s.destroy();
    await server.close();
  });

  it('refuses a body above maxBodyBytes with 413 when it is read whole', async () => {
    const server = serve(async (req, res) => {
      try {
        await req.bytes(10);
        res.end('fine');
      } catch {
        res.status(413).header('connection', 'close').end('too big');
      }
    });
    const r = await raw(server.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n01234567890123456789');
    expect(r.text.startsWith('HTTP/1.1 413')).toBe(true);
    await server.close();
  });
});

describe('graceful close', () => {
  it('finishes requests in flight with Connection: close, refuses new connections, then resolves', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let started: () => void = () => {};
    const inHandler = new Promise<void>((r) => (started = r));
    const server = serve(async (_req, res) => {
      started();
      await gate;
      res.end('finished');
    });
    const port = server.port;
    const idle = nodeNet.connect(port, '127.0.0.1');
    const idleClosed = new Promise((r) => idle.on('close', r));
    await new Promise((r) => idle.once('connect', r));
    const inflight = raw(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await inHandler;
    const closing = server.close();
    await idleClosed;
    await expect(raw(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    release();
    const r = await inflight;
    expect(r.text).toContain('Connection: close\r\n');
    expect(r.text.endsWith('finished')).toBe(true);
    expect(r.closed).toBe(true);
    await closing;
    expect(server.connectionCount).toBe(0);
  });
});

describe('clients that go away', () => {
  it('survives a client that disconnects in the middle of a streamed response, and keeps serving', async () => {
    let finished: (destroyed: boolean) => void = () => {};
    const done = new Promise<boolean>((r) => (finished = r));
    const server = serve(async (req, res) => {
      if (req.path !== '/stream') return hello(req, res);
      const block = Buffer.alloc(64 * 1024, 1);
      for (let i = 0; i < 2000 && !res.destroyed; i++) if (!res.write(block)) await res.drained();
      res.end();
      finished(res.destroyed);
    });
    const socket = nodeNet.connect(server.port, '127.0.0.1');
    socket.write('GET /stream HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((r) => socket.once('data', r));
    socket.destroy();
    expect(await done).toBe(true);
    const r = await raw(server.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r.text.endsWith('Hello World')).toBe(true);
    expect(errors).toEqual([]);
    await server.close();
  });
});

describe('large bodies', () => {
  it('streams a 48 MiB upload and a 48 MiB download with matching checksums', async () => {
    const size = 48 * 1024 * 1024;
    const server = serve(
      async (req, res) => {
        if (req.method === 'POST') {
          const hash = createHash('sha256');
          let n = 0;
          for await (const chunk of req.body) {
            hash.update(chunk);
            n += chunk.length;
          }
          res.json({ n, sha256: hash.digest('hex') });
          return;
        }
        const block = Buffer.alloc(256 * 1024);
        res.header('content-length', size);
        for (let sent = 0, i = 0; sent < size; sent += block.length, i++) {
          block.fill(i & 0xff);
          if (!res.write(Buffer.from(block))) await res.drained();
        }
        res.end();
      },
      { maxBodyBytes: Infinity },
    );
    const upload = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) upload[i] = (i / 4096) & 0xff;
    const parts: Buffer[] = [];
    for (let i = 0; i < size; i += 1024 * 1024) parts.push(upload.subarray(i, i + 1024 * 1024));
    const up = await nodeRequest({ port: server.port, method: 'POST', path: '/' }, parts);
    expect(JSON.parse(up.body.toString())).toEqual({ n: size, sha256: createHash('sha256').update(upload).digest('hex') });

    const down = await nodeRequest({ port: server.port, path: '/' });
    const expected = createHash('sha256');
    const block = Buffer.alloc(256 * 1024);
    for (let i = 0; i < size / block.length; i++) expected.update(block.fill(i & 0xff));
    expect(down.body.length).toBe(size);
    expect(createHash('sha256').update(down.body).digest('hex')).toBe(expected.digest('hex'));
    await server.close();
  });
});
