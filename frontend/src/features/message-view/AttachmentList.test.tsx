import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Attachment } from "../../api/messages";
import { renderIn } from "../../test/render";
import { AttachmentList } from "./AttachmentList";
import { attachmentKind, splitExtension } from "./attachmentKind";

function attachment(overrides: Partial<Attachment> = {}): Attachment {
  return {
    index: 2,
    filename: "보고서.pdf",
    content_type: "application/pdf",
    size: 2048,
    inline: false,
    content_id: "",
    url: "/api/v1/messages/1/attachments/2",
    ...overrides,
  };
}

describe("AttachmentList", () => {
  it("lists a download link with name, size and type", () => {
    renderIn("en", <AttachmentList attachments={[attachment()]} />);
    const link = screen.getByTestId("attachment-2");
    expect(link.getAttribute("href")).toBe("/api/v1/messages/1/attachments/2");
    expect(link.getAttribute("download")).toBe("보고서.pdf");
    expect(link.textContent).toBe("보고서.pdf");
    expect(link.parentElement?.textContent).toContain("2.0 KiB · application/pdf");
    expect(screen.getByRole("heading").textContent).toContain("Attachments (1)");
    expect(screen.queryByTestId("thumbnail-2")).toBeNull();
  });

  it("neutralises bidi overrides so the real extension shows", () => {
    renderIn("en", <AttachmentList attachments={[attachment({ filename: "invoice\u202Efdp.exe" })]} />);
    const link = screen.getByTestId("attachment-2");
    expect(link.textContent).toBe("invoicefdp.exe");
    expect(link.querySelector(".ext")?.textContent).toBe(".exe");
    expect(link.getAttribute("download")).toBe("invoicefdp.exe");
  });

  it("previews raster images from the same-origin URL and drops the preview if it fails", () => {
    renderIn(
      "en",
      <AttachmentList
        attachments={[
          attachment({ index: 3, filename: "photo.jpg", content_type: "image/jpeg", url: "/api/v1/messages/1/attachments/3" }),
          attachment({ index: 4, filename: "logo.svg", content_type: "image/svg+xml", url: "/api/v1/messages/1/attachments/4" }),
        ]}
      />,
    );
    const img = screen.getByTestId("thumbnail-3");
    expect(img.getAttribute("src")).toBe("/api/v1/messages/1/attachments/3");
    // SVG can carry script: never previewed.
    expect(screen.queryByTestId("thumbnail-4")).toBeNull();
    fireEvent.error(img);
    expect(screen.queryByTestId("thumbnail-3")).toBeNull();
  });

  it("shows nothing without attachments", () => {
    const { container } = renderIn("en", <AttachmentList attachments={[]} />);
    expect(container.textContent).toBe("");
  });
});

describe("attachment kinds", () => {
  it.each([
    ["image/png", "a.png", "image"],
    ["application/octet-stream", "계약서.hwp", "document"],
    ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "x.xlsx", "spreadsheet"],
    ["application/zip", "x.zip", "archive"],
    ["application/octet-stream", "x.bin", "other"],
  ])("%s %s is %s", (type, name, kind) => {
    expect(attachmentKind(type, name)).toBe(kind);
  });

  it("splits the extension off, but not a dotfile's or a long tail's", () => {
    expect(splitExtension("a.b.pdf")).toEqual(["a.b", ".pdf"]);
    expect(splitExtension(".bashrc")).toEqual([".bashrc", ""]);
    expect(splitExtension("noext")).toEqual(["noext", ""]);
  });
});
