// Objects shaped exactly like the API's answers (typed by the generated schema).
import type { Folder, MessageListItem } from "../api/folders";
import type { MessageDetail } from "../api/messages";

export function folder(overrides: Partial<Folder> = {}): Folder {
  return { id: 1, name: "INBOX", special_use: "inbox", uidvalidity: 1, uidnext: 1, total: 0, unread: 0, ...overrides };
}

export function listItem(overrides: Partial<MessageListItem> = {}): MessageListItem {
  return {
    id: 1,
    folder: 1,
    uid: 1,
    subject: "Hello",
    from: { name: "Bob", address: "bob@example.com" },
    to: [{ name: "", address: "alice@example.com" }],
    cc: [],
    date: "2024-05-01T09:30:00Z",
    internal_date: "2024-05-01T09:30:01Z",
    size: 1234,
    snippet: "Hi Alice",
    has_attachments: false,
    flags: { seen: true, answered: false, flagged: false, deleted: false, draft: false },
    keywords: [],
    conversation_id: 1,
    conversation: null,
    ...overrides,
  };
}

export function detail(overrides: Partial<MessageDetail> = {}): MessageDetail {
  return {
    ...listItem(),
    message_id: "<1@example.com>",
    in_reply_to: "",
    references: [],
    reply_to: [],
    text: "Hi Alice",
    html: null,
    remote_images_blocked: 0,
    attachments: [],
    body_url: "/api/v1/messages/1/body",
    remote_images_allowed: false,
    trust: {
      spf: "",
      dkim: "",
      dmarc: "",
      spam_score: null,
      spam_unscanned: false,
      verified: false,
      lookalike: "",
      warnings: [],
    },
    ...overrides,
  };
}
