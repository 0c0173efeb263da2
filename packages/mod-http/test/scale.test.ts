import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { netModule, type Socket } from '@fdloop/mod-net';

const fixture = fileURLToPath(new URL('./fixtures/http-child.mjs', import.meta.url));
const COUNT = 10_000;

/** One request on an open connection; resolves with the response text once its body (Content-Length) is in. */
function ask(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.handle({
      data: (chunk) => {
        text += chunk.toString('latin1');
        const head = text.indexOf('\r\n\r\n');
        const m = /Content-Length: (\d+)/.exec(text);
        if (head >= 0 && m !== null && text.length >= head + 4 + Number(m[1])) resolve(text.slice(head + 4));
      },
      close: (e) => reject(e ?? new Error('closed')),
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: scale\r\n\r\n`);
  });
}

describe('scale', () => {
  it(`holds ${COUNT} concurrent idle keep-alive connections and keeps serving`, { timeout: 180_000 }, async () => {
    const child = spawn(process.execPath, [fixture], { stdio: ['pipe', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /LISTENING (\d+)/.exec(out);
        if (m !== null) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`server exited ${String(code)}`)));
    });
    const rt = createRuntime({ backend: epoll() });
    const net = rt.use(netModule);
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < COUNT; i += 250) {
        const batch = await Promise.all(Array.from({ length: Math.min(250, COUNT - i) }, () => net.connect({ port })));
        const answers = await Promise.all(batch.map((s) => ask(s, '/')));
        expect(answers.every((a) => a === 'ok')).toBe(true);
        sockets.push(...batch);
      }
      const probe = await net.connect({ port });
      const stats = JSON.parse(await ask(probe, '/stats')) as { connections: number; rss: number };
      expect(stats.connections).toBe(COUNT + 1);
      // The oldest and the newest idle connections still answer.
      expect(await ask(sockets[0] as Socket, '/')).toBe('ok');
      expect(await ask(sockets[COUNT - 1] as Socket, '/')).toBe('ok');
      probe.close();
    } finally {
      for (const s of sockets) s.close();
      await rt.close();
      child.stdin.end();
      await new Promise((r) => child.once('exit', r));
    }
  });
});
