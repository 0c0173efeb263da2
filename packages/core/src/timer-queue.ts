/**
 * The runtime's timer queue: one list per delay, as Node's timers do, and a heap of those lists.
 *
 * Timers that share a delay are created in time order, so each lands at the tail of its list in O(1); only the
 * lists (a handful in practice) are kept in a binary heap, ordered by their first timer. With n timers over k
 * distinct delays, scheduling is O(1) (plus O(log k) when a list is created) instead of O(log n), and firing is
 * O(log k). An interval re-queued after it fired can be due before the last timer of its list; it is inserted by
 * walking back from the tail, which is a step or two in practice.
 * @internal
 */

import { TimerHeap, type HeapEntry } from './heap.js';

/** What the queue needs of a timer: its order `(due, seq)`, its delay (the list it joins) and its links. */
export interface QueueEntry {
  due: number;
  seq: number;
  readonly delay: number;
  qPrev: QueueEntry | null;
  qNext: QueueEntry | null;
  qList: TimerList | null;
}

class TimerList implements HeapEntry {
  due = 0;
  seq = 0;
  heapIndex = -1;
  head: QueueEntry | null = null;
  tail: QueueEntry | null = null;
  constructor(readonly delay: number) {}
}

function before(a: QueueEntry, b: QueueEntry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** @internal */
export class TimerQueue<T extends QueueEntry> {
  private readonly lists = new Map<number, TimerList>();
  private readonly heap = new TimerHeap<TimerList>();
  private count = 0;

  /** How many timers are queued. */
  get size(): number {
    return this.count;
  }

  /** The timer due first (lowest `(due, seq)`), or undefined. */
  peek(): T | undefined {
    const list = this.heap.peek();
    return list === undefined ? undefined : (list.head as T);
  }

  push(item: T): void {
    let list = this.lists.get(item.delay);
    if (list === undefined) {
      list = new TimerList(item.delay);
      this.lists.set(item.delay, list);
    }
    let after = list.tail;
    while (after !== null && before(item, after)) after = after.qPrev;
    item.qList = list;
    item.qPrev = after;
    if (after === null) {
      item.qNext = list.head;
      if (list.head !== null) list.head.qPrev = item;
      else list.tail = item;
      list.head = item;
      list.due = item.due;
      list.seq = item.seq;
      if (list.heapIndex < 0) this.heap.push(list);
      else this.heap.update(list);
    } else {
      item.qNext = after.qNext;
      if (after.qNext !== null) after.qNext.qPrev = item;
      else list.tail = item;
      after.qNext = item;
    }
    this.count += 1;
  }

  /** Remove and return the timer due first. */
  pop(): T | undefined {
    const first = this.peek();
    if (first !== undefined) this.remove(first);
    return first;
  }

  /** Remove a timer; a no-op when it is not queued. */
  remove(item: T): void {
    const list = item.qList;
    if (list === null) return;
    const { qPrev: prev, qNext: next } = item;
    if (prev !== null) prev.qNext = next;
    else list.head = next;
    if (next !== null) next.qPrev = prev;
    else list.tail = prev;
    item.qPrev = item.qNext = null;
    item.qList = null;
    this.count -= 1;
    if (prev === null) {
      if (next === null) {
        this.heap.remove(list);
        this.lists.delete(list.delay);
      } else {
        list.due = next.due;
        list.seq = next.seq;
        this.heap.update(list);
      }
    }
  }

  /** Remove every timer and return them. */
  clear(): T[] {
    const all: T[] = [];
    for (const list of this.heap.clear()) {
      for (let item = list.head; item !== null; ) {
        const next: QueueEntry | null = item.qNext;
        item.qPrev = item.qNext = null;
        item.qList = null;
        all.push(item as T);
        item = next;
      }
    }
    this.lists.clear();
    this.count = 0;
    return all;
  }
}
