// The compose screen: new message, reply, reply-all, forward, or a draft continued. Loads what
// the form starts with, then hands over to ComposeForm. Lazy-loaded with the editor by the
// shell (named export ComposeView, also the default export).
import { useEffect, useRef, useState } from "react";
import { ErrorNotice } from "../../components/ErrorNotice";
import { useI18n } from "../../i18n/I18nContext";
import type { ComposeParams } from "../../lib/route";
import { ComposeForm } from "./ComposeForm";
import type { SendResult } from "./composeApi";
import { loadInitial, type Initial, type LoadRequest, type UiMode } from "./loadInitial";
import "./compose.css";

export interface ComposeViewProps {
  /** The shell's route params (/compose?draft=|reply=|replyall=|forward=|to=). */
  params?: ComposeParams;
  /** Or the same, spelled out. */
  mode?: "new" | "reply" | "replyall" | "forward";
  messageId?: number;
  draftId?: number;
  onClose: () => void;
  /** After a successful send; the view then shows "Sent" until closed. */
  onSent?: (result: SendResult) => void;
  /** Every autosave gives the draft a new id. Without this callback the view replaces the
   * URL with /compose?draft=ID itself, so a reload reopens the draft. */
  onDraftSaved?: (draftId: number) => void;
}

function request(props: ComposeViewProps): LoadRequest {
  if (props.params) return { mode: props.params.mode, id: props.params.id, to: props.params.to };
  if (props.draftId !== undefined) return { mode: "draft", id: props.draftId, to: "" };
  const mode: UiMode = props.mode ?? "new";
  return { mode, id: mode === "new" ? null : (props.messageId ?? null), to: "" };
}

export function ComposeView(props: ComposeViewProps) {
  const { t, locale } = useI18n();
  const req = request(props);
  // Drafts this view saved itself: the shell echoing their id back is not a new screen.
  const ownDrafts = useRef(new Set<number>());
  const own = req.mode === "draft" && req.id !== null && ownDrafts.current.has(req.id);
  const keyRef = useRef("");
  if (!own) keyRef.current = `${req.mode}:${req.id ?? ""}:${req.to}`;
  const loadKey = keyRef.current;
  const [initial, setInitial] = useState<Initial | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    setInitial(null);
    setError(null);
    loadInitial(req, t, locale, abort.signal).then(
      (value) => setInitial(value),
      (err: unknown) => {
        if (!abort.signal.aborted) setError(err);
      },
    );
    return () => abort.abort();
    // req, t and locale are read once per screen: switching the language must not reset it.
  }, [loadKey, attempt]);

  if (error !== null) {
    return (
      <section className="compose" aria-label={t("compose.title")}>
        <ErrorNotice error={error} onRetry={() => setAttempt((n) => n + 1)} />
        <button type="button" onClick={props.onClose}>
          {t("compose.close")}
        </button>
      </section>
    );
  }
  if (initial === null) return <p className="loading">{t("loading")}</p>;
  return (
    <ComposeForm
      key={`${loadKey}:${attempt}`}
      initial={initial}
      onClose={props.onClose}
      {...(props.onSent ? { onSent: props.onSent } : {})}
      onDraftSaved={(id) => {
        ownDrafts.current.add(id);
        if (props.onDraftSaved) props.onDraftSaved(id);
        else if (window.location.pathname.startsWith("/compose")) {
          window.history.replaceState(window.history.state, "", `/compose?draft=${id}`);
        }
      }}
    />
  );
}

export default ComposeView;
