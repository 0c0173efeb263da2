/**
 * One WebSocket echo server of the WebSocket benchmark, in its own process: `fdloop` (@fdloop/mod-ws on
 * backend-epoll) or `ws` (npm ws on node:net). Prints `PORT <n>` once listening. A text message `cpu?` is answered
 * with this process's CPU time (user + system, µs) so the client can measure the server's CPU per message.
 */

import { createRuntime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { WebSocketServer as FdloopServer } from '@fdloop/mod-ws';
import { WebSocketServer as WsServer } from 'ws';

const contender = process.argv[2];
const cpu = (): string => {
  const u = process.cpuUsage();
  return `cpu ${u.user + u.system}`;
};

if (contender === 'fdloop') {
  const rt = createRuntime({ backend: epoll() });
  const wss = new FdloopServer(rt, { host: '127.0.0.1', port: 0 }, (ws) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data === 'cpu?') ws.send(cpu());
      else ws.send(data, { binary: isBinary });
    });
  });
  process.stdout.write(`PORT ${wss.port}\n`);
  process.once('SIGTERM', () => void wss.close().then(() => rt.close()));
} else {
  const wss = new WsServer({ host: '127.0.0.1', port: 0 }, () => {
    const a = wss.address();
    process.stdout.write(`PORT ${typeof a === 'object' && a !== null ? a.port : 0}\n`);
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.toString() === 'cpu?') ws.send(cpu());
      else ws.send(data, { binary: isBinary });
    });
  });
  process.once('SIGTERM', () => wss.close());
}
