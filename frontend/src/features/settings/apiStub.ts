// Test helper (imported by *.test.tsx only): answers fetch() from a table of
// "METHOD /path" → handler and records every request, so components run their real API code.
import { vi } from "vitest";

export interface StubRequest {
  method: string;
  path: string;
  body: unknown;
}

type Handler = (req: StubRequest) => Response | Promise<Response>;

export function stubApi(routes: Record<string, Handler>) {
  const calls: StubRequest[] = [];
  const mock = vi.fn<typeof fetch>(async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? "GET").toUpperCase();
    const body = typeof init?.body === "string" ? (JSON.parse(init.body) as unknown) : undefined;
    const req = { method, path: url, body };
    calls.push(req);
    // The sent 대용량 첨부 list in Settings: none, unless a test says otherwise.
    const handler = routes[`${method} ${url}`] ?? (`${method} ${url}` === "GET /api/v1/largefiles" ? () => Response.json([]) : undefined);
    if (!handler) return Response.json({ error: "not_found", detail: `no stub for ${method} ${url}` }, { status: 404 });
    return handler(req);
  });
  vi.stubGlobal("fetch", mock);
  return { calls, mock };
}

export function json(data: unknown, status = 200): Response {
  return Response.json(data, { status });
}

export function noContent(): Response {
  return new Response(null, { status: 204 });
}
