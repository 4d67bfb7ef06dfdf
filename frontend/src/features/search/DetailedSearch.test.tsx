import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Folder } from "../../api/folders";
import { renderIn } from "../../test/render";
import { DetailedSearch } from "./DetailedSearch";
import { Highlight, HighlightProvider } from "./Highlight";

const FOLDERS = [
  { id: 1, name: "INBOX", special_use: "inbox" },
  { id: 7, name: "Projects", special_use: "" },
] as unknown as Folder[];

function type(testId: string, value: string): void {
  fireEvent.change(screen.getByTestId(testId), { target: { value } });
}

describe("DetailedSearch (상세검색)", () => {
  it("builds the query from its fields and searches the chosen folder", () => {
    const onSearch = vi.fn();
    renderIn("ko", <DetailedSearch folders={FOLDERS} q="" folderId={null} onSearch={onSearch} />);
    fireEvent.click(screen.getByRole("button", { name: "상세검색" }));
    expect(screen.getByRole("dialog", { name: "상세검색" })).toBeTruthy();
    type("dsearch-from", "김민수");
    type("dsearch-filename", "보고서");
    type("dsearch-after", "2026-03-01");
    type("dsearch-before", "2026-03-31");
    fireEvent.click(screen.getByTestId("dsearch-has-attachment"));
    type("dsearch-read", "unread");
    type("dsearch-folder", "7");
    fireEvent.click(screen.getByTestId("dsearch-submit"));
    expect(onSearch).toHaveBeenCalledWith(
      "from:김민수 filename:보고서 has:attachment is:unread after:2026-03-01 before:2026-04-01",
      7,
    );
    expect(screen.queryByTestId("dsearch-panel")).toBeNull();
  });

  it("refuses an empty panel and a reversed date range with a message", () => {
    const onSearch = vi.fn();
    renderIn("en", <DetailedSearch folders={FOLDERS} q="" folderId={null} onSearch={onSearch} />);
    fireEvent.click(screen.getByTestId("dsearch-toggle"));
    fireEvent.click(screen.getByTestId("dsearch-submit"));
    expect(screen.getByRole("alert").textContent).toBe("Fill in at least one field.");
    type("dsearch-after", "2026-03-05");
    type("dsearch-before", "2026-03-01");
    fireEvent.click(screen.getByTestId("dsearch-submit"));
    expect(screen.getByRole("alert").textContent).toBe("The start date must be before the end date.");
    expect(onSearch).not.toHaveBeenCalled();
  });

  it("opens on the current search, and 'everywhere' adds in:anywhere", () => {
    const onSearch = vi.fn();
    renderIn("en", <DetailedSearch folders={FOLDERS} q="회의 from:kim in:anywhere" folderId={null} onSearch={onSearch} />);
    fireEvent.click(screen.getByTestId("dsearch-toggle"));
    expect((screen.getByTestId("dsearch-from") as HTMLInputElement).value).toBe("kim");
    expect((screen.getByTestId("dsearch-words") as HTMLInputElement).value).toBe("회의");
    expect((screen.getByTestId("dsearch-folder") as HTMLSelectElement).value).toBe("anywhere");
    fireEvent.click(screen.getByTestId("dsearch-submit"));
    expect(onSearch).toHaveBeenCalledWith("회의 from:kim in:anywhere", null);
  });
});

describe("Highlight", () => {
  it("marks the search's words only inside a HighlightProvider", () => {
    renderIn(
      "en",
      <>
        <HighlightProvider q="room">
          <p data-testid="inside">
            <Highlight text="Welcome to Mailroom" />
          </p>
        </HighlightProvider>
        <p data-testid="outside">
          <Highlight text="Welcome to Mailroom" />
        </p>
      </>,
    );
    expect(screen.getByTestId("inside").querySelector("mark")?.textContent).toBe("room");
    expect(screen.getByTestId("outside").querySelector("mark")).toBeNull();
  });
});
