import { describe, expect, it } from "vitest";
import { makeTranslate } from "../../i18n/translate";
import { folder } from "../../test/fixtures";
import { folderDisplayName, sortFolders } from "./folderName";

const ko = makeTranslate("ko");
const en = makeTranslate("en");

describe("folderDisplayName", () => {
  it.each([
    ["inbox", "받은메일함", "Inbox"],
    ["sent", "보낸메일함", "Sent"],
    ["drafts", "임시보관함", "Drafts"],
    ["tome", "내게쓴메일함", "To me"],
    ["junk", "스팸메일함", "Junk"],
    ["trash", "휴지통", "Trash"],
  ] as const)("names %s %s in Korean and %s in English", (use, korean, english) => {
    const f = folder({ name: "Whatever/Stored", special_use: use });
    expect(folderDisplayName(f, ko)).toBe(korean);
    expect(folderDisplayName(f, en)).toBe(english);
  });

  it("keeps a user folder's own name in every language", () => {
    const f = folder({ name: "여행/2024", special_use: "" });
    expect(folderDisplayName(f, ko)).toBe("여행/2024");
    expect(folderDisplayName(f, en)).toBe("여행/2024");
  });
});

describe("sortFolders", () => {
  it("puts special folders in Naver order, then user folders by name", () => {
    const sorted = sortFolders([
      folder({ id: 1, name: "Zeta", special_use: "" }),
      folder({ id: 2, name: "Trash", special_use: "trash" }),
      folder({ id: 3, name: "Alpha", special_use: "" }),
      folder({ id: 4, name: "Sent", special_use: "sent" }),
      folder({ id: 5, name: "INBOX", special_use: "inbox" }),
    ]);
    expect(sorted.map((f) => f.id)).toEqual([5, 4, 2, 3, 1]);
  });
});
