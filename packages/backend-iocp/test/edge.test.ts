// Edge-triggered registrations (Interest.EDGE), emulated on AFD polls: after a report a direction is polled again
// only once one of this backend's socket functions has returned would-block on the socket (or on reregister).
// Real sockets on 127.0.0.1; every "no report" check waits for the loop to settle, none measures time.
import { describe, expect, it } from 'vitest';
import { createRuntime, Interest, Ready } from '@fdloop/core';
import { iocp, sys, WOULD_BLOCK, type IocpPoller } from '../src/index.js';
import { settle, socketsClosedAfterEach, waitFor, withRecordingPoller, type Recorded } from './helpers.js';

const { pair } = socketsClosedAfterEach();

/** recv until WOULD_BLOCK; returns what was read. */
function drain(fd: number): string {
  const buf = Buffer.alloc(4096);
  let out = '';
  for (let i = 0; i < 10_000; i++) {
    const n = sys.recv(fd, buf);
    if (n === WOULD_BLOCK) return out;
    if (n === 0) throw new Error('unexpected end of stream');
    out += buf.toString('latin1', 0, n);
  }
  throw new Error('drain did not reach WOULD_BLOCK');
}

/** Waits until `fd` has `bytes` unread bytes (MSG_PEEK would do; a second socket pair has no race here). */
async function arrived(reader: number, expected: string): Promise<string> {
  let got = '';
  await waitFor(() => {
    got += drain(reader);
    return got.length >= expected.length;
  }, `"${expected}" to arrive`);
  return got;
}

/** A socket pair and a recording poller for `body`: the poller is closed after it, the sockets after the test. */
async function withPairAndPoller(body: (a: number, b: number, poller: IocpPoller, rec: Recorded) => Promise<void>): Promise<void> {
  const [a, b] = pair();
  await withRecordingPoller((poller, rec) => body(a, b, poller, rec));
}

/** Lets the loop settle, then checks that the poller still has `count` reports: nothing new was reported. */
async function stillReported(rec: Recorded, count: number): Promise<void> {
  await settle();
  expect(rec.pairs.length).toBe(count);
}

describe('EDGE on the poller', () => {
  it('reports each arrival once, across two rounds of drain → arrive', async () => {
    await withPairAndPoller(async (r, w, poller, rec) => {
      poller.register(r, 5, Interest.READABLE | Interest.EDGE);
      await settle();
      expect(rec.pairs).toEqual([]);
      for (let round = 1; round <= 3; round++) {
        sys.send(w, Buffer.from(`m${round}`));
        await waitFor(() => rec.pairs.length === round, `report ${round}`);
        await stillReported(rec, round); // the unread data is not reported again
        const [token, flags] = rec.pairs[round - 1] as [number, number];
        expect(token).toBe(5);
        expect(flags & Ready.READABLE).toBeTruthy();
        expect(drain(r)).toBe(`m${round}`); // ends with WOULD_BLOCK: the read side is re-armed
        await stillReported(rec, round); // a drain alone reports nothing
      }
    });
  });

  it('is not re-armed without a drain: more data, or a read that stops short of WOULD_BLOCK, reports nothing', async () => {
    await withPairAndPoller(async (r, w, poller, rec) => {
      poller.register(r, 1, Interest.READABLE | Interest.EDGE);
      sys.send(w, Buffer.from('a'));
      await waitFor(() => rec.pairs.length === 1, 'the first report');
      sys.send(w, Buffer.from('b'));
      await stillReported(rec, 1);
      // A partial read (one byte of at least two) is no drain.
      expect(sys.recv(r, Buffer.alloc(1))).toBe(1);
      sys.send(w, Buffer.from('c'));
      await stillReported(rec, 1);
      // The drain re-arms: the rest is read, nothing is reported until something new arrives.
      expect(await arrived(r, 'bc')).toBe('bc');
      await stillReported(rec, 1);
      sys.send(w, Buffer.from('d'));
      await waitFor(() => rec.pairs.length === 2, 'the report after the drain');
    });
  });

  it('reregister re-arms without a drain (the unread data is reported again, with the new token)', async () => {
    await withPairAndPoller(async (r, w, poller, rec) => {
      poller.register(r, 1, Interest.READABLE | Interest.EDGE);
      sys.send(w, Buffer.from('x'));
      await waitFor(() => rec.pairs.length === 1, 'the first report');
      await stillReported(rec, 1);
      poller.reregister(r, 2, Interest.READABLE | Interest.EDGE);
      await waitFor(() => rec.pairs.length === 2, 'the report after reregister');
      expect((rec.pairs[1] as [number, number])[0]).toBe(2);
    });
  });

  it('WRITABLE: reported once, then again after a send hit WOULD_BLOCK and the peer made room', async () => {
    await withPairAndPoller(async (a, b, poller, rec) => {
      poller.register(a, 9, Interest.WRITABLE | Interest.EDGE);
      await waitFor(() => rec.pairs.length === 1, 'the first writable report');
      await stillReported(rec, 1); // level mode would report an empty send buffer on every poll
      // Fill the connection until send says WOULD_BLOCK (bounded: loopback buffers are finite).
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      let blocked = false;
      for (let i = 0; i < 100_000 && !blocked; i++) {
        const n = sys.send(a, chunk);
        if (n === WOULD_BLOCK) blocked = true;
        else sent += n;
      }
      expect(blocked).toBe(true);
      await stillReported(rec, 1);
      // The peer reads everything: room appears, and the re-armed direction reports it.
      const buf = Buffer.alloc(256 * 1024);
      let received = 0;
      await waitFor(() => {
        for (;;) {
          const n = sys.recv(b, buf);
          if (n === WOULD_BLOCK || n === 0) break;
          received += n;
        }
        return received === sent && rec.pairs.length >= 2;
      }, 'the peer to read everything and a second writable report');
      expect((rec.pairs[1] as [number, number])[1] & Ready.WRITABLE).toBeTruthy();
    });
  });

  it('EDGE | ONESHOT: a drain does not re-arm a fired one-shot; reregister does', async () => {
    await withPairAndPoller(async (r, w, poller, rec) => {
      poller.register(r, 1, Interest.READABLE | Interest.EDGE | Interest.ONESHOT);
      sys.send(w, Buffer.from('x'));
      await waitFor(() => rec.pairs.length === 1, 'the report');
      expect(drain(r)).toBe('x');
      sys.send(w, Buffer.from('y'));
      await stillReported(rec, 1);
      poller.reregister(r, 2, Interest.READABLE | Interest.EDGE | Interest.ONESHOT);
      await waitFor(() => rec.pairs.length === 2, 'the report after reregister');
    });
  });
});

describe('EDGE through the runtime', () => {
  it('an echo server that drains inside its edge callback sees every message (re-armed during the batch)', async () => {
    const rt = createRuntime({ backend: iocp() });
    const [server, client] = pair();
    const reports: number[] = [];
    try {
      const watcher = rt.watch(server, Interest.READABLE | Interest.EDGE, (ev) => {
        reports.push(ev.flags);
        const text = drain(server);
        if (text.length > 0) sys.send(server, Buffer.from(text.toUpperCase()));
      });
      for (const msg of ['one', 'two', 'three']) {
        sys.send(client, Buffer.from(msg));
        expect(await arrived(client, msg)).toBe(msg.toUpperCase());
      }
      expect(reports.length).toBe(3);
      watcher.close();
    } finally {
      await rt.close();
    }
  });
});
