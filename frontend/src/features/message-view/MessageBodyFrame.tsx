// The ONLY place mail HTML is rendered: the server's body document (sanitized HTML, or the
// text body escaped and linkified) in an iframe whose sandbox allows popups and nothing else —
// no scripts, no same-origin, no forms, no top navigation. Links open in a new tab, unsandboxed
// (allow-popups-to-escape-sandbox), so the sites they lead to work normally. Never add script
// or same-origin rights here (issue 4 §3, security.md W1; src/security.test.ts checks).
//
// The server answers with its own CSP (sandbox; default-src 'none'; img-src data: + the signed
// cid: path, remote hosts only with ?images=1), so the frame is locked down even when opened
// on its own. No script can measure the document, so the frame fills the reading pane and
// scrolls by itself.

export const BODY_SANDBOX = "allow-popups allow-popups-to-escape-sandbox";

interface Props {
  src: string;
  title: string;
}

export function MessageBodyFrame({ src, title }: Props) {
  return (
    <iframe
      // A new src means a new document: remount so the history of the app's tab is untouched.
      key={src}
      className="message-body-frame"
      sandbox={BODY_SANDBOX}
      referrerPolicy="no-referrer"
      src={src}
      title={title}
      data-testid="message-body-frame"
    />
  );
}
