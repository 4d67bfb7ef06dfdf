// One recipient field (To, Cc or Bcc): addresses as tokens, invalid ones in red with the
// reason, and suggestions from the user's contacts (an ARIA combobox: arrows, Enter, Escape).
import { useEffect, useId, useRef, useState, type ClipboardEvent, type KeyboardEvent } from "react";
import { useT } from "../../i18n/I18nContext";
import type { MessageKey } from "../../i18n/messages";
import { addressKey, parseAddressList, type AddressProblem, type ParsedAddress } from "./addresses";
import type { Contact } from "./composeApi";

export interface Token extends ParsedAddress {
  id: string;
  /** The server refused this address (shown like a local problem). */
  serverError?: string;
  /** An address-book group (expanded by the server at send; address is ""). */
  groupId?: number;
}

let nextId = 0;
export function makeToken(parsed: ParsedAddress): Token {
  nextId += 1;
  return { ...parsed, id: `r${nextId}` };
}

export function groupToken(name: string, groupId: number): Token {
  return { ...makeToken({ raw: name, name, address: "", problem: null }), groupId };
}

export function tokensFrom(text: string): Token[] {
  return parseAddressList(text).map(makeToken);
}

const PROBLEM_KEYS: Readonly<Record<AddressProblem, MessageKey>> = {
  empty: "compose.address.empty",
  control: "compose.address.control",
  noAt: "compose.address.noAt",
  local: "compose.address.local",
  domain: "compose.address.domain",
  tooLong: "compose.address.tooLong",
};

export function tokenInvalid(token: Token): boolean {
  return token.problem !== null || Boolean(token.serverError);
}

interface Props {
  label: string;
  tokens: readonly Token[];
  onChange: (tokens: Token[]) => void;
  suggest?: (q: string, signal: AbortSignal) => Promise<Contact[]>;
  disabled?: boolean;
  autoFocus?: boolean;
  testId: string;
}

