import { describe, expect, it } from "vitest";
import { admitFiles, attachmentPayload, mapSavedParts, totalProblem, totalSize, uploading, type AttachmentItem } from "./attachments";

const up = (key: string, uploadId: number | null, status: "uploading" | "done" | "error" = "done", size = 10): AttachmentItem => ({
  key,
  kind: "upload",
  filename: `${key}.bin`,
  size,
  contentType: "application/octet-stream",
  status,
  progress: status === "done" ? 1 : 0.5,
  uploadId,
  error: null,
});
const draft = (key: string, index: number, size = 20): AttachmentItem => ({
  key,
  kind: "draft",
  index,
  filename: `${key}.pdf`,
  size,
  contentType: "application/pdf",
});
const orig = (key: string, index: number): AttachmentItem => ({
  key,
  kind: "original",
  index,
  filename: `${key}.doc`,
  size: 30,
  contentType: "application/msword",
});

describe("attachmentPayload", () => {
  it("names draft parts, finished uploads and forwarded parts in the server's order", () => {
    const items = [up("u1", 7), orig("o1", 3), draft("d1", 2), up("u2", null, "uploading"), up("u3", null, "error"), draft("d2", 5)];
    expect(attachmentPayload(items)).toEqual({
      attachments: [7],
      draft_attachments: [2, 5],
      forward_attachments: [3],
      order: ["d1", "d2", "u1", "o1"],
    });
  });
});

describe("mapSavedParts", () => {
  const parts = [
    { index: 2, filename: "d1.pdf", content_type: "application/pdf", size: 20 },
    { index: 3, filename: "u1.bin", content_type: "application/octet-stream", size: 10 },
    { index: 4, filename: "o1.doc", content_type: "application/msword", size: 30 },
  ];

  it("turns what was saved into parts of the new draft, keeping keys and the user's order", () => {
    const items = [up("u1", 7), orig("o1", 9), draft("d1", 5)];
    const mapped = mapSavedParts(items, ["d1", "u1", "o1"], parts);
    expect(mapped.map((i) => [i.key, i.kind, "index" in i ? i.index : null])).toEqual([
      ["u1", "draft", 3],
      ["o1", "draft", 4],
      ["d1", "draft", 2],
    ]);
    expect(attachmentPayload(mapped)).toMatchObject({ attachments: [], forward_attachments: [], draft_attachments: [3, 4, 2] });
  });

  it("leaves items added during the save alone and keeps removed ones removed", () => {
    const items = [draft("d1", 5), up("u1", 7), up("late", null, "uploading")]; // o1 was removed meanwhile
    const mapped = mapSavedParts(items, ["d1", "u1", "o1"], parts);
    expect(mapped.map((i) => [i.key, i.kind])).toEqual([
      ["d1", "draft"],
      ["u1", "draft"],
      ["late", "upload"],
    ]);
  });

  it("trusts the server's list when the parts do not line up", () => {
    const items = [draft("d1", 5), up("late", null, "uploading")];
    const mapped = mapSavedParts(items, ["d1"], parts);
    expect(mapped.filter((i) => i.kind === "draft").map((i) => ("index" in i ? i.index : -1))).toEqual([2, 3, 4]);
    expect(mapped.at(-1)?.key).toBe("late");
  });
});

describe("totals", () => {
  it("adds sizes except failed uploads and knows when uploads are running", () => {
    const items = [up("a", 1, "done", 100), up("b", null, "error", 1000), draft("c", 2, 50)];
    expect(totalSize(items)).toBe(150);
    expect(uploading(items)).toBe(false);
    expect(uploading([...items, up("d", null, "uploading")])).toBe(true);
  });
});

describe("attachment limits", () => {
  const limits = { max_upload_bytes: 1000, max_attachments_bytes: 1500 };
  const file = (name: string, size: number): File => {
    const f = new File(["x"], name);
    Object.defineProperty(f, "size", { value: size });
    return f;
  };
  const part = (size: number): AttachmentItem => ({ key: `d${size}`, kind: "draft", index: 1, filename: "d", size, contentType: "x/y" });

  it("leaves out a file over the per-file limit and one past the message's room", () => {
    const { accepted, problem } = admitFiles([part(400)], [file("big", 1001), file("a", 900), file("b", 300)], limits);
    expect(accepted.map((f) => f.name)).toEqual(["a"]);
    expect(problem).toEqual({ kind: "file", name: "big", size: 1001, limit: 1000 });
    expect(admitFiles([part(400)], [file("a", 900), file("b", 300)], limits).problem).toEqual({ kind: "total", total: 1600, limit: 1500 });
    expect(admitFiles([], [file("big", 5000)], null).accepted).toHaveLength(1); // limits unknown: the server decides
  });

  it("says when what is attached already cannot be sent (forwarded or draft parts)", () => {
    expect(totalProblem([part(1000), part(600)], limits)).toEqual({ kind: "total", total: 1600, limit: 1500 });
    expect(totalProblem([part(1500)], limits)).toBeNull();
  });
});
