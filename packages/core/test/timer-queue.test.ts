import { describe, expect, it } from 'vitest';
import { TimerQueue, type QueueEntry } from '../src/timer-queue.js';

type Entry = QueueEntry & { id: string };
const entry = (due: number, seq: number, delay: number): Entry => ({ due, seq, delay, qPrev: null, qNext: null, qList: null, id: `${due}/${seq}` });

/** A deterministic pseudo-random sequence (LCG), so a failure reproduces. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('TimerQueue', () => {
  it('pops in (due, seq) order across delays, with removals and out-of-order inserts', () => {
    const random = lcg(7);
    const q = new TimerQueue<Entry>();
    const items: Entry[] = [];
    for (let seq = 0; seq < 2000; seq++) {
      const delay = Math.floor(random() * 13);
      // Mostly increasing due times per delay (as the runtime makes them), sometimes earlier (a re-queued interval).
      const due = seq * 0.5 + delay - (random() < 0.1 ? random() * 20 : 0);
      items.push(entry(due, seq, delay));
    }
    for (const item of items) q.push(item);
    expect(q.size).toBe(items.length);
    const removed = new Set(items.filter(() => random() < 0.3));
    for (const item of removed) q.remove(item);
    for (const item of removed) q.remove(item); // a second removal is a no-op
    expect(q.size).toBe(items.length - removed.size);
    const out: string[] = [];
    for (let item = q.pop(); item; item = q.pop()) out.push(item.id);
    const expected = items
      .filter((item) => !removed.has(item))
      .sort((a, b) => a.due - b.due || a.seq - b.seq)
      .map((item) => item.id);
    expect(out).toEqual(expected);
    expect(q.size).toBe(0);
    expect(q.peek()).toBeUndefined();
  });

  it('keeps the order when the first timer of a list is removed or re-queued', () => {
    const q = new TimerQueue<Entry>();
    const a = entry(10, 0, 5);
    const b = entry(12, 1, 5);
    const c = entry(11, 2, 7);
    q.push(a);
    q.push(b);
    q.push(c);
    expect(q.peek()).toBe(a);
    q.remove(a);
    expect(q.peek()).toBe(c);
    a.due = 20;
    a.seq = 3;
    q.push(a);
    expect([q.pop(), q.pop(), q.pop(), q.pop()]).toEqual([c, b, a, undefined]);
  });

  it('clear() returns every timer and unlinks them', () => {
    const q = new TimerQueue<Entry>();
    const all = [entry(3, 0, 1), entry(1, 1, 2), entry(2, 2, 1)];
    for (const item of all) q.push(item);
    const cleared = q.clear();
    expect(new Set(cleared)).toEqual(new Set(all));
    expect(q.size).toBe(0);
    for (const item of all) expect(item.qList).toBeNull();
    q.push(all[0] as Entry);
    expect(q.pop()).toBe(all[0]);
  });
});
