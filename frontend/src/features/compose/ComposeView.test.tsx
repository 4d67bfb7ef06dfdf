import { act, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeXhr } from "../../test/fakeXhr";
import { detail } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { ComposeView } from "./ComposeView";

interface Call {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
}

type Handler = (call: Call) => Response | Promise<Response>;

/** A fetch that answers like the API from a table of "METHOD /path" handlers and records calls. */
function fakeApi(routes: Record<string, Handler>) {
  const calls: Call[] = [];
  const mock = vi.fn<typeof fetch>(async (input, init) => {
    const url = new URL(String(input), "http://localhost");
    const method = init?.method ?? "GET";
    const call = { method, path: url.pathname + url.search, body: init?.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : null };
    calls.push(call);
    const handler = routes[`${method} ${url.pathname}`];
    if (!handler) return Response.json({ error: "not_found", detail: "Not found." }, { status: 404 });
    return handler(call);
  });
  vi.stubGlobal("fetch", mock);
  return calls;
}

const session = (): Response =>
  Response.json({ address: "alice@example.com", display_name: "Alice", addresses: ["alice@example.com", "sales@example.com"] });
const settings = (): Response =>
  Response.json({
    display_name: "Alice",
    signature_html: "<p>Alice Kim<br>Sales</p>",
    signature_text: "Alice Kim\nSales",
    language: "",
    page_size: 50,
    remote_images: "ask",
    address: "alice@example.com",
  });
const listItem = (id: number) => ({ ...detail({ id }), id });

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
  localStorage.clear();
  window.history.replaceState(null, "", "/");
});

const original = detail({
  id: 42,
  subject: "Re: Lunch",
  from: { name: "Bob", address: "bob@example.com" },
  // sales@ is one of Alice's aliases: reply-all leaves it out, as it would her own address.
  to: [{ name: "Sales", address: "sales@example.com" }],
  cc: [{ name: "Carol", address: "carol@example.com" }],
  text: "See you at noon",
  html: "<p>See you at <b>noon</b></p>",
  date: "2024-05-01T09:30:00Z",
});

