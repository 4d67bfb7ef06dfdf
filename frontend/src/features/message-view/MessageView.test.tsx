import { screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { detail } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { MessageView } from "./MessageView";

describe("MessageView", () => {
  it("renders HTML only inside an iframe whose sandbox allows nothing", () => {
    const html = '<p class="x">Hello <b>there</b></p>';
    renderIn("en", <MessageView message={detail({ html })} onBack={vi.fn()} />);
    const frame = screen.getByTestId("message-body-frame");
    expect(frame.tagName).toBe("IFRAME");
    expect(frame.hasAttribute("sandbox")).toBe(true);
    // Empty sandbox = every restriction on: no allow-scripts, no allow-same-origin.
    expect(frame.getAttribute("sandbox")).toBe("");
    expect(frame.getAttribute("srcdoc")).toContain(html);
    expect(frame.getAttribute("referrerpolicy")).toBe("no-referrer");
    // The mail's markup is not in the app's own document.
    expect(document.querySelector("p.x")).toBeNull();
  });

  it("shows the text body as text when there is no HTML", () => {
    const text = "<script>window.pwned = 1</script> plain & simple";
    renderIn("en", <MessageView message={detail({ html: null, text })} onBack={vi.fn()} />);
    expect(screen.getByTestId("message-text").textContent).toBe(text);
    expect(document.querySelector("script")).toBeNull();
    expect(screen.queryByTestId("message-body-frame")).toBeNull();
  });

  it("shows headers with full addresses and the subject as text", () => {
    renderIn(
      "ko",
      <MessageView
        message={detail({
          subject: "<b>제목</b>",
          from: { name: "김철수", address: "cs@example.kr" },
          cc: [{ name: "", address: "cc@example.kr" }],
        })}
        onBack={vi.fn()}
      />,
    );
    expect(screen.getByRole("heading", { level: 2 }).textContent).toBe("<b>제목</b>");
    expect(screen.getByText("보낸 사람")).toBeTruthy();
    expect(screen.getByTitle("cs@example.kr").textContent).toContain("김철수 <cs@example.kr>");
    expect(screen.getByText("참조")).toBeTruthy();
  });

  it("lists attachments as download links with size", () => {
    const message = detail({
      has_attachments: true,
      attachments: [
        {
          index: 2,
          filename: "보고서.pdf",
          content_type: "application/pdf",
          size: 2048,
          inline: false,
          content_id: "",
          url: "/api/v1/messages/1/attachments/2",
        },
      ],
    });
    renderIn("en", <MessageView message={message} onBack={vi.fn()} />);
    const link = screen.getByTestId("attachment-2");
    expect(link.getAttribute("href")).toBe("/api/v1/messages/1/attachments/2");
    expect(link.hasAttribute("download")).toBe(true);
    expect(link.textContent).toBe("보고서.pdf");
    expect(link.parentElement?.textContent).toContain("2.0 KB");
  });
});