export function RecipientInput({ label, tokens, onChange, suggest, disabled, autoFocus, testId }: Props) {
  const t = useT();
  const inputId = useId();
  const listId = useId();
  const [text, setText] = useState("");
  const [options, setOptions] = useState<Contact[]>([]);
  const [active, setActive] = useState(-1);
  const [open, setOpen] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const tokensRef = useRef(tokens);
  tokensRef.current = tokens;

  // Suggestions for what is being typed: debounced, the previous request aborted.
  useEffect(() => {
    const q = text.trim();
    if (!suggest || q.length === 0 || /[,;]/.test(q)) {
      setOptions([]);
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => {
      suggest(q, abort.signal).then(
        (found) => {
          const have = new Set(tokensRef.current.map((tk) => addressKey(tk.address)));
          const taken = (c: Contact): boolean =>
            c.group_id !== null ? tokensRef.current.some((tk) => tk.groupId === c.group_id) : have.has(addressKey(c.address));
          setOptions(found.filter((c) => !taken(c)).slice(0, 10));
          setActive(-1);
        },
        () => setOptions([]), // no suggestions is not an error worth showing while typing
      );
    }, 150);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [text, suggest]);

  const add = (parsed: ParsedAddress[]): void => {
    if (parsed.length === 0) return;
    const have = new Set(tokens.map((tk) => addressKey(tk.address)));
    const fresh = parsed.filter((p) => p.problem !== null || !have.has(addressKey(p.address)));
    onChange([...tokens, ...fresh.map(makeToken)]);
  };

  const commitText = (): void => {
    if (text.trim()) add(parseAddressList(text));
    setText("");
    setOpen(false);
  };

  const choose = (contact: Contact): void => {
    const gid = contact.group_id;
    if (gid !== null) {
      if (!tokens.some((tk) => tk.groupId === gid)) onChange([...tokens, groupToken(contact.name, gid)]);
    } else add([{ raw: contact.address, name: contact.name, address: contact.address, problem: null }]);
    setText("");
    setOpen(false);
    setOptions([]);
    inputRef.current?.focus();
  };

  const remove = (id: string): void => onChange(tokens.filter((tk) => tk.id !== id));

  const edit = (token: Token): void => {
    onChange(tokens.filter((tk) => tk.id !== token.id));
    setText(token.raw);
    inputRef.current?.focus();
  };

  const showList = open && options.length > 0;

  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>): void => {
    // Korean (and other) input methods use Enter to finish composing a syllable.
    if (event.nativeEvent.isComposing) return;
    if (showList && event.key === "ArrowDown") {
      event.preventDefault();
      setActive((i) => (i + 1) % options.length);
    } else if (showList && event.key === "ArrowUp") {
      event.preventDefault();
      setActive((i) => (i <= 0 ? options.length - 1 : i - 1));
    } else if (event.key === "Escape" && showList) {
      event.preventDefault();
      setOpen(false);
    } else if ((event.key === "Enter" || event.key === "Tab") && showList && active >= 0) {
      event.preventDefault();
      choose(options[active] as Contact);
    } else if (event.key === "Enter" || event.key === "," || event.key === ";") {
      if (text.trim()) {
        event.preventDefault();
        commitText();
      } else if (event.key !== "Enter") {
        event.preventDefault();
      }
    } else if (event.key === "Backspace" && text === "" && tokens.length > 0) {
      const last = tokens[tokens.length - 1] as Token;
      event.preventDefault();
      edit(last);
    }
  };

  const onPaste = (event: ClipboardEvent<HTMLInputElement>): void => {
    const pasted = event.clipboardData.getData("text");
    if (/[,;\n]/.test(pasted)) {
      event.preventDefault();
      add(parseAddressList(text + pasted));
      setText("");
    }
  };

  const reasonOf = (token: Token): string | null =>
    token.serverError ?? (token.problem ? t(PROBLEM_KEYS[token.problem]) : null);

  const hasInvalid = tokens.some(tokenInvalid);

  return (
    <div className="recipient-field" data-testid={testId}>
      <label htmlFor={inputId}>{label}</label>
      <div className="recipient-box" onClick={() => inputRef.current?.focus()}>
        <ul className="tokens">
          {tokens.map((token) => {
            const reason = reasonOf(token);
            const shown = token.name ? `${token.name} <${token.address}>` : token.address || token.raw;
            return (
              <li
                key={token.id}
                className={reason ? "token invalid" : token.groupId !== undefined ? "token group" : "token"}
                title={reason ?? token.address}
                data-testid="recipient-token"
                data-invalid={reason ? "true" : "false"}
              >
                <button
                  type="button"
                  className="token-text"
                  onClick={() => (reason ? edit(token) : undefined)}
                  onDoubleClick={() => edit(token)}
                  disabled={disabled}
                  aria-label={reason ? t("compose.recipient.invalid", { address: shown, reason }) : shown}
                >
                  {token.name || token.address || token.raw}
                  {token.groupId !== undefined && <span className="token-kind"> ({t("contacts.group")})</span>}
                </button>
                {reason && <span className="token-reason">{reason}</span>}
                <button
                  type="button"
                  className="token-remove"
                  onClick={() => remove(token.id)}
                  disabled={disabled}
                  aria-label={t("compose.recipient.remove", { address: token.address || token.raw })}
                >
                  ×
                </button>
              </li>
            );
          })}
        </ul>
        <input
          ref={inputRef}
          id={inputId}
          type="text"
          role="combobox"
          autoComplete="off"
          spellCheck={false}
          aria-autocomplete="list"
          aria-expanded={showList}
          aria-controls={listId}
          aria-invalid={hasInvalid || undefined}
          aria-activedescendant={showList && active >= 0 ? `${listId}-${active}` : undefined}
          value={text}
          disabled={disabled}
          autoFocus={autoFocus}
          onChange={(e) => {
            setText(e.target.value);
            setOpen(true);
          }}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
          onBlur={() => {
            // A click on a suggestion lands before blur (mousedown is prevented there).
            if (text.trim()) commitText();
            setOpen(false);
          }}
        />
      </div>
      <ul id={listId} role="listbox" className="suggestions" aria-label={label} hidden={!showList}>
        {showList &&
          options.map((contact, i) => (
            <li
              key={contact.group_id !== null ? `g${contact.group_id}` : contact.address}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? "active" : undefined}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => choose(contact)}
            >
              {contact.group_id !== null ? (
                <>
                  <span className="contact-name">{contact.name}</span>{" "}
                  <span className="contact-address">
                    {t("contacts.group")} · {t("contacts.groupMembers", { count: contact.members })}
                  </span>
                </>
              ) : contact.name ? (
                <>
                  <span className="contact-name">{contact.name}</span>{" "}
                  <span className="contact-address">{contact.address}</span>
                </>
              ) : (
                <span className="contact-address">{contact.address}</span>
              )}
            </li>
          ))}
      </ul>
    </div>
  );
}
