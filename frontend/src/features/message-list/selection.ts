// Multi-select of list rows, Gmail style: a checkbox toggles one row, shift+click selects the
// range from the last clicked row, "select all" takes every loaded row. Pure functions over a
// ReadonlySet of message ids; the anchor is the id clicked last.

export interface Selection {
  ids: ReadonlySet<number>;
  anchor: number | null;
}

export const EMPTY_SELECTION: Selection = { ids: new Set(), anchor: null };

export function toggleOne(sel: Selection, id: number): Selection {
  const ids = new Set(sel.ids);
  if (ids.has(id)) ids.delete(id);
  else ids.add(id);
  return { ids, anchor: id };
}

/** Shift+click: every row between the anchor and `id` takes the state `id` is toggled to. */
export function toggleRange(sel: Selection, order: readonly number[], id: number): Selection {
  const to = order.indexOf(id);
  const from = sel.anchor === null ? -1 : order.indexOf(sel.anchor);
  if (to < 0) return sel;
  if (from < 0) return toggleOne(sel, id);
  const on = !sel.ids.has(id);
  const ids = new Set(sel.ids);
  const [lo, hi] = from < to ? [from, to] : [to, from];
  for (let i = lo; i <= hi; i++) {
    const rowId = order[i];
    if (rowId === undefined) continue;
    if (on) ids.add(rowId);
    else ids.delete(rowId);
  }
  return { ids, anchor: id };
}

export function selectAll(order: readonly number[]): Selection {
  return { ids: new Set(order), anchor: null };
}

/** Drops ids that left the list (moved, deleted) so actions never act on invisible rows. */
export function prune(sel: Selection, present: readonly number[]): Selection {
  if (sel.ids.size === 0) return sel;
  const keep = new Set(present);
  const ids = new Set([...sel.ids].filter((id) => keep.has(id)));
  if (ids.size === sel.ids.size) return sel;
  return { ids, anchor: sel.anchor !== null && keep.has(sel.anchor) ? sel.anchor : null };
}

export type AllState = "none" | "some" | "all";

export function allState(sel: Selection, order: readonly number[]): AllState {
  if (sel.ids.size === 0 || order.length === 0) return "none";
  return order.every((id) => sel.ids.has(id)) ? "all" : "some";
}
