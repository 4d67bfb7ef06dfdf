import { act, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/client";
import { renderIn } from "../../test/render";
import { ContactForm } from "./ContactForm";
import type { BookContact, ContactInput } from "./contactsApi";

const saved: BookContact = {
  id: 5,
  name: "김민수",
  addresses: ["minsu@x.kr"],
  phone: "",
  company: "",
  memo: "",
  groups: [],
  source: "manual",
  updated_at: "2026-12-04T00:00:00Z",
};

async function flush(): Promise<void> {
  await act(async () => {
    await Promise.resolve();
  });
}

afterEach(() => vi.restoreAllMocks());

describe("ContactForm", () => {
  it("sends every field, addresses one per line, and the chosen groups", async () => {
    const save = vi.fn((_id: number | null, _body: ContactInput) => Promise.resolve(saved));
    const onSaved = vi.fn();
    renderIn(
      "ko",
      <ContactForm
        contact={null}
        groups={[{ id: 1, name: "친구", size: 0 }, { id: 2, name: "회사", size: 3 }]}
        defaultGroup={2}
        onSaved={onSaved}
        onCancel={() => undefined}
        save={save}
      />,
    );
    fireEvent.change(screen.getByLabelText("이름"), { target: { value: " 김민수 " } });
    fireEvent.change(screen.getByLabelText("이메일 주소 (한 줄에 하나)"), { target: { value: "minsu@x.kr\n\nm2@x.kr, m3@x.kr" } });
    fireEvent.change(screen.getByLabelText("전화번호"), { target: { value: "010-1234-5678" } });
    fireEvent.click(screen.getByRole("checkbox", { name: "친구" }));
    fireEvent.click(screen.getByTestId("contact-save"));
    await flush();
    expect(save).toHaveBeenCalledWith(null, {
      name: "김민수",
      addresses: ["minsu@x.kr", "m2@x.kr", "m3@x.kr"],
      phone: "010-1234-5678",
      company: "",
      memo: "",
      groups: [2, 1],
    });
    expect(onSaved).toHaveBeenCalledWith(saved);
  });

  it("shows the server's field errors under the field and keeps the input", async () => {
    const save = vi.fn(() =>
      Promise.reject(new ApiError(400, "invalid", "invalid input", { addresses: ["Not an e-mail address: nope"] })),
    );
    renderIn("en", <ContactForm contact={saved} groups={[]} defaultGroup={null} onSaved={() => undefined} onCancel={() => undefined} save={save} />);
    fireEvent.change(screen.getByLabelText("E-mail addresses (one per line)"), { target: { value: "nope" } });
    fireEvent.click(screen.getByTestId("contact-save"));
    await flush();
    expect(save).toHaveBeenCalledWith(5, expect.objectContaining({ addresses: ["nope"] }));
    expect(screen.getByRole("alert").textContent).toBe("Not an e-mail address: nope");
    expect((screen.getByLabelText("E-mail addresses (one per line)") as HTMLTextAreaElement).value).toBe("nope");
  });
});
