/**
 * The WebSocket benchmark's client, the same for both servers (npm ws): sends `messages` binary messages of `size`
 * bytes with at most `window` in flight, each echoed back, after `warmup` unmeasured ones. Prints
 * `WSRESULT {"messages","seconds","serverCpuUs"}`.
 */

import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const [port, warmup, messages, window, size] = process.argv.slice(2).map(Number) as [number, number, number, number, number];
const payload = Buffer.alloc(size, 0x61);
const total = warmup + messages;
const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
let sent = 0;
let received = 0;
let t0 = 0;
let cpu0 = 0;
let elapsed = 0;
let phase: 'cpu0' | 'run' | 'cpu1' = 'run';

function fill(): void {
  while (sent < total && sent - received < window) {
    ws.send(payload);
    sent++;
    if (sent === warmup) break;
  }
}

ws.on('message', (data: Buffer, isBinary: boolean) => {
  if (!isBinary) {
    const us = Number(data.toString().slice(4));
    if (phase === 'cpu0') {
      cpu0 = us;
      phase = 'run';
      t0 = performance.now();
      fill();
    } else {
      process.stdout.write(`WSRESULT ${JSON.stringify({ messages, seconds: elapsed, serverCpuUs: us - cpu0 })}\n`);
      ws.close(1000);
    }
    return;
  }
  received++;
  if (received === warmup && phase === 'run' && t0 === 0) {
    phase = 'cpu0';
    ws.send('cpu?');
    return;
  }
  if (received === total) {
    elapsed = (performance.now() - t0) / 1000;
    phase = 'cpu1';
    ws.send('cpu?');
    return;
  }
  if (phase === 'run') fill();
});
ws.on('open', fill);
ws.on('error', (err) => {
  console.error(err.message);
  process.exit(1);
});
