import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { listItem } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { MessageList } from "./MessageList";

const unread = listItem({
  id: 7,
  subject: "Unread one",
  flags: { seen: false, answered: false, flagged: true, deleted: false, draft: false },
  has_attachments: true,
});
const read = listItem({ id: 8, subject: "Read one", from: { name: "", address: "carol@example.com" } });

function renderList(overrides: Partial<Parameters<typeof MessageList>[0]> = {}) {
  const props = {
    messages: [unread, read],
    selectedId: null,
    loading: false,
    error: null,
    hasMore: false,
    onOpen: vi.fn(),
    onLoadMore: vi.fn(),
    ...overrides,
  };
  renderIn("en", <MessageList {...props} />);
  return props;
}

describe("MessageList", () => {
  it("marks unread rows (bold through .unread) and leaves read rows plain", () => {
    renderList();
    const unreadRow = screen.getByTestId("message-7").closest("li");
    const readRow = screen.getByTestId("message-8").closest("li");
    expect(unreadRow?.classList.contains("unread")).toBe(true);
    expect(unreadRow?.dataset.unread).toBe("true");
    expect(readRow?.classList.contains("unread")).toBe(false);
    expect(readRow?.classList.contains("read")).toBe(true);
  });

  it("shows sender, subject, snippet, star and attachment marks", () => {
    renderList();
    const row = screen.getByTestId("message-7");
    expect(row.textContent).toContain("Bob");
    expect(row.textContent).toContain("Unread one");
    expect(row.textContent).toContain("Hi Alice");
    expect(screen.getByLabelText("Starred")).toBeTruthy();
    expect(screen.getByLabelText("Has attachments")).toBeTruthy();
    // No display name: the address stands in.
    expect(screen.getByTestId("message-8").textContent).toContain("carol@example.com");
  });

  it("renders a subject with markup as text, never as HTML", () => {
    renderList({ messages: [listItem({ id: 9, subject: "<img src=x onerror=alert(1)>" })] });
    const row = screen.getByTestId("message-9");
    expect(row.querySelector("img")).toBeNull();
    expect(row.textContent).toContain("<img src=x onerror=alert(1)>");
  });

  it("opens a message on click and offers 'load more' while there are pages", () => {
    const props = renderList({ hasMore: true });
    fireEvent.click(screen.getByTestId("message-8"));
    expect(props.onOpen).toHaveBeenCalledWith(8);
    fireEvent.click(screen.getByTestId("load-more"));
    expect(props.onLoadMore).toHaveBeenCalledOnce();
  });

  it("says so when the folder is empty, in Korean", () => {
    renderIn(
      "ko",
      <MessageList messages={[]} selectedId={null} loading={false} error={null} hasMore={false} onOpen={vi.fn()} onLoadMore={vi.fn()} />,
    );
    expect(screen.getByText("이 메일함에 메일이 없습니다.")).toBeTruthy();
  });
});
