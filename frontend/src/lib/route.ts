// The app's URLs: /, /folders/{id}, /folders/{id}/messages/{mid}. Django answers every one of
// them with index.html, so a reload or a pasted link lands on the same screen.
export interface Route {
  folderId: number | null;
  messageId: number | null;
}

const PATTERN = /^\/folders\/(\d+)(?:\/messages\/(\d+))?\/?$/;

export function parseRoute(pathname: string): Route {
  const match = PATTERN.exec(pathname);
  if (!match) return { folderId: null, messageId: null };
  return {
    folderId: Number(match[1]),
    messageId: match[2] === undefined ? null : Number(match[2]),
  };
}

export function routePath(route: Route): string {
  if (route.folderId === null) return "/";
  const base = `/folders/${route.folderId}`;
  return route.messageId === null ? base : `${base}/messages/${route.messageId}`;
}
