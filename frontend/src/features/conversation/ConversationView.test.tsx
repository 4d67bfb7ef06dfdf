import { act, fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { MessageDetail } from "../../api/messages";
import { detail, listItem } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import type { Conversation } from "./conversationApi";
import { ConversationCount } from "./ConversationCount";
import { ConversationToggle } from "./ConversationToggle";
import { ConversationView } from "./ConversationView";

const conversation: Conversation = {
  id: 99,
  subject: "견적서 요청",
  count: 3,
  unread: 1,
  messages: [
    listItem({ id: 1, folder: 1, subject: "견적서 요청", snippet: "첫 메일", from: { name: "박민수", address: "p@x.kr" } }),
    listItem({ id: 2, folder: 2, subject: "RE: 견적서 요청", snippet: "내 답장", from: { name: "나", address: "me@x.kr" } }),
    listItem({ id: 3, folder: 1, subject: "회신: 견적서 요청", snippet: "마지막", flags: { seen: false, answered: false, flagged: false, deleted: false, draft: false } }),
  ],
};

async function flush(): Promise<void> {
  await act(async () => {
    await Promise.resolve();
  });
}

describe("ConversationView", () => {
  it("marks the conversation's other unread messages read when it opens (Naver, Gmail)", async () => {
    const unseen = { seen: false, answered: false, flagged: false, deleted: false, draft: false };
    const three: Conversation = {
      ...conversation,
      unread: 3,
      messages: conversation.messages.map((m) => ({ ...m, flags: unseen })),
    };
    const markRead = vi.fn((_ids: readonly number[]) => Promise.resolve());
    const onRead = vi.fn();
    renderIn(
      "ko",
      <ConversationView
        conversationId={99}
        current={detail({ id: 3, subject: "회신: 견적서 요청" })}
        folderName={() => "받은메일함"}
        renderMessage={(m) => <article data-testid={`body-${m.id}`}>{m.subject}</article>}
        load={() => Promise.resolve(three)}
        markRead={markRead}
        onRead={onRead}
      />,
    );
    await flush();
    await flush();
    // The opened one (3) is marked by useMessage; the others here, in one call.
    expect(markRead).toHaveBeenCalledTimes(1);
    expect(markRead).toHaveBeenCalledWith([1, 2]);
    expect(onRead).toHaveBeenCalledWith([1, 2]);
    expect(screen.getByTestId("conv-item-1").closest(".unread")).toBeNull();
  });

  it("shows every message of the conversation oldest first, older ones collapsed, and expands on click", async () => {
    const loadMessage = vi.fn((id: number) => Promise.resolve<MessageDetail>(detail({ id, subject: `detail ${id}` })));
    const rendered: number[] = [];
    renderIn(
      "ko",
      <ConversationView
        conversationId={99}
        current={detail({ id: 3, subject: "회신: 견적서 요청" })}
        folderName={(id) => (id === 2 ? "보낸메일함" : "받은메일함")}
        renderMessage={(m) => {
          rendered.push(m.id);
          return <article data-testid={`body-${m.id}`}>{m.subject}</article>;
        }}
        load={() => Promise.resolve(conversation)}
        loadMessage={loadMessage}
      />,
    );
    await flush();
    expect(screen.getByTestId("conversation").textContent).toContain("대화: 메일 3통");
    // The open (and newest) one is expanded; the two older ones are one line each.
    expect(screen.getByTestId("body-3")).toBeTruthy();
    expect(screen.getByTestId("conv-item-1").textContent).toContain("박민수");
    expect(screen.getByTestId("conv-item-2").textContent).toContain("보낸메일함");
    expect(loadMessage).not.toHaveBeenCalled();
    fireEvent.click(screen.getByTestId("conv-item-2"));
    await flush();
    expect(loadMessage).toHaveBeenCalledWith(2, expect.anything());
    expect(screen.getByTestId("body-2").textContent).toBe("detail 2");
    expect(screen.queryByTestId("conv-item-2")).toBeNull();
  });

  it("shows the error with a retry when the conversation cannot be read", async () => {
    let fail = true;
    const load = vi.fn(() => (fail ? Promise.reject(new Error("boom")) : Promise.resolve(conversation)));
    renderIn(
      "en",
      <ConversationView conversationId={99} current={detail({ id: 3 })} folderName={() => ""} renderMessage={(m) => <p>{m.id}</p>} load={load} />,
    );
    await flush();
    fail = false;
    fireEvent.click(screen.getByTestId("error-retry"));
    await flush();
    expect(screen.getByTestId("conversation")).toBeTruthy();
  });
});

describe("ConversationToggle and ConversationCount", () => {
  it("switches at once, stores the setting, and switches back when storing fails", async () => {
    const onChange = vi.fn();
    const save = vi.fn(() => Promise.reject(new Error("offline")));
    renderIn("ko", <ConversationToggle on={false} onChange={onChange} save={save} />);
    fireEvent.click(screen.getByRole("checkbox", { name: "대화형으로 보기" }));
    expect(onChange).toHaveBeenCalledWith(true);
    expect(save).toHaveBeenCalledWith(true);
    await flush();
    expect(onChange).toHaveBeenLastCalledWith(false);
  });

  it("labels the count for screen readers", () => {
    renderIn("en", <ConversationCount count={4} id={1} />);
    expect(screen.getByLabelText("4 messages in this conversation").textContent).toBe("4");
  });
});
