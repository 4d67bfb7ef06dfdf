// The rich-text body: TipTap (ProseMirror) with StarterKit (bold, italic, underline, lists,
// quote, link) and a toolbar. Only what its schema knows survives pasting or loading HTML;
// the server sanitizes what is sent anyway.
import { EditorContent, useEditor, useEditorState, type Editor } from "@tiptap/react";
import StarterKit from "@tiptap/starter-kit";
import { useEffect, useState, type FormEvent } from "react";
import { Icon } from "../../components/Icon";
import { useT } from "../../i18n/I18nContext";
import type { MessageKey } from "../../i18n/messages";

interface Props {
  initialHtml: string;
  onChange: (html: string) => void;
  label: string;
  disabled?: boolean;
  autoFocus?: boolean;
}

type Mark = "bold" | "italic" | "underline" | "bulletList" | "orderedList" | "blockquote" | "link";

const BUTTONS: ReadonlyArray<{ mark: Mark; key: MessageKey; run: (e: Editor) => void }> = [
  { mark: "bold", key: "compose.toolbar.bold", run: (e) => e.chain().focus().toggleBold().run() },
  { mark: "italic", key: "compose.toolbar.italic", run: (e) => e.chain().focus().toggleItalic().run() },
  { mark: "underline", key: "compose.toolbar.underline", run: (e) => e.chain().focus().toggleUnderline().run() },
  { mark: "bulletList", key: "compose.toolbar.bulletList", run: (e) => e.chain().focus().toggleBulletList().run() },
  { mark: "orderedList", key: "compose.toolbar.orderedList", run: (e) => e.chain().focus().toggleOrderedList().run() },
  { mark: "blockquote", key: "compose.toolbar.quote", run: (e) => e.chain().focus().toggleBlockquote().run() },
];

/** http(s) and mailto links only; a bare host gets https://. */
export function normaliseLink(input: string): string | null {
  const value = input.trim();
  if (!value) return null;
  if (/^mailto:/i.test(value)) return value;
  const withScheme = /^[a-z][a-z0-9+.-]*:/i.test(value) ? value : `https://${value}`;
  try {
    const url = new URL(withScheme);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export function RichEditor({ initialHtml, onChange, label, disabled, autoFocus }: Props) {
  const t = useT();
  const [linkOpen, setLinkOpen] = useState(false);
  const [linkText, setLinkText] = useState("");
  const [linkError, setLinkError] = useState(false);
  const editor = useEditor({
    extensions: [
      StarterKit.configure({
        heading: false,
        codeBlock: false,
        link: {
          openOnClick: false,
          autolink: true,
          defaultProtocol: "https",
          protocols: ["http", "https", "mailto"],
          HTMLAttributes: { rel: "noopener noreferrer", target: "_blank" },
        },
      }),
    ],
    content: initialHtml,
    // The app's CSP has no 'unsafe-inline' for styles: ProseMirror's rules are in compose.css.
    injectCSS: false,
    editable: !disabled,
    autofocus: autoFocus ? "start" : false,
    immediatelyRender: true,
    editorProps: {
      attributes: {
        role: "textbox",
        "aria-multiline": "true",
        "aria-label": label,
        class: "editor-content",
        "data-testid": "compose-body",
      },
    },
    onUpdate: ({ editor: e }) => onChange(e.getHTML()),
  });

  useEffect(() => {
    // No update event: locking the editor while sending is not an edit.
    if (editor && editor.isEditable === Boolean(disabled)) editor.setEditable(!disabled, false);
  }, [editor, disabled]);

  const active = useEditorState({
    editor,
    selector: ({ editor: e }): Record<Mark, boolean> => ({
      bold: e?.isActive("bold") ?? false,
      italic: e?.isActive("italic") ?? false,
      underline: e?.isActive("underline") ?? false,
      bulletList: e?.isActive("bulletList") ?? false,
      orderedList: e?.isActive("orderedList") ?? false,
      blockquote: e?.isActive("blockquote") ?? false,
      link: e?.isActive("link") ?? false,
    }),
  });

  const openLink = (): void => {
    if (!editor) return;
    setLinkText((editor.getAttributes("link").href as string | undefined) ?? "");
    setLinkError(false);
    setLinkOpen(true);
  };

  const applyLink = (event: FormEvent): void => {
    event.preventDefault();
    if (!editor) return;
    if (!linkText.trim()) {
      editor.chain().focus().extendMarkRange("link").unsetLink().run();
      setLinkOpen(false);
      return;
    }
    const href = normaliseLink(linkText);
    if (!href) {
      setLinkError(true);
      return;
    }
    const chain = editor.chain().focus().extendMarkRange("link");
    if (editor.state.selection.empty && !editor.isActive("link")) {
      chain.insertContent({ type: "text", text: href, marks: [{ type: "link", attrs: { href } }] }).run();
    } else {
      chain.setLink({ href }).run();
    }
    setLinkOpen(false);
  };

  return (
    <div className="rich-editor">
      <div className="toolbar" role="toolbar" aria-label={t("compose.toolbar")}>
        {BUTTONS.map((b) => (
          <button
            key={b.mark}
            type="button"
            className={`tool tool-${b.mark}`}
            aria-label={t(b.key)}
            title={t(b.key)}
            aria-pressed={active?.[b.mark] ?? false}
            disabled={disabled || !editor}
            onMouseDown={(e) => e.preventDefault()}
            onClick={() => editor && b.run(editor)}
          >
            <Icon name={b.mark} />
          </button>
        ))}
        <button
          type="button"
          className="tool tool-link"
          aria-label={t("compose.toolbar.link")}
          title={t("compose.toolbar.link")}
          aria-pressed={active?.link ?? false}
          aria-expanded={linkOpen}
          disabled={disabled || !editor}
          onMouseDown={(e) => e.preventDefault()}
          onClick={openLink}
        >
          <Icon name="link" />
        </button>
      </div>
      {linkOpen && (
        <form className="link-form" onSubmit={applyLink}>
          <label>
            {t("compose.link.address")}
            <input
              type="text"
              inputMode="url"
              value={linkText}
              autoFocus
              aria-invalid={linkError || undefined}
              onChange={(e) => {
                setLinkText(e.target.value);
                setLinkError(false);
              }}
              onKeyDown={(e) => {
                if (e.key === "Escape") setLinkOpen(false);
              }}
            />
          </label>
          <button type="submit">{t("compose.link.apply")}</button>
          <button type="button" onClick={() => setLinkOpen(false)}>
            {t("compose.cancel")}
          </button>
          {linkError && (
            <span className="field-error" role="alert">
              {t("compose.link.invalid")}
            </span>
          )}
        </form>
      )}
      <EditorContent editor={editor} className="editor" />
    </div>
  );
}
