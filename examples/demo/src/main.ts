/**
 * The full fdloop demo (`npm start`): a TypeScript version of the seed's main example, traced.
 *
 *  - read `test.txt` twice in parallel (mod-fs: io_uring where the kernel allows it, else the thread pool) and a
 *    third time from inside the second read;
 *  - derive a "magic" number from the text through mod-crypto (SHA-256 on the pool);
 *  - two immediate (0 ms) timeouts, a 3000 ms timer that registers a nested 500 ms timer, a 1000 ms timer;
 *  - a slow HTTP GET with mod-http's client (the server answers after 2000 ms) against a local mod-http server the
 *    demo starts itself;
 *  - every line is prefixed with the thread that did it (`main`, `pool-N`) and the tick, and FINISHED is printed
 *    when `run()` resolves.
 *
 * FDLOOP_DEMO_QUIET=1 hides the runtime's and the pool's trace lines and keeps the demo's own prints;
 * FDLOOP_DEMO_FS=pool sends the file reads to the thread pool instead of io_uring.
 */

import { createRuntime, currentThread, print, printContent, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { HttpClient, createServer, type HttpServer } from '@fdloop/mod-http';
import { fsModule } from '@fdloop/mod-fs';
import { cryptoModule } from '@fdloop/mod-crypto';
import { fileURLToPath } from 'node:url';

const quiet = process.env['FDLOOP_DEMO_QUIET'] === '1';
const TEXT_FILE = fileURLToPath(new URL('../test.txt', import.meta.url));
const SLOW_RESPONSE_MS = 2000;

/** A one-request HTTP server on 127.0.0.1 (mod-http) that answers `delay` ms after it has read the request. */
function startSlowServer(rt: Runtime, delay: number): HttpServer {
  const server = createServer(rt, { host: '127.0.0.1', port: 0 }, async (req, res) => {
    print(`server: got "${req.method} ${req.url} HTTP/1.1", answering in ${delay} ms`);
    // One request is all the demo makes: stop listening (gracefully: this request still gets its answer), so
    // nothing keeps the runtime alive afterwards.
    void server.close();
    await rt.sleep(delay);
    res.header('content-type', 'text/plain');
    res.end(`Hello from the slow local server (after ${delay} ms)\n`);
  });
  return server;
}

/** GET `url` with mod-http's client and resolve with the response body. */
async function httpGet(rt: Runtime, url: string): Promise<string> {
  const client = new HttpClient(rt);
  try {
    const res = await client.request(url);
    return await res.text();
  } finally {
    client.close();
  }
}

/** The seed's "javascript()" program. */
function program(rt: Runtime): void {
  // io_uring when the kernel allows it (reads complete in the kernel and arrive through the poller), else the
  // thread pool; FDLOOP_DEMO_FS=pool forces the pool, where each read shows up on a pool-N thread.
  const fs = rt.use(fsModule({ io: process.env['FDLOOP_DEMO_FS'] === 'pool' ? 'pool' : 'auto' }));
  const crypto = rt.use(cryptoModule());
  print(`file reads go through: ${fs.io}`);

  print('First call to read test.txt');
  void fs.readFile(TEXT_FILE, 'utf8').then((text) => {
    print(`First count: ${text.length} characters.`);
    print('I want to create a "magic" number based on the text.');
    void crypto.hash('sha256', text).then((digest) => {
      print(`"Encrypted" number is: ${digest.readUInt32BE(0)}`);
    });
  });

  print('Registering immediate timeout 1');
  rt.setTimeout(() => print('Immediate1 timed out'), 0);
  print('Registering immediate timeout 2');
  rt.setTimeout(() => print('Immediate2 timed out'), 0);

  // Read the file again, and once more from inside that read's callback (not in parallel).
  print('Second call to read test.txt');
  void fs.readFile(TEXT_FILE, 'utf8').then((text) => {
    print(`Second count: ${text.length} characters.`);
    print('Third call to read test.txt');
    void fs.readFile(TEXT_FILE, 'utf8').then((third) => printContent('file read', third));
  });

  print('Registering a 3000 and a 500 ms timeout');
  rt.setTimeout(() => {
    print('3000ms timer timed out');
    rt.setTimeout(() => print('500ms timer(nested) timed out'), 500);
  }, 3000);

  print('Registering a 1000 ms timeout');
  rt.setTimeout(() => print('SETTIMEOUT'), 1000);

  const { port } = startSlowServer(rt, SLOW_RESPONSE_MS);
  print(`Registering http get request to http://127.0.0.1:${port}/slow (the server answers after ${SLOW_RESPONSE_MS} ms)`);
  void httpGet(rt, `http://127.0.0.1:${port}/slow`).then((body) => printContent('web call', body.trim()));
}

async function main(): Promise<void> {
  const trace = quiet ? false : ({ output: 'stdout' } as const);
  const rt = createRuntime({ backend: epoll(), trace, pool: { size: 2, trace: quiet ? false : 'stdout' } });
  print(`demo: backend ${rt.backend.name}, thread ${currentThread()}, pool of ${rt.pool.size} (pool-1…pool-${rt.pool.size})`);
  await rt.run(() => program(rt));
  await rt.close();
  print('FINISHED');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
