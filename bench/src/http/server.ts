/**
 * P3 server process: a hello-world HTTP server of one contender, kept as small as each framework allows.
 * Usage: node server.js fdloop|fdloop-dynamic|node-http  → prints "LISTENING <port>", serves until killed.
 */

import * as http from 'node:http';
import { createRuntime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { createServer } from '@fdloop/mod-http';

const contender = process.argv[2];
const BODY = 'Hello World';

if (contender === 'fdloop') {
  const rt = createRuntime({ backend: epoll() });
  const server = createServer(rt, { host: '127.0.0.1', port: 0, keepAliveTimeout: 60_000 }, (_req, res) => {
    res.header('content-type', 'text/plain');
    res.end(BODY);
  });
  console.log(`LISTENING ${server.port}`);
} else if (contender === 'fdloop-dynamic') {
  // The same server with a body that differs on every request, so the response memo (a repeated text response is
  // sent again as the same bytes) never applies: the cost of building every response.
  const rt = createRuntime({ backend: epoll() });
  let n = 0;
  const server = createServer(rt, { host: '127.0.0.1', port: 0, keepAliveTimeout: 60_000 }, (_req, res) => {
    res.header('content-type', 'text/plain');
    n = (n + 1) % 1_000_000;
    res.end(`Hello ${n}`);
  });
  console.log(`LISTENING ${server.port}`);
} else if (contender === 'node-http') {
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(BODY);
  });
  server.listen(0, '127.0.0.1', () => {
    const a = server.address();
    console.log(`LISTENING ${typeof a === 'object' && a !== null ? a.port : 0}`);
  });
} else {
  console.error(`unknown contender ${String(contender)}`);
  process.exit(2);
}
