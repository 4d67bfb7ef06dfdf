import { fireEvent, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { MessageListItem } from "../../api/folders";
import { listItem } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { initialList, listReducer } from "./listState";
import { MessageList } from "./MessageList";
import { EMPTY_SELECTION, type Selection } from "./selection";

const unread = listItem({
  id: 7,
  uid: 7,
  subject: "Unread one",
  flags: { seen: false, answered: false, flagged: true, deleted: false, draft: false },
  has_attachments: true,
});
const read = listItem({ id: 8, uid: 6, subject: "Read one", from: { name: "", address: "carol@example.com" } });

function stateOf(items: readonly MessageListItem[], done = true) {
  return listReducer(initialList("folder:1"), { type: "page", key: "folder:1", items, cursor: done ? null : "next", append: false });
}

function renderList(overrides: Partial<Parameters<typeof MessageList>[0]> = {}, locale: "en" | "ko" = "en") {
  const props = {
    state: stateOf([unread, read]),
    openId: null,
    activeId: null,
    selection: EMPTY_SELECTION as Selection,
    folderNameOf: null,
    emptyText: "No messages in this folder.",
    onOpen: vi.fn(),
    onActivate: vi.fn(),
    onSelectionChange: vi.fn(),
    onStar: vi.fn(),
    onLoadMore: vi.fn(),
    ...overrides,
  };
  renderIn(locale, <MessageList {...props} />);
  return props;
}

describe("MessageList", () => {
  it("is a grid named Messages with one row per message, unread ones marked", () => {
    renderList();
    const grid = screen.getByRole("grid", { name: "Messages" });
    const rows = within(grid).getAllByRole("row");
    expect(rows).toHaveLength(2);
    expect(rows[0]?.classList.contains("unread")).toBe(true);
    expect(rows[0]?.dataset.unread).toBe("true");
    expect(rows[1]?.classList.contains("read")).toBe(true);
    expect(rows[0]?.getAttribute("aria-rowindex")).toBe("1");
  });

  it("shows sender, subject, snippet, star and attachment marks", () => {
    renderList();
    const row = screen.getByTestId("message-7");
    expect(row.textContent).toContain("Bob");
    expect(row.textContent).toContain("Unread one");
    expect(row.textContent).toContain("Hi Alice");
    expect(within(row).getByRole("button", { name: "Star" }).getAttribute("aria-pressed")).toBe("true");
    expect(within(row).getByRole("img", { name: "Has attachments" })).toBeTruthy();
    expect(screen.getByTestId("message-8").textContent).toContain("carol@example.com");
  });

  it("renders a subject with markup as text and strips bidi overrides", () => {
    renderList({ state: stateOf([listItem({ id: 9, subject: "<img src=x onerror=alert(1)> \u202Eexe.pdf" })]) });
    const row = screen.getByTestId("message-9");
    expect(row.querySelector("img")).toBeNull();
    expect(row.textContent).toContain("<img src=x onerror=alert(1)> exe.pdf");
  });

  it("opens on a row click but not on a checkbox or star click", () => {
    const props = renderList();
    fireEvent.click(screen.getByText("Read one"));
    expect(props.onOpen).toHaveBeenCalledWith(8);
    fireEvent.click(screen.getByTestId("select-8"));
    fireEvent.click(screen.getByTestId("star-8"));
    expect(props.onOpen).toHaveBeenCalledTimes(1);
    expect(props.onStar).toHaveBeenCalledWith(8, true);
  });

  it("selects with the checkbox and extends the range with shift", () => {
    const onSelectionChange = vi.fn();
    renderList({ selection: { ids: new Set([7]), anchor: 7 }, onSelectionChange });
    expect(screen.getByTestId("message-7").getAttribute("aria-selected")).toBe("true");
    fireEvent.click(screen.getByTestId("select-8"), { shiftKey: true });
    const next = onSelectionChange.mock.calls[0]?.[0] as Selection;
    expect([...next.ids].sort()).toEqual([7, 8]);
  });

  it("moves the cursor with arrow keys and opens with Enter", () => {
    const props = renderList({ activeId: 7 });
    const grid = screen.getByRole("grid");
    fireEvent.keyDown(grid, { key: "ArrowDown" });
    expect(props.onActivate).toHaveBeenCalledWith(8);
    fireEvent.keyDown(grid, { key: "Enter" });
    expect(props.onOpen).toHaveBeenCalledWith(7);
    expect(screen.getByTestId("message-7").tabIndex).toBe(0);
    expect(screen.getByTestId("message-8").tabIndex).toBe(-1);
  });

  it("renders only a window of a 100 000-row list and asks for more near its end", () => {
    const many = Array.from({ length: 100_000 }, (_, i) => listItem({ id: i + 1, uid: 100_000 - i }));
    const props = renderList({ state: stateOf(many, false) });
    expect(screen.getAllByRole("row").length).toBeLessThan(40);
    expect(props.onLoadMore).not.toHaveBeenCalled();
    const grid = screen.getByRole("grid");
    grid.scrollTop = 72 * 99_990;
    fireEvent.scroll(grid);
    expect(props.onLoadMore).toHaveBeenCalled();
    const rows = screen.getAllByRole("row");
    expect(rows.length).toBeLessThan(40);
    expect(rows[rows.length - 1]?.getAttribute("aria-rowindex")).toBe("100000");
  });

  it("says so when the folder is empty", () => {
    renderList({ state: stateOf([]), emptyText: "이 메일함에 메일이 없습니다." }, "ko");
    expect(screen.getByText("이 메일함에 메일이 없습니다.")).toBeTruthy();
  });
});
