import { createHash } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  forgetUpload,
  pendingUploads,
  readBlob,
  rememberUpload,
  runUpload,
  sameFile,
  type UploadSession,
} from "./largeUpload";

/** A server that keeps the committed bytes and answers like webmail/api/largefiles.py. */
function fakeServer(size: number, dropOnce: Set<number>) {
  const stored = new Uint8Array(size);
  let offset = 0;
  const seen: number[] = [];
  const session = (): UploadSession =>
    ({ id: "a".repeat(32), filename: "f.bin", content_type: "", size, offset, state: "uploading", chunk_max_bytes: 4 }) as UploadSession;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (_url: string, init?: RequestInit) => {
      const method = init?.method ?? "GET";
      if (method === "GET") return Response.json(session());
      if (method === "POST") {
        const body = JSON.parse(String(init?.body)) as { sha256: string };
        const want = createHash("sha256").update(stored).digest("hex");
        return body.sha256 === want
          ? Response.json({ ...session(), state: "ready" })
          : Response.json({ error: "sha256_mismatch", detail: "" }, { status: 400 });
      }
      const at = Number((init?.headers as Record<string, string>)["Upload-Offset"]);
      seen.push(at);
      if (dropOnce.delete(seen.length)) throw new TypeError("Failed to fetch");
      if (at !== offset) return Response.json({ error: "offset_mismatch", detail: "", offset }, { status: 409 });
      const bytes = new Uint8Array(await readBlob(init?.body as Blob));
      stored.set(bytes, at);
      offset = at + bytes.length;
      return Response.json(session());
    }),
  );
  return { seen, session };
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("runUpload", () => {
  it("goes on from the server's offset after a dropped chunk and finishes with the right SHA-256", async () => {
    const data = new Uint8Array(10).map((_, i) => i * 7);
    const server = fakeServer(10, new Set([2]));
    vi.useFakeTimers({ shouldAdvanceTime: true, advanceTimeDelta: 200 });
    const phases: string[] = [];
    const done = await runUpload(new File([data], "f.bin"), server.session(), (p) => phases.push(p.phase), new AbortController().signal);
    expect(done.state).toBe("ready");
    // Chunks of 4: 0, 4 (dropped), 4 again, 8.
    expect(server.seen).toEqual([0, 4, 4, 8]);
    expect(phases).toContain("checking");
  });

  it("resumes a session that already has bytes", async () => {
    const data = new Uint8Array(10).map((_, i) => i);
    const server = fakeServer(10, new Set());
    await runUpload(new File([data.slice(0, 4)], "f.bin"), { ...server.session(), size: 4 }, () => undefined, new AbortController().signal).catch(
      () => undefined,
    );
    const done = await runUpload(new File([data], "f.bin"), server.session(), () => undefined, new AbortController().signal);
    expect(done.state).toBe("ready");
    expect(server.seen).toEqual([0, 4, 8]);
  });
});

describe("pending uploads", () => {
  it("remembers ids across page loads and recognises the same file", () => {
    const file = new File(["x"], "a.bin", { lastModified: 1000 });
    rememberUpload({ id: "1".repeat(32), name: "a.bin", size: 1, lastModified: 1000 });
    const [p] = pendingUploads();
    expect(p && sameFile(p, file)).toBe(true);
    expect(p && sameFile(p, new File(["y"], "a.bin", { lastModified: 2000 }))).toBe(false);
    forgetUpload("1".repeat(32));
    expect(pendingUploads()).toEqual([]);
  });
});
