// The ONLY place mail HTML is rendered: the server-sanitized HTML inside an iframe whose
// sandbox allows nothing — no scripts, no same-origin, no forms, no popups, no top
// navigation. Never add allow-scripts or allow-same-origin here (issue 4 §3, security.md).

interface Props {
  html: string;
  title: string;
}

/** Wraps the sanitized fragment in a document of its own; adds no markup from the mail. */
export function bodyDocument(html: string): string {
  return (
    '<!doctype html><html><head><meta charset="utf-8">' +
    '<meta name="referrer" content="no-referrer">' +
    "</head><body>" +
    html +
    "</body></html>"
  );
}

export function MessageBodyFrame({ html, title }: Props) {
  return (
    <iframe
      className="message-body-frame"
      sandbox=""
      referrerPolicy="no-referrer"
      srcDoc={bodyDocument(html)}
      title={title}
      data-testid="message-body-frame"
    />
  );
}
