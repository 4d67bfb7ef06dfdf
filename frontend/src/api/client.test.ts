import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, apiFetch, readCookie } from "./client";

function stubFetch(response: Response | Error) {
  const mock = vi.fn<typeof fetch>(() =>
    response instanceof Error ? Promise.reject(response) : Promise.resolve(response),
  );
  vi.stubGlobal("fetch", mock);
  return mock;
}

function headersOf(mock: ReturnType<typeof stubFetch>): Record<string, string> {
  const init = mock.mock.calls[0]?.[1];
  return (init?.headers ?? {}) as Record<string, string>;
}

afterEach(() => vi.unstubAllGlobals());

describe("readCookie", () => {
  it("finds a cookie among others and decodes it", () => {
    expect(readCookie("csrftoken", "a=1; csrftoken=ab%2Bc; b=2")).toBe("ab+c");
    expect(readCookie("csrftoken", "xcsrftoken=no")).toBeNull();
  });
});

describe("apiFetch", () => {
  it("echoes the CSRF cookie in X-CSRFToken on unsafe methods, with a JSON body", async () => {
    document.cookie = "csrftoken=tok123; path=/";
    const mock = stubFetch(Response.json({ address: "a@example.com", display_name: "" }));
    await apiFetch("POST", "/api/v1/auth/session", { body: { address: "a", password: "p" } });
    const headers = headersOf(mock);
    expect(headers["X-CSRFToken"]).toBe("tok123");
    expect(headers["Content-Type"]).toBe("application/json");
    const init = mock.mock.calls[0]?.[1];
    expect(init?.credentials).toBe("same-origin");
    expect(init?.body).toBe('{"address":"a","password":"p"}');
  });

  it("sends no CSRF header on GET, and builds the query string without nulls", async () => {
    document.cookie = "csrftoken=tok123; path=/";
    const mock = stubFetch(Response.json({ results: [], next_cursor: null }));
    await apiFetch("GET", "/api/v1/folders/3/messages", { query: { cursor: null, limit: 50 } });
    expect(headersOf(mock)["X-CSRFToken"]).toBeUndefined();
    expect(mock.mock.calls[0]?.[0]).toBe("/api/v1/folders/3/messages?limit=50");
  });

  it("turns the server's {error, detail, fields} into an ApiError", async () => {
    stubFetch(
      Response.json(
        { error: "invalid", detail: "bad input", fields: { name: ["required"] } },
        { status: 400 },
      ),
    );
    const err = await apiFetch("POST", "/api/v1/folders", { body: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const apiError = err as ApiError;
    expect(apiError.status).toBe(400);
    expect(apiError.code).toBe("invalid");
    expect(apiError.detail).toBe("bad input");
    expect(apiError.fields).toEqual({ name: ["required"] });
  });

  it("keeps the numbers of an error (limit, size) for the page's own text", async () => {
    stubFetch(Response.json({ error: "daily_limit", detail: "daily sending limit", limit: 500 }, { status: 429 }));
    const err = (await apiFetch("POST", "/api/v1/messages/send", { body: {} }).catch((e: unknown) => e)) as ApiError;
    expect([err.code, err.params]).toEqual(["daily_limit", { limit: 500 }]);
  });

  it("reports a non-JSON failure by its HTTP status", async () => {
    stubFetch(new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    const err = (await apiFetch("GET", "/api/v1/folders").catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe("http_502");
  });

  it("reports an unreachable server as code network", async () => {
    stubFetch(new TypeError("Failed to fetch"));
    const err = (await apiFetch("GET", "/api/v1/folders").catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(0);
    expect(err.code).toBe("network");
  });

  it("resolves 204 to undefined", async () => {
    stubFetch(new Response(null, { status: 204 }));
    await expect(apiFetch("DELETE", "/api/v1/auth/session")).resolves.toBeUndefined();
  });
});
