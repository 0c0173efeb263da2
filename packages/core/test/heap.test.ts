import { describe, expect, it } from 'vitest';
import { TimerHeap, type HeapEntry } from '../src/heap.js';

const entry = (due: number, seq: number): HeapEntry & { id: string } => ({ due, seq, heapIndex: -1, id: `${due}/${seq}` });

describe('TimerHeap', () => {
  it('pops in (due, seq) order and removes arbitrary entries', () => {
    const heap = new TimerHeap<ReturnType<typeof entry>>();
    const items = Array.from({ length: 500 }, (_, i) => entry((i * 7919) % 101, i));
    for (const it of items) heap.push(it);
    const removed = new Set(items.filter((_, i) => i % 3 === 0));
    for (const it of removed) heap.remove(it);
    const out: string[] = [];
    for (let it = heap.pop(); it; it = heap.pop()) out.push(it.id);
    const expected = items
      .filter((it) => !removed.has(it))
      .sort((a, b) => a.due - b.due || a.seq - b.seq)
      .map((it) => it.id);
    expect(out).toEqual(expected);
    expect(heap.size).toBe(0);
  });

  it('ignores removal of an entry that is not in it', () => {
    const heap = new TimerHeap<HeapEntry>();
    const a = entry(1, 1);
    heap.remove(a);
    heap.push(a);
    heap.remove(a);
    heap.remove(a);
    expect(heap.size).toBe(0);
  });
});
