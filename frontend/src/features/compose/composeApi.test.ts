import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/client";
import { FakeXhr } from "../../test/fakeXhr";
import { uploadFile } from "./composeApi";

afterEach(() => vi.unstubAllGlobals());

function start(name = "report.pdf") {
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
  document.cookie = "csrftoken=tok9; path=/";
  const progress: number[] = [];
  const file = new File(["x".repeat(100)], name, { type: "application/pdf" });
  const handle = uploadFile(file, (p) => progress.push(p));
  const xhr = FakeXhr.last as FakeXhr;
  return { handle, xhr, progress };
}

describe("uploadFile", () => {
  it("posts the file as multipart with the CSRF token and reports progress", async () => {
    const { handle, xhr, progress } = start();
    expect([xhr.method, xhr.url, xhr.headers["X-CSRFToken"]]).toEqual(["POST", "/api/v1/uploads", "tok9"]);
    expect((xhr.body as FormData).get("file")).toBeInstanceOf(File);
    xhr.progress(25, 100);
    xhr.progress(100, 100);
    xhr.respond(201, { id: 5, filename: "report.pdf", content_type: "application/pdf", size: 100 });
    await expect(handle.promise).resolves.toEqual({ id: 5, filename: "report.pdf", content_type: "application/pdf", size: 100 });
    expect(progress).toEqual([0.25, 1, 1]);
  });

  it("rejects with the server's size-limit error in its own words", async () => {
    const { handle, xhr } = start();
    xhr.respond(413, { error: "upload_too_large", detail: "The file is larger than the 18.0 MiB upload limit." });
    const err = (await handle.promise.catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code, err.detail]).toEqual([413, "upload_too_large", "The file is larger than the 18.0 MiB upload limit."]);
  });

  it("knows a 413 from a proxy (no JSON) is a size error too", async () => {
    const { handle, xhr } = start();
    xhr.respond(413, "<html>Request Entity Too Large</html>", "Request Entity Too Large");
    const err = (await handle.promise.catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe("upload_too_large");
  });

  it("reports a dropped connection as a network error and a cancel as AbortError", async () => {
    const first = start();
    first.xhr.onerror?.();
    expect(((await first.handle.promise.catch((e: unknown) => e)) as ApiError).code).toBe("network");
    const second = start();
    second.handle.abort();
    const err = (await second.handle.promise.catch((e: unknown) => e)) as DOMException;
    expect(err.name).toBe("AbortError");
  });
});
