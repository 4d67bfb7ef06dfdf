import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { folder } from "../../test/fixtures";
import { renderIn } from "../../test/render";
import { MailboxList } from "./MailboxList";

const folders = [
  folder({ id: 9, name: "Projects", special_use: "", unread: 0 }),
  folder({ id: 2, name: "Junk", special_use: "junk", unread: 1 }),
  folder({ id: 1, name: "INBOX", special_use: "inbox", unread: 3 }),
];

describe("MailboxList", () => {
  it("lists folders in order with Korean names and unread counts", () => {
    renderIn("ko", <MailboxList folders={folders} selectedId={1} onSelect={vi.fn()} />);
    const buttons = screen.getAllByRole("button");
    expect(buttons.map((b) => b.querySelector(".folder-name")?.textContent)).toEqual([
      "받은메일함",
      "스팸메일함",
      "Projects",
    ]);
    expect(screen.getByLabelText("안 읽은 메일 3통").textContent).toBe("3");
    expect(screen.getByTestId("folder-inbox").getAttribute("aria-current")).toBe("page");
    // No badge for a folder with nothing unread.
    expect(screen.getByTestId("folder-9").querySelector(".unread-count")).toBeNull();
  });

  it("selects a folder on click", () => {
    const onSelect = vi.fn();
    renderIn("en", <MailboxList folders={folders} selectedId={1} onSelect={onSelect} />);
    fireEvent.click(screen.getByTestId("folder-junk"));
    expect(onSelect).toHaveBeenCalledWith(2);
  });
});
