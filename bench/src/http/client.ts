/**
 * P3 client process: `total` GET requests with `concurrency` in flight over keep-alive connections to the server
 * at `port`, with one client library. Prints `HTTPCLIENT {"requests":N,"seconds":S,"cpuSeconds":C}`.
 * Usage: node client.js fdloop|undici|undici-fetch|node-http PORT TOTAL CONCURRENCY
 */

import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createRuntime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { HttpClient } from '@fdloop/mod-http';

const [contender, portArg, totalArg, concurrencyArg] = process.argv.slice(2);
const port = Number(portArg);
const total = Number(totalArg);
const concurrency = Number(concurrencyArg);
const url = `http://127.0.0.1:${port}/`;

type Get = () => Promise<string>;

async function makeGet(): Promise<{ get: Get; close(): void }> {
  if (contender === 'fdloop') {
    const rt = createRuntime({ backend: epoll() });
    const client = new HttpClient(rt, { maxSocketsPerOrigin: concurrency });
    return { get: async () => (await client.get(url)).text(), close: () => client.close() };
  }
  if (contender === 'undici-fetch') {
    // Node 20's built-in fetch is undici's fetch.
    return { get: async () => (await fetch(url)).text(), close: () => {} };
  }
  if (contender === 'undici') {
    // undici's own lower-level API (the npm package, a devDependency of @fdloop/mod-http hoisted to the root).
    const pool = new (await import('undici')).Pool(`http://127.0.0.1:${port}`, { connections: concurrency });
    return { get: async () => (await pool.request({ path: '/', method: 'GET' })).body.text(), close: () => void pool.close() };
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const get: Get = () =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

const { get, close } = await makeGet();
let started = 0;
let finished = 0;
const warmup = Math.min(2000, Math.floor(total / 10));
let t0 = 0;
let cpu0 = process.cpuUsage();

await new Promise<void>((resolve, reject) => {
  const next = (): void => {
    if (started >= total + warmup) return;
    started++;
    get().then((body) => {
      if (body !== 'Hello World') return reject(new Error(`unexpected body ${body}`));
      finished++;
      if (finished === warmup) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
      }
      if (finished === total + warmup) resolve();
      else next();
    }, reject);
  };
  for (let i = 0; i < concurrency; i++) next();
});
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
close();
console.log(`HTTPCLIENT ${JSON.stringify({ requests: total, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}`);
process.exit(0);
