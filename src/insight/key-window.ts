// The window each page of online `du` asks for. etcd answers a Range's `count` (the keys in
// [start, end), whatever the limit) by visiting every one of those keys in its in-memory
// index, under the index's read lock, which writes wait for. Paging through [after the last
// key, end of the prefix) thus makes etcd visit the rest of the keyspace again at every page:
// n^2 / 2L visits for n keys in pages of L. Each page asks instead for the keys that share
// their first `depth` bytes with its start, [start, end of that prefix), and the depth follows
// the answers:
// - a window with many more keys than a page: one byte deeper than where the page's own keys
//   part (their common prefix), where a window holds about a page;
// - a window with few keys: a byte shallower;
// - an empty window: the walk has left a group (a namespace, a resource). The next window is
//   the sibling prefix at the same depth (the next namespace, often), and after more empty
//   windows in a row, 1, 2, 4... bytes shallower: a gap of any size takes a few answers.
// etcd then visits each key a few times in all, plus, at a move between groups, the keys of the
// smallest parent group the galloping reaches.
import { isOpenEnd, prefixRangeEnd } from './prefix.js';

function commonPrefixLength(a: Buffer, b: Buffer): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return length;
}

export class KeyWindow {
  /** Bytes of its start a window's keys share; 0: the rest of the range. */
  private depth: number;
  /** Empty windows in a row. */
  private empty = 0;

  constructor(
    /** Keys per page. */
    private readonly pageSize: number,
    initialDepth = 0,
  ) {
    this.depth = initialDepth;
  }

  /** The same depth, to follow its own answers from now on. */
  clone(): KeyWindow {
    return new KeyWindow(this.pageSize, this.depth);
  }

  /**
   * The end of the window from `start`, never beyond the range's `end`; `coarser` bytes less
   * deep for a part of the range that holds many windows.
   */
  end(start: Buffer, end: Buffer, coarser = 0): Buffer {
    const depth = this.depth - coarser;
    if (depth <= 0) return end;
    const windowEnd = prefixRangeEnd(start.subarray(0, depth));
    if (isOpenEnd(windowEnd)) return end;
    return isOpenEnd(end) || Buffer.compare(windowEnd, end) < 0 ? windowEnd : end;
  }

  /** Moves the depth after the answer for the window from `start` (`first` and `last`: its page's keys). */
  observe(answer: { count: number; first?: Buffer; last?: Buffer }): void {
    const { count, first, last } = answer;
    if (count === 0) {
      // The next window is the sibling prefix at the same depth; after that, up 1, 2, 4... bytes.
      this.empty++;
      if (this.empty > 1) this.depth = Math.max(0, this.depth - 2 ** (this.empty - 2));
      return;
    }
    this.empty = 0;
    if (count > 2 * this.pageSize && first && last)
      this.depth = commonPrefixLength(first, last) + 1;
    else if (count < this.pageSize / 4) this.depth = Math.max(0, this.depth - 1);
  }
}
