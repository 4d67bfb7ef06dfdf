// The console's own paths (the part after /admin/), parsed into the page to show.
//   ""                → dashboard        "domains[/name]"  → domains, or one domain
//   "accounts[/id]"   → accounts         "aliases"         → aliases
//   "relay"           → relay rules      "queue[/id]"      → queue, or one entry
//   "log"             → delivery log     "audit"           → audit log
//   "held"            → held senders (containment)
// Anything else is "unknown" (the console's not-found page).

export type AdminPage =
  | { page: "dashboard" }
  | { page: "domains"; name: string | null }
  | { page: "accounts"; id: number | null }
  | { page: "aliases" }
  | { page: "relay" }
  | { page: "queue"; id: string | null }
  | { page: "log" }
  | { page: "audit" }
  | { page: "held" }
  | { page: "unknown" };

export type Section = Exclude<AdminPage["page"], "unknown">;

const DOMAIN = /^[^/\s?#]{1,253}$/;
const QUEUE_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function parseAdminPath(path: string): AdminPage {
  const parts = path.split("/").filter((p) => p !== "");
  const [head, arg, ...rest] = parts;
  if (rest.length > 0) return { page: "unknown" };
  let decoded: string | undefined;
  try {
    decoded = arg === undefined ? undefined : decodeURIComponent(arg);
  } catch {
    return { page: "unknown" };
  }
  switch (head) {
    case undefined:
      return { page: "dashboard" };
    case "domains":
      if (decoded === undefined) return { page: "domains", name: null };
      return DOMAIN.test(decoded) ? { page: "domains", name: decoded.toLowerCase() } : { page: "unknown" };
    case "accounts": {
      if (decoded === undefined) return { page: "accounts", id: null };
      if (!/^\d{1,15}$/.test(decoded) || Number(decoded) <= 0) return { page: "unknown" };
      return { page: "accounts", id: Number(decoded) };
    }
    case "queue":
      if (decoded === undefined) return { page: "queue", id: null };
      return QUEUE_ID.test(decoded) ? { page: "queue", id: decoded } : { page: "unknown" };
    case "aliases":
    case "relay":
    case "log":
    case "audit":
    case "held":
      return decoded === undefined ? { page: head } : { page: "unknown" };
    default:
      return { page: "unknown" };
  }
}

/** The console path of a page (what AdminView hands to onNavigate). */
export function adminPath(page: AdminPage): string {
  switch (page.page) {
    case "dashboard":
    case "unknown":
      return "";
    case "domains":
      return page.name === null ? "domains" : `domains/${encodeURIComponent(page.name)}`;
    case "accounts":
      return page.id === null ? "accounts" : `accounts/${page.id}`;
    case "queue":
      return page.id === null ? "queue" : `queue/${encodeURIComponent(page.id)}`;
    default:
      return page.page;
  }
}
