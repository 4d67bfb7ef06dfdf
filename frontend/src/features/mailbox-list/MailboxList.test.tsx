import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { folder } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { MailboxList } from "./MailboxList";

const folders = [
  folder({ id: 9, name: "Projects", special_use: "", unread: 0 }),
  folder({ id: 2, name: "Junk", special_use: "junk", unread: 1, total: 4 }),
  folder({ id: 1, name: "INBOX", special_use: "inbox", unread: 3 }),
  folder({ id: 5, name: "To Me", special_use: "tome" }),
  folder({ id: 6, name: "Trash", special_use: "trash", total: 0 }),
  folder({ id: 7, name: "evil\u202Egpj.exe", special_use: "" }),
];

function renderList(locale: "ko" | "en" = "en") {
  const props = { folders, selectedId: 1, onSelect: vi.fn(), onCompose: vi.fn(), onChanged: vi.fn() };
  renderIn(locale, <MailboxList {...props} />);
  return props;
}

describe("MailboxList", () => {
  it("lists folders as links in Naver order with Korean names", () => {
    renderList("ko");
    const links = screen.getAllByRole("link");
    expect(links.map((a) => a.textContent)).toEqual(["받은메일함3", "내게쓴메일함", "스팸메일함1", "휴지통", "Projects", "evilgpj.exe"]);
    expect(screen.getByTestId("folder-inbox").getAttribute("href")).toBe("/folders/1");
  });

  it("names each link by the folder alone and puts the unread count in its description", () => {
    renderList("en");
    const inbox = screen.getByRole("link", { name: "Inbox" });
    expect(inbox.getAttribute("aria-current")).toBe("page");
    expect(inbox.getAttribute("aria-description")).toBe("3 unread");
    expect(screen.getByRole("link", { name: "Projects" }).hasAttribute("aria-description")).toBe(false);
  });

  it("neutralises bidi overrides in folder names", () => {
    renderList("en");
    expect(screen.getByTestId("folder-7").textContent).toBe("evilgpj.exe");
  });

  it("selects a folder on a plain click and lets modified clicks through to the browser", () => {
    const props = renderList();
    fireEvent.click(screen.getByTestId("folder-junk"));
    expect(props.onSelect).toHaveBeenCalledWith(2);
    fireEvent.click(screen.getByTestId("folder-junk"), { ctrlKey: true });
    expect(props.onSelect).toHaveBeenCalledTimes(1);
  });

  it("has a Compose button", () => {
    const props = renderList();
    fireEvent.click(screen.getByRole("button", { name: "Compose" }));
    expect(props.onCompose).toHaveBeenCalledOnce();
  });

  it("offers Empty only for a non-empty Junk or Trash, behind a confirmation", () => {
    renderList();
    expect(screen.queryByTestId("empty-trash")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Empty Junk" }));
    const dialog = screen.getByRole("alertdialog");
    expect(dialog.textContent).toContain("Delete all messages in Junk (4) for good?");
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("alertdialog")).toBeNull();
  });

  it("offers rename and delete for user folders only", () => {
    renderList();
    expect(screen.getByRole("button", { name: "Rename Projects" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Delete Projects" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Delete Inbox" })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Rename Projects" }));
    expect((screen.getByRole("textbox", { name: "Folder name" }) as HTMLInputElement).value).toBe("Projects");
  });
});