// Generous timeouts: the first render loads the editor, and CI shares two cores.
describe("ComposeView", { timeout: 30000 }, () => {
  it("prefills a reply-all and sends it threaded, then shows Sent", async () => {
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "GET /api/v1/messages/42": () => Response.json(original),
      "POST /api/v1/messages/send": () => Response.json({ message: { ...listItem(99), to: [{ name: "Bob", address: "bob@example.com" }] }, queue_ids: ["q1"] }, { status: 201 }),
      "GET /api/v1/messages/99/delivery": () =>
        Response.json({ recipients: [{ address: "bob@example.com", state: "delivered", last_reply: "250 ok", updated_at: "2024-05-01T09:31:00Z" }] }),
    });
    const onSent = vi.fn();
    renderIn("en", <ComposeView mode="replyall" messageId={42} onClose={vi.fn()} onSent={onSent} />);
    const subject = (await screen.findByRole("textbox", { name: "Subject" })) as HTMLInputElement;
    expect(subject.value).toBe("Re: Lunch");
    expect(screen.getByTestId("compose-to").textContent).toContain("Bob");
    expect(screen.getByTestId("compose-cc").textContent).toContain("Carol"); // Cc shown because it is filled
    expect(screen.getByTestId("compose-to").textContent).not.toContain("sales@example.com");
    // Sent to her alias sales@: the reply goes out from it (she may pick her own instead).
    const from = screen.getByRole("combobox", { name: "From" }) as HTMLSelectElement;
    expect(from.value).toBe("sales@example.com");
    expect(Array.from(from.options).map((o) => o.textContent)).toEqual(["Alice <alice@example.com>", "Alice <sales@example.com>"]);
    const body = screen.getByRole("textbox", { name: "Message body" });
    expect(body.querySelector("blockquote")?.textContent).toBe("See you at noon");
    expect(body.textContent).toContain("Alice Kim");
    // Signature above the quote.
    expect(body.textContent?.indexOf("Alice Kim")).toBeLessThan(body.textContent?.indexOf("wrote:") ?? 0);

    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(await screen.findByRole("heading", { name: "Sent" })).toBeTruthy();
    const sent = calls.find((c) => c.path === "/api/v1/messages/send")?.body;
    expect(sent).toMatchObject({
      mode: "reply_all",
      from_address: "sales@example.com",
      in_reply_to_message: 42,
      quote: false,
      to: ['"Bob" <bob@example.com>'],
      cc: ['"Carol" <carol@example.com>'],
      subject: "Re: Lunch",
      to_me: false,
    });
    // The text alternative quotes the original with "> ".
    expect(String(sent?.text)).toContain("> See you at noon");
    expect(String(sent?.html)).toContain("<blockquote>");
    expect(onSent).toHaveBeenCalledOnce();
    expect(await screen.findByText("Delivered")).toBeTruthy();
  });

  it("autosaves a draft 2 s after a change, then replaces it, and keeps the URL on the newest id", async () => {
    vi.useFakeTimers();
    window.history.replaceState(null, "", "/compose");
    let nextId = 500;
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": () => Response.json({ error: "not_found", detail: "x" }, { status: 404 }),
      "POST /api/v1/drafts": () => Response.json(listItem(++nextId), { status: 201 }),
      "PUT /api/v1/drafts/501": () => Response.json(listItem(++nextId)),
    });
    renderIn("en", <ComposeView mode="new" onClose={vi.fn()} />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10);
    });
    const subject = screen.getByRole("textbox", { name: "Subject" });
    fireEvent.change(subject, { target: { value: "Plan" } });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1900);
    });
    expect(calls.filter((c) => c.method !== "GET")).toEqual([]);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(200);
    });
    expect(calls.filter((c) => c.method === "POST").map((c) => c.body?.subject)).toEqual(["Plan"]);
    expect(window.location.search).toBe("?draft=501");
    expect(screen.getByTestId("save-status").textContent).toMatch(/^Saved at /);

    fireEvent.change(subject, { target: { value: "Plan B" } });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2100);
    });
    const put = calls.find((c) => c.method === "PUT");
    expect(put?.path).toBe("/api/v1/drafts/501");
    expect(put?.body).toMatchObject({ subject: "Plan B", mode: "new", draft_attachments: [] });
    expect(window.location.search).toBe("?draft=502");
  });

  it("reopens a draft with its attachments and discards it", async () => {
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "GET /api/v1/drafts/77": () =>
        Response.json({
          id: 77,
          from_address: "sales@example.com",
          to: ['"Bob" <bob@example.com>'],
          cc: [],
          bcc: ["secret@example.com"],
          reply_to: [],
          subject: "Half done",
          text: "plain words",
          html: null,
          priority: "normal",
          mode: "new",
          in_reply_to_message: null,
          draft_attachments: [{ index: 2, filename: "plan.pdf", content_type: "application/pdf", size: 2048 }],
        }),
      "DELETE /api/v1/drafts/77": () => new Response(null, { status: 204 }),
    });
    const onClose = vi.fn();
    renderIn("en", <ComposeView params={{ mode: "draft", id: 77, to: "" }} onClose={onClose} />);
    const body = (await screen.findByRole("textbox", { name: "Message body" })) as HTMLTextAreaElement;
    expect(body.tagName).toBe("TEXTAREA"); // a text-only draft opens in plain-text mode
    expect(body.value).toBe("plain words");
    expect(screen.getByTestId("compose-bcc").textContent).toContain("secret@example.com");
    expect((screen.getByRole("combobox", { name: "From" }) as HTMLSelectElement).value).toBe("sales@example.com");
    expect(screen.getByTestId("compose-attachment").textContent).toContain("plan.pdf");
    expect(screen.getByTestId("attachments-total").textContent).toBe("Attached: 1 · 2.0 KiB in total");
    fireEvent.click(screen.getByRole("button", { name: "Discard" }));
    await waitFor(() => expect(onClose).toHaveBeenCalledOnce());
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/drafts/77")).toBe(true);
  });

  it("shows refused recipients in words and marks them red", async () => {
    fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "POST /api/v1/messages/send": () =>
        Response.json({ error: "recipient_rejected", detail: "<nobody@example.com>: no such local mailbox" }, { status: 400 }),
    });
    renderIn("en", <ComposeView params={{ mode: "new", id: null, to: "bob@example.com, nobody@example.com" }} onClose={vi.fn()} />);
    await screen.findByRole("textbox", { name: "Subject" });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect((await screen.findByTestId("compose-error")).textContent).toBe(
      "These recipients were refused: nobody@example.com (no such local mailbox)",
    );
    const tokens = screen.getAllByTestId("recipient-token");
    expect(tokens.map((t) => t.dataset.invalid)).toEqual(["false", "true"]);
  });

  it("refuses to send with an invalid address or no recipient, before calling the server", async () => {
    const calls = fakeApi({ "GET /api/v1/auth/session": session, "GET /api/v1/settings": settings });
    renderIn("en", <ComposeView mode="new" onClose={vi.fn()} />);
    await screen.findByRole("textbox", { name: "Subject" });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(screen.getByTestId("compose-error").textContent).toBe("Add at least one recipient.");
    const to = screen.getByRole("combobox", { name: "To" });
    fireEvent.change(to, { target: { value: "bob@@example" } });
    fireEvent.blur(to);
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(screen.getByTestId("compose-error").textContent).toBe("Fix or remove the addresses marked in red.");
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);
  });

  it("writes to myself: To becomes my address and the send says to_me", async () => {
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "POST /api/v1/messages/send": () => Response.json({ message: listItem(5), queue_ids: [] }, { status: 201 }),
    });
    renderIn("ko", <ComposeView mode="new" onClose={vi.fn()} />);
    await screen.findByRole("textbox", { name: "제목" });
    fireEvent.click(screen.getByRole("button", { name: "내게쓰기" }));
    expect(screen.getByTestId("compose-to").textContent).toContain("Alice");
    expect(screen.queryByRole("button", { name: "참조/숨은참조" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "보내기" }));
    expect(await screen.findByRole("heading", { name: "내게쓴메일함에 저장했습니다" })).toBeTruthy();
    expect(calls.find((c) => c.path === "/api/v1/messages/send")?.body).toMatchObject({
      to_me: true,
      to: ['"Alice" <alice@example.com>'],
      cc: [],
      bcc: [],
    });
  });

  it("asks before plain-text mode drops formatting, and converts the body", async () => {
    fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "GET /api/v1/messages/42": () => Response.json(original),
    });
    renderIn("en", <ComposeView mode="reply" messageId={42} onClose={vi.fn()} />);
    await screen.findByRole("textbox", { name: "Message body" });
    fireEvent.click(screen.getByRole("button", { name: "Plain text" }));
    expect(screen.getByTestId("confirm-plain")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.getByRole("textbox", { name: "Message body" }).tagName).not.toBe("TEXTAREA");
    fireEvent.click(screen.getByRole("button", { name: "Plain text" }));
    fireEvent.click(screen.getByRole("button", { name: "Switch to plain text" }));
    const text = screen.getByRole("textbox", { name: "Message body" }) as HTMLTextAreaElement;
    expect(text.value).toContain("> See you at noon");
    expect(text.value).toMatch(/Alice Kim\nSales/);
  });

  it("prefills a forward with the original's attachments and sends their indexes", async () => {
    const withFiles = detail({
      ...original,
      subject: "Report",
      attachments: [
        { index: 3, filename: "q3.xlsx", content_type: "application/vnd.ms-excel", size: 4096, inline: false, content_id: "", url: "/x" },
      ],
    });
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "GET /api/v1/messages/42": () => Response.json(withFiles),
      "POST /api/v1/messages/send": () => Response.json({ message: listItem(9), queue_ids: ["q"] }, { status: 201 }),
    });
    renderIn("en", <ComposeView mode="forward" messageId={42} onClose={vi.fn()} />);
    expect(((await screen.findByRole("textbox", { name: "Subject" })) as HTMLInputElement).value).toBe("Fwd: Report");
    expect(screen.getByRole("textbox", { name: "Message body" }).textContent).toContain("Forwarded message");
    expect(screen.getByTestId("compose-attachment").textContent).toContain("q3.xlsx");
    const to = screen.getByRole("combobox", { name: "To" });
    fireEvent.change(to, { target: { value: "dan@example.com" } });
    fireEvent.blur(to);
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await screen.findByRole("heading", { name: "Sent" });
    expect(calls.find((c) => c.path === "/api/v1/messages/send")?.body).toMatchObject({
      mode: "forward",
      in_reply_to_message: 42,
      forward_attachments: [3],
      to: ["dan@example.com"],
    });
  });

  it("uploads picked and dropped files with progress, shows a size error in words, and sends the ids", async () => {
    FakeXhr.all = [];
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "POST /api/v1/messages/send": () => Response.json({ message: listItem(9), queue_ids: ["q"] }, { status: 201 }),
    });
    renderIn("en", <ComposeView params={{ mode: "new", id: null, to: "bob@example.com" }} onClose={vi.fn()} />);
    await screen.findByRole("textbox", { name: "Subject" });
    const small = new File(["x".repeat(2048)], "notes.txt", { type: "text/plain" });
    fireEvent.change(screen.getByTestId("compose-file-input"), { target: { files: [small] } });
    const big = new File(["y"], "movie.mp4", { type: "video/mp4" });
    fireEvent.drop(screen.getByTestId("compose-view"), { dataTransfer: { types: ["Files"], files: [big] } });
    expect(FakeXhr.all).toHaveLength(2);
    act(() => FakeXhr.all[0]?.upload.onprogress?.({ lengthComputable: true, loaded: 512, total: 2048 } as ProgressEvent));
    expect(screen.getByRole("progressbar", { name: "Uploading notes.txt" }).getAttribute("aria-valuetext")).toBe("25%");
    expect(screen.getByRole("button", { name: "Send" }).hasAttribute("disabled")).toBe(true);
    await act(async () => FakeXhr.all[1]?.respond(413, { error: "upload_too_large", detail: "The file is larger than the 18.0 MiB upload limit." }));
    expect(screen.getByRole("alert").textContent).toBe(
      "movie.mp4 was not attached: The file is too large to attach.",
    );
    await act(async () => FakeXhr.all[0]?.respond(201, { id: 31, filename: "notes.txt", content_type: "text/plain", size: 2048 }));
    expect(screen.queryByRole("progressbar")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Remove movie.mp4" }));
    expect(screen.getAllByTestId("compose-attachment")).toHaveLength(1);
    expect(screen.getByTestId("attachments-total").textContent).toBe("Attached: 1 · 2.0 KiB in total");
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await screen.findByRole("heading", { name: "Sent" });
    expect(calls.find((c) => c.path === "/api/v1/messages/send")?.body).toMatchObject({ attachments: [31], to: ["bob@example.com"] });
  });

  it("does not send while an upload has failed, counts only what will go, and retries (issue 12 defect 7)", async () => {
    FakeXhr.all = [];
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "POST /api/v1/messages/send": () => Response.json({ message: listItem(9), queue_ids: ["q"] }, { status: 201 }),
    });
    renderIn("ko", <ComposeView params={{ mode: "new", id: null, to: "bob@example.com" }} onClose={vi.fn()} />);
    await screen.findByRole("textbox", { name: "제목" });
    const file = new File(["z".repeat(4096)], "견적서.pdf", { type: "application/pdf" });
    fireEvent.change(screen.getByTestId("compose-file-input"), { target: { files: [file] } });
    await act(async () => FakeXhr.all[0]?.respond(503, { error: "storage_unavailable", detail: "disk" }));
    expect(screen.getByTestId("attachments-total").textContent).not.toMatch(/1/);
    fireEvent.click(screen.getByRole("button", { name: "보내기" }));
    expect((await screen.findAllByRole("alert")).map((a) => a.textContent).join(" ")).toContain(
      "올리지 못한 첨부파일이 있습니다",
    );
    expect(calls.some((c) => c.path === "/api/v1/messages/send")).toBe(false);
    fireEvent.click(screen.getByTestId("attachment-retry"));
    expect(FakeXhr.all).toHaveLength(2);
    await act(async () => FakeXhr.all[1]?.respond(201, { id: 77, filename: "견적서.pdf", content_type: "application/pdf", size: 4096 }));
    expect(screen.getByTestId("attachments-total").textContent).toContain("1");
    fireEvent.click(screen.getByRole("button", { name: "보내기" }));
    await waitFor(() => expect(calls.find((c) => c.path === "/api/v1/messages/send")?.body).toMatchObject({ attachments: [77] }));
  });

  it("shows the attachment limits before a file is picked and does not upload what cannot fit", async () => {
    FakeXhr.all = [];
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "GET /api/v1/compose-limits": () =>
        Response.json({ max_upload_bytes: 18_965_110, max_attachments_bytes: 18_965_110, max_message_bytes: 26_214_400 }),
      // 대용량 첨부 of the oversize file: the session is never answered here.
      "POST /api/v1/largefiles/uploads": () => new Promise<Response>(() => undefined),
    });
    renderIn("ko", <ComposeView params={{ mode: "new", id: null, to: "bob@example.com" }} onClose={vi.fn()} />);
    expect((await screen.findByTestId("compose-limits")).textContent).toBe("파일당 최대 18 MiB, 메일 한 통에 첨부파일 모두 18 MiB까지");
    const sized = (name: string, size: number): File => {
      const file = new File(["x"], name);
      Object.defineProperty(file, "size", { value: size });
      return file;
    };
    // 20 MB: over the per-file limit, so not an attachment: it goes as 대용량 첨부 (a link).
    fireEvent.change(screen.getByTestId("compose-file-input"), { target: { files: [sized("movie.mp4", 20_000_000)] } });
    expect(screen.getByRole("alert").textContent).toBe(
      "movie.mp4 파일은 일반 첨부 한도보다 커서 대용량 첨부(링크)로 보냅니다.",
    );
    expect(FakeXhr.all).toHaveLength(0);
    expect((await screen.findByTestId("largefile-item")).textContent).toContain("movie.mp4");
    // Two files that fit one by one but not together: the first is uploaded, the second not.
    fireEvent.change(screen.getByTestId("compose-file-input"), {
      target: { files: [sized("a.zip", 10_000_000), sized("b.zip", 10_000_000)] },
    });
    expect(FakeXhr.all).toHaveLength(1);
    expect(screen.getByRole("alert").textContent).toBe(
      "첨부파일이 모두 19 MiB가 되어, 메일 한 통에 넣을 수 있는 18 MiB를 넘습니다. 일부를 빼 주세요.",
    );
    expect(calls.some((c) => c.path === "/api/v1/compose-limits")).toBe(true);
  });

  it("words the limits in English", async () => {
    fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "GET /api/v1/compose-limits": () => Response.json({ max_upload_bytes: 5 * 1048576, max_attachments_bytes: 7 * 1048576, max_message_bytes: 10 * 1048576 }),
    });
    renderIn("en", <ComposeView params={{ mode: "new", id: null, to: "bob@example.com" }} onClose={vi.fn()} />);
    expect((await screen.findByTestId("compose-limits")).textContent).toBe("Up to 5.0 MiB per file, 7.0 MiB of attachments per message");
  });

  it("autosaves an upload into the draft, then keeps it as a draft part and sends with draft_id", async () => {
    vi.useFakeTimers();
    FakeXhr.all = [];
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    let nextId = 500;
    const part = { index: 2, filename: "notes.txt", content_type: "text/plain", size: 2048 };
    const draftFields = (id: number) => ({
      id, to: [], cc: [], bcc: [], reply_to: [], subject: "s", text: "", html: null, priority: "normal",
      mode: "new", in_reply_to_message: null, draft_attachments: [part],
    });
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "POST /api/v1/drafts": () => Response.json(listItem(++nextId), { status: 201 }),
      "PUT /api/v1/drafts/501": () => Response.json(listItem(++nextId)),
      "GET /api/v1/drafts/501": () => Response.json(draftFields(501)),
      "GET /api/v1/drafts/502": () => Response.json(draftFields(502)),
      "POST /api/v1/messages/send": () => Response.json({ message: listItem(9), queue_ids: ["q"] }, { status: 201 }),
    });
    renderIn("en", <ComposeView params={{ mode: "new", id: null, to: "bob@example.com" }} onClose={vi.fn()} />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10);
    });
    const file = new File(["x".repeat(2048)], "notes.txt", { type: "text/plain" });
    fireEvent.change(screen.getByTestId("compose-file-input"), { target: { files: [file] } });
    await act(async () => FakeXhr.all[0]?.respond(201, { id: 31, filename: "notes.txt", content_type: "text/plain", size: 2048 }));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2100);
    });
    const post = calls.find((c) => c.method === "POST" && c.path === "/api/v1/drafts");
    expect(post?.body).toMatchObject({ attachments: [31], draft_attachments: [], to: ["bob@example.com"] });
    expect(calls.some((c) => c.path === "/api/v1/drafts/501" && c.method === "GET")).toBe(true);

    fireEvent.change(screen.getByRole("textbox", { name: "Subject" }), { target: { value: "v2" } });
    await act(async () => {
      await vi.advanceTimersByTimeAsync(2100);
    });
    const put = calls.find((c) => c.method === "PUT");
    expect(put?.body).toMatchObject({ attachments: [], draft_attachments: [2], subject: "v2" });

    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await act(async () => {
      await vi.advanceTimersByTimeAsync(10);
    });
    expect(calls.find((c) => c.path === "/api/v1/messages/send")?.body).toMatchObject({
      draft_id: 502,
      draft_attachments: [2],
      attachments: [],
    });
  });

  it("does not save a draft of a message once it is sent, even with edits not yet autosaved", async () => {
    const calls = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "POST /api/v1/messages/send": () => Response.json({ message: listItem(9), queue_ids: [] }, { status: 201 }),
    });
    const view = renderIn("en", <ComposeView params={{ mode: "new", id: null, to: "bob@example.com" }} onClose={vi.fn()} />);
    fireEvent.change(await screen.findByRole("textbox", { name: "Subject" }), { target: { value: "quick" } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    await screen.findByRole("heading", { name: "Sent" });
    view.unmount();
    await new Promise((r) => setTimeout(r, 50));
    expect(calls.filter((c) => c.path.startsWith("/api/v1/drafts"))).toEqual([]);
  });

  it("keeps the draft and says so when discarding fails", async () => {
    let recorded: Call[] = [];
    const fakeApiCalls = (): Call[] => recorded;
    recorded = fakeApi({
      "GET /api/v1/auth/session": session,
      "GET /api/v1/settings": settings,
      "GET /api/v1/drafts/77": () =>
        Response.json({
          id: 77, to: [], cc: [], bcc: [], reply_to: [], subject: "Keep", text: "", html: "<p>hi</p>",
          // A reply whose original was deleted since: it goes on as a new message.
          priority: "normal", mode: "reply", in_reply_to_message: null, draft_attachments: [],
        }),
      "PUT /api/v1/drafts/77": () => Response.json(listItem(78)),
      "DELETE /api/v1/drafts/78": () =>
        Response.json({ error: "storage_unavailable", detail: "Mail storage is unavailable; try again." }, { status: 503 }),
    });
    const onClose = vi.fn();
    const calls = fakeApiCalls();
    renderIn("en", <ComposeView draftId={77} onClose={onClose} />);
    await screen.findByRole("textbox", { name: "Message body" });
    fireEvent.change(screen.getByRole("textbox", { name: "Subject" }), { target: { value: "Keep me" } });
    fireEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await waitFor(() => expect(screen.getByTestId("save-status").textContent).toMatch(/^Saved at/));
    const put = calls.find((c) => c.method === "PUT")?.body;
    expect(put).toMatchObject({ mode: "new", subject: "Keep me" });
    expect(put).not.toHaveProperty("in_reply_to_message");
    fireEvent.click(screen.getByRole("button", { name: "Discard" }));
    expect((await screen.findByTestId("compose-error")).textContent).toBe(
      "The draft could not be deleted: Mail storage is unavailable right now. Nothing was lost; try again.",
    );
    expect(onClose).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Discard" }).hasAttribute("disabled")).toBe(false);
  });
});
