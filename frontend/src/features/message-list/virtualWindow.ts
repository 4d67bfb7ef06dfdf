// Window math for the virtualised message list: which rows to render for a scroll position.
// Rows have one fixed height, so this is O(1) however long the list (100 000 rows and more).

export interface WindowRange {
  /** first rendered row (inclusive) */
  start: number;
  /** last rendered row + 1 (exclusive) */
  end: number;
  /** px from the top of the scroll area to row `start` */
  offset: number;
  /** px height of every row together (the scroll area's height) */
  total: number;
}

export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 6,
): WindowRange {
  const total = count * rowHeight;
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, offset: 0, total: Math.max(0, total) };
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, total - viewportHeight));
  const first = Math.floor(top / rowHeight);
  const visible = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end, offset: start * rowHeight, total };
}

/** The scrollTop that brings row `index` fully into view (unchanged if it already is). */
export function scrollToReveal(
  index: number,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
): number {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
  return scrollTop;
}

/** True when the window is within `threshold` rows of the end: time to fetch the next page. */
export function nearEnd(range: WindowRange, count: number, threshold = 20): boolean {
  return count - range.end <= threshold;
}
