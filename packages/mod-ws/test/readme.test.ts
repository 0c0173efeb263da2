/**
 * The README examples, run exactly as written (copied out of the Markdown into a file inside the repository, so
 * they import the workspace's packages), in a child process. The echo server gets every kind of misbehaving peer
 * first, with no `onError` anywhere, and must still echo and exit cleanly on SIGTERM.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import WsClient from 'ws';
import { rawClient, rawExchange, sleep } from './peer.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = resolve(HERE, '..');
const REPO = resolve(PACKAGE, '..', '..');
const WORK = join(PACKAGE, '.work', `readme-${process.pid}`);

afterAll(() => rmSync(WORK, { recursive: true, force: true }));

/** The first ```js block after the heading `heading` in `file`. */
function example(file: string, heading: string): string {
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`${file} has no heading ${heading}`);
  const m = /```js\n([\s\S]*?)```/.exec(text.slice(at));
  if (m === null) throw new Error(`${file}: no js block after ${heading}`);
  return m[1] as string;
}

function run(code: string, name: string, env: Record<string, string> = {}): { child: ChildProcess; stdout: () => string; stderr: () => string; exit: Promise<number | null> } {
  mkdirSync(WORK, { recursive: true });
  const file = join(WORK, `${name}.mjs`);
  writeFileSync(file, code);
  // The examples' output is compared as text: a FORCE_COLOR inherited from the test runner would colour console.log.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, FDLOOP_TRACE: '', NO_COLOR: '1', ...env };
  delete childEnv.FORCE_COLOR;
  const child = spawn(process.execPath, [file], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** A ws client round trip: text and binary come back. */
async function echoes(port: number): Promise<void> {
  const c = new WsClient(`ws://127.0.0.1:${port}/`);
  await new Promise<void>((r, j) => c.once('open', r).once('error', j));
  const got: [string, boolean][] = [];
  c.on('message', (d: Buffer, b: boolean) => got.push([d.toString('hex'), b]));
  c.send('still here');
  c.send(Buffer.from([1, 2, 3]));
  while (got.length < 2) await sleep(5);
  expect(got).toEqual([
    [Buffer.from('still here').toString('hex'), false],
    ['010203', true],
  ]);
  c.close(1000);
  await new Promise((r) => c.once('close', r));
}

/** Every kind of misbehaving peer, one after another and some at once. Returns the close codes seen. */
async function abuse(port: number): Promise<number[]> {
  const codes: number[] = [];
  const framed = async (frame: Buffer, how: 'wait' | 'end' | 'reset'): Promise<void> => {
    const peer = await rawClient(port);
    await peer.sendBytes(frame);
    if (how === 'end') peer.socket.end();
    if (how === 'reset') {
      await sleep(5);
      peer.socket.resetAndDestroy();
      return;
    }
    await peer.until(() => peer.closed, 5000);
    const close = peer.closeFrame;
    if (close !== undefined && close.payload.length >= 2) codes.push(close.payload.readUInt16BE(0));
    peer.destroy();
  };
  await framed(Buffer.from([0x81, 0x02, 0x68, 0x69]), 'wait'); // unmasked client frame → 1002
  await framed(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xc0, 0xaf]), 'wait'); // overlong UTF-8 → 1007
  await framed(Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4]), 'wait'); // a 1 TiB frame → 1009
  await framed(Buffer.from([0x83, 0x80, 1, 2, 3, 4]), 'wait'); // reserved opcode → 1002
  await framed(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xed]), 'wait'); // close code 1005 on the wire → 1002
  await framed(Buffer.from([0x82, 0xfe, 0x10, 0x00, 1, 2, 3, 4, 9, 9]), 'end'); // vanishes mid-payload
  await framed(Buffer.from([0x82]), 'end'); // vanishes mid-header
  await framed(Buffer.from([0x01, 0x83, 1, 2, 3, 4, 0x61, 0x62, 0x63]), 'reset'); // resets mid-message
  // Bad handshakes and garbage.
  expect(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  expect(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 7\r\n\r\n')).toMatch(/^HTTP\/1\.1 426 /);
  expect(await rawExchange(port, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
  // Fifty clients that connect, start a frame and vanish at once.
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const peer = await rawClient(port);
      await peer.sendBytes(Buffer.from([0x81, 0xfe, 0x00, 0xff, 1, 2, 3, 4, i]));
      if (i % 2 === 0) peer.socket.resetAndDestroy();
      else peer.socket.end();
    }),
  );
  // And one that connects and says nothing at all before leaving.
  const quiet = netConnect(port, '127.0.0.1');
  await new Promise((r) => quiet.once('connect', r));
  quiet.destroy();
  return codes;
}

describe('README examples, run as written', () => {
  for (const [file, heading] of [
    [join(REPO, 'README.md'), '## A WebSocket echo server'],
    [join(PACKAGE, 'README.md'), '## An echo server'],
  ] as const) {
    it(`${file.slice(REPO.length + 1)}: the echo server survives misbehaving peers with no onError, then exits on SIGTERM`, async () => {
      const code = example(file, heading);
      const proc = run(code, 'echo-server', { PORT: '0' });
      const deadline = Date.now() + 15_000;
      let port = 0;
      while (port === 0) {
        const m = /echo server on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(proc.stdout());
        if (m !== null) port = Number(m[1]);
        else if (Date.now() > deadline || proc.child.exitCode !== null) throw new Error(`no port; stdout ${proc.stdout()} stderr ${proc.stderr()}`);
        else await sleep(20);
      }
      await echoes(port);
      expect(await abuse(port)).toEqual([1002, 1007, 1009, 1002, 1002]);
      await echoes(port);
      expect(proc.child.exitCode).toBe(null);
      proc.child.kill('SIGTERM');
      expect(await proc.exit).toBe(0);
      expect(proc.stderr()).toBe('');
    });
  }

  it('packages/mod-ws/README.md: both ends, pulling messages', async () => {
    const proc = run(example(join(PACKAGE, 'README.md'), '## Both ends, pulling messages'), 'both-ends');
    expect(await proc.exit).toBe(0);
    expect(proc.stderr()).toBe('');
    expect(proc.stdout()).toBe("protocol shout.v1\nHELLO\n<Buffer 01 02 03>\n{ code: 1000, reason: 'done', wasClean: true, error: undefined }\n");
  });
});
