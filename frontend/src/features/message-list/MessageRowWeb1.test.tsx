// Issue 12: Sent/Drafts rows show recipients (defect 1), the list shows the arrival time in
// Naver's formats (defect 6), and the compact density (item 14).
import { screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { MessageListItem } from "../../api/folders";
import { listItem } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { formatListDate } from "../../lib/formatDate";
import { initialList, listReducer } from "./listState";
import { MessageList } from "./MessageList";
import { EMPTY_SELECTION } from "./selection";

const SENT = 2;
const sent = listItem({
  id: 21,
  folder: SENT,
  subject: "견적서 보내드립니다",
  from: { name: "나 자신", address: "me@example.com" },
  to: [
    { name: "박민수", address: "minsu@example.com" },
    { name: "", address: "jiyoung@example.com" },
  ],
  cc: [{ name: "Kim", address: "kim@example.com" }],
});
const single = listItem({ id: 22, folder: SENT, subject: "One", to: [{ name: "", address: "solo@example.com" }] });
const inbox = listItem({
  id: 23,
  folder: 1,
  subject: "Late mail",
  date: "2019-01-02T03:04:05Z", // the sender's Date: header, long ago
  internal_date: new Date().toISOString(), // arrived just now
});

function render(items: readonly MessageListItem[], locale: "en" | "ko", density?: "compact" | "comfortable") {
  const state = listReducer(initialList("view:x"), { type: "page", key: "view:x", items, cursor: null, append: false });
  renderIn(
    locale,
    <MessageList
      state={state}
      openId={null}
      activeId={null}
      selection={EMPTY_SELECTION}
      folderNameOf={null}
      showsRecipients={(id) => id === SENT}
      {...(density ? { density } : {})}
      emptyText=""
      onOpen={vi.fn()}
      onActivate={vi.fn()}
      onSelectionChange={vi.fn()}
      onStar={vi.fn()}
      onLoadMore={vi.fn()}
    />,
  );
  return screen.getAllByRole("row");
}

describe("rows of Sent and Drafts", () => {
  it("name the recipients as Naver does, not the owner", () => {
    const [first, second, third] = render([sent, single, inbox], "ko");
    expect(within(first!).getByText("받는 사람: 박민수 외 2명")).toBeTruthy();
    expect(first!.textContent).not.toContain("나 자신");
    expect(within(second!).getByText("받는 사람: solo@example.com")).toBeTruthy();
    expect(within(third!).getByText("Bob")).toBeTruthy(); // other folders: the sender
  });
  it("in English too", () => {
    const [first] = render([sent], "en");
    expect(within(first!).getByText("To: 박민수 and 2 more")).toBeTruthy();
  });
});

describe("the list's date", () => {
  it("is when the message arrived, not its Date: header", () => {
    const [row] = render([inbox], "ko");
    const time = within(row!).getByTestId("arrival");
    expect(time.getAttribute("datetime")).toBe(inbox.internal_date);
    expect(time.textContent).toBe(formatListDate(inbox.internal_date, "ko"));
    expect(time.textContent).toMatch(/^오[전후] \d{1,2}:\d\d$/);
  });
});

describe("density", () => {
  it("compact rows are one 34 px line; comfortable rows 72 px", () => {
    render([inbox], "en", "compact");
    expect(screen.getByTestId("message-list").parentElement?.className).toContain("density-compact");
    expect(screen.getByTestId("message-list").querySelector<HTMLElement>(".list-spacer")?.style.height).toBe("34px");
  });
  it("comfortable keeps today's rows", () => {
    render([inbox], "en", "comfortable");
    expect(screen.getByTestId("message-list").querySelector<HTMLElement>(".list-spacer")?.style.height).toBe("72px");
  });
});
