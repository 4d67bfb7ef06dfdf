// Toolbar and folder-pane icons: lucide (an icon set packaged for npm, tree-shaken so only
// these ship). Decorative: the button or link next to it carries the accessible name.
import {
  ArrowLeft,
  Bold,
  Italic,
  Link,
  List,
  ListOrdered,
  Quote,
  Underline,
  Ellipsis,
  FileCode,
  FolderInput,
  Forward,
  Mail,
  MailOpen,
  Paperclip,
  Printer,
  Reply,
  ReplyAll,
  ShieldBan,
  ShieldCheck,
  SquarePen,
  Star,
  Trash,
  type LucideIcon,
} from "lucide-react";

const ICONS = {
  back: ArrowLeft,
  more: Ellipsis,
  source: FileCode,
  move: FolderInput,
  forward: Forward,
  mail: Mail,
  unread: MailOpen,
  paperclip: Paperclip,
  print: Printer,
  reply: Reply,
  replyall: ReplyAll,
  spam: ShieldBan,
  notspam: ShieldCheck,
  compose: SquarePen,
  star: Star,
  delete: Trash,
  bold: Bold,
  italic: Italic,
  underline: Underline,
  bulletList: List,
  orderedList: ListOrdered,
  blockquote: Quote,
  link: Link,
} satisfies Record<string, LucideIcon>;

export type IconName = keyof typeof ICONS;

export function Icon({ name, filled = false }: { name: IconName; filled?: boolean }) {
  const Glyph = ICONS[name];
  return <Glyph className="icon" size={16} strokeWidth={1.75} aria-hidden="true" focusable="false" fill={filled ? "currentColor" : "none"} />;
}
