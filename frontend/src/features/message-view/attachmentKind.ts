// What an attachment is, for its icon and for whether it may be previewed inline.
export type AttachmentKind = "image" | "pdf" | "document" | "spreadsheet" | "presentation" | "archive" | "audio" | "video" | "text" | "other";

// The raster types the server serves with their own type after checking the bytes
// (webmail/api/downloads.py RASTER_TYPES); SVG never, it can carry script.
const PREVIEWABLE = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export function canPreview(contentType: string): boolean {
  return PREVIEWABLE.has(contentType.toLowerCase());
}

export function attachmentKind(contentType: string, filename: string): AttachmentKind {
  const type = contentType.toLowerCase();
  const ext = filename.toLowerCase().split(".").pop() ?? "";
  if (type.startsWith("image/")) return "image";
  if (type === "application/pdf" || ext === "pdf") return "pdf";
  if (type.startsWith("audio/")) return "audio";
  if (type.startsWith("video/")) return "video";
  if (/spreadsheet|excel|csv/.test(type) || ["xls", "xlsx", "ods", "csv"].includes(ext)) return "spreadsheet";
  if (/presentation|powerpoint/.test(type) || ["ppt", "pptx", "odp"].includes(ext)) return "presentation";
  if (/word|hwp|hancom|opendocument\.text|rtf/.test(type) || ["doc", "docx", "hwp", "hwpx", "odt", "rtf"].includes(ext))
    return "document";
  if (/zip|rar|7z|gzip|tar/.test(type) || ["zip", "rar", "7z", "gz", "tgz", "tar"].includes(ext)) return "archive";
  if (type.startsWith("text/")) return "text";
  return "other";
}

export const KIND_ICONS: Readonly<Record<AttachmentKind, string>> = {
  image: "🖼",
  pdf: "📕",
  document: "📄",
  spreadsheet: "📊",
  presentation: "📽",
  archive: "🗜",
  audio: "🎵",
  video: "🎬",
  text: "📝",
  other: "📎",
};

/** The name split so the extension can always be shown, even when the stem is cut short. */
export function splitExtension(filename: string): [string, string] {
  const dot = filename.lastIndexOf(".");
  if (dot <= 0 || filename.length - dot > 17) return [filename, ""];
  return [filename.slice(0, dot), filename.slice(dot)];
}
