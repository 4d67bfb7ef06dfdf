"""Address book API: CRUD with owner checks and limits, cursor pages, groups, autocomplete,
group recipients expanded at send, auto-add with its setting, and import/export round trips
(vCard 3.0/4.0, Google CSV, a CP949 Naver-style CSV, Outlook CSV with 성/이름)."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from mailcore.contacts.formats import parse_file, render_vcards
from mailcore.contacts.models import Contact
from mailcore.directory.models import Account
from tests.api.compose_helpers import messages_in, raw

E = "/api/v1/contacts/entries"
G = "/api/v1/contacts/groups"


def _add(api: APIClient, **body: Any) -> Any:
    r = api.post(E, body, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def _import(api: APIClient, data: bytes, name: str = "c.csv") -> Any:
    return api.post(
        "/api/v1/contacts/import", {"file": SimpleUploadedFile(name, data)}, format="multipart"
    )


def test_crud_owner_checks_and_validation(alice_api: APIClient, bob_api: APIClient) -> None:
    group = alice_api.post(G, {"name": "팀"}, format="json").json()
    c = _add(
        alice_api,
        name="김민수",
        addresses=["minsu@remote.test", "m2@remote.test"],
        phone="010-1234-5678",
        company="네이버",
        memo="점심",
        groups=[group["id"]],
    )
    assert c["addresses"] == ["minsu@remote.test", "m2@remote.test"]
    assert c["groups"] == [{"id": group["id"], "name": "팀"}] and c["source"] == "manual"
    # Bob sees none of it and cannot touch it, nor use alice's group.
    assert bob_api.get(f"{E}/{c['id']}").status_code == 404
    assert bob_api.put(f"{E}/{c['id']}", {"name": "x"}, format="json").status_code == 404
    assert bob_api.delete(f"{E}/{c['id']}").status_code == 404
    assert bob_api.post(E, {"name": "x", "groups": [group["id"]]}, format="json").status_code == 404
    assert bob_api.patch(f"{G}/{group['id']}", {"name": "y"}, format="json").status_code == 404
    assert bob_api.get(E).json()["results"] == []
    assert bob_api.post(f"{E}/delete", {"ids": [c["id"]]}, format="json").status_code == 404
    # Invalid input is refused with the field or a clear code.
    assert alice_api.post(E, {"addresses": ["not-an-address"]}, format="json").status_code == 400
    assert alice_api.post(E, {"name": ""}, format="json").status_code == 400
    assert alice_api.post(E, {"name": "x", "extra": 1}, format="json").status_code == 400
    assert alice_api.post(G, {"name": "팀"}, format="json").status_code == 409
    r = alice_api.put(
        f"{E}/{c['id']}", {"name": "김민수2", "addresses": ["minsu@remote.test"]}, format="json"
    )
    assert r.json()["groups"] == [] and r.json()["phone"] == ""
    assert alice_api.delete(f"{G}/{group['id']}").status_code == 204
    assert alice_api.delete(f"{E}/{c['id']}").status_code == 204
    assert alice_api.get(f"{E}/{c['id']}").status_code == 404


def test_pages_search_and_limits(alice_api: APIClient) -> None:
    for n in range(5):
        _add(alice_api, name=f"사람{n}", addresses=[f"p{n}@remote.test"], company="ACME" * (n == 3))
    first = alice_api.get(E + "?limit=2").json()
    second = alice_api.get(E + "?limit=2&cursor=" + first["next_cursor"]).json()
    third = alice_api.get(E + "?limit=2&cursor=" + second["next_cursor"]).json()
    names = [c["name"] for p in (first, second, third) for c in p["results"]]
    assert names == [f"사람{n}" for n in range(5)] and third["next_cursor"] is None
    assert alice_api.get(E + "?cursor=garbage").status_code == 400
    assert [c["name"] for c in alice_api.get(E + "?q=acme").json()["results"]] == ["사람3"]
    assert [c["name"] for c in alice_api.get(E + "?q=P4@").json()["results"]] == ["사람4"]
    with override_settings(CONTACTS_MAX_PER_ACCOUNT=5):
        r = alice_api.post(E, {"name": "one too many"}, format="json")
        assert r.status_code == 409 and r.json()["error"] == "contact_limit"


def test_autocomplete_groups_and_group_send(
    alice: Account, alice_api: APIClient, bob_api: APIClient, relay_sink: Any = None
) -> None:
    group = alice_api.post(G, {"name": "Family"}, format="json").json()
    _add(
        alice_api,
        name="Mom",
        addresses=["mom@remote.test", "mom2@remote.test"],
        groups=[group["id"]],
    )
    _add(alice_api, name="Dad", addresses=["dad@remote.test"], groups=[group["id"]])
    hits = alice_api.get("/api/v1/contacts?q=fam").json()
    assert hits[0]["group_id"] == group["id"] and hits[0]["members"] == 2
    assert [h["address"] for h in alice_api.get("/api/v1/contacts?q=mom").json()] == [
        "mom@remote.test",
        "mom2@remote.test",
    ]
    r = alice_api.post(
        "/api/v1/messages/send",
        {"to_groups": [group["id"]], "subject": "hi", "text": "x"},
        format="json",
    )
    assert r.status_code == 201, r.content
    (sent,) = messages_in(alice, "sent")
    assert b"Dad <dad@remote.test>" in raw(sent) and b"Mom <mom@remote.test>" in raw(sent)
    assert b"mom2@" not in raw(sent)
    r = bob_api.post(
        "/api/v1/messages/send",
        {"to_groups": [group["id"]], "subject": "x", "text": "x"},
        format="json",
    )
    assert r.status_code == 404


def test_people_you_write_to_are_added_unless_turned_off(
    alice: Account, alice_api: APIClient
) -> None:
    body = {
        "to": ["수진 <sujin@remote.test>"],
        "cc": ["tom@remote.test"],
        "subject": "a",
        "text": "x",
    }
    assert alice_api.post("/api/v1/messages/send", body, format="json").status_code == 201
    auto = {c["addresses"][0]: c for c in alice_api.get(E).json()["results"]}
    assert set(auto) == {"sujin@remote.test", "tom@remote.test"}
    assert (
        auto["sujin@remote.test"]["name"] == "수진" and auto["tom@remote.test"]["source"] == "auto"
    )
    # Sent again: nobody twice.
    assert alice_api.post("/api/v1/messages/send", body, format="json").status_code == 201
    assert Contact.objects.filter(account=alice).count() == 2
    r = alice_api.patch("/api/v1/settings", {"contacts_auto_add": False}, format="json")
    assert r.json()["contacts_auto_add"] is False
    body["to"] = ["new@remote.test"]
    assert alice_api.post("/api/v1/messages/send", body, format="json").status_code == 201
    assert Contact.objects.filter(account=alice).count() == 2


NAVER_CSV = (
    "이름,이메일,휴대폰,회사,메모,그룹\r\n"
    "김민수,minsu@remote.test,010-1111-2222,네이버,점심 약속,친구\r\n"
    '이영희,younghee@remote.test,,카카오,,"친구,회사"\r\n,,,,,\r\n빈주소,,,,,\r\n'
)
OUTLOOK_CSV = "성,이름,전자 메일 주소,회사\r\n박,지성,park@remote.test,맨유\r\n"
GOOGLE_CSV = (
    "Name,Given Name,Family Name,E-mail 1 - Value,E-mail 2 - Value,Phone 1 - Value,"
    "Organization 1 - Name,Notes,Group Membership\r\n"
    "Tom Lee,,,tom@remote.test,tom2@remote.test,+82 10,ACME,hi,Work ::: * myContacts\r\n"
)


def test_import_cp949_naver_outlook_google_and_round_trip(alice_api: APIClient) -> None:
    r = _import(alice_api, NAVER_CSV.encode("cp949"))
    assert r.status_code == 200, r.content
    assert r.json()["created"] == 3 and r.json()["skipped"] == []
    r = _import(alice_api, b"\xef\xbb\xbf" + OUTLOOK_CSV.encode())
    assert r.json()["created"] == 1
    assert _import(alice_api, GOOGLE_CSV.encode()).json()["created"] == 1
    book = {c["name"]: c for c in alice_api.get(E).json()["results"]}
    assert book["김민수"]["phone"] == "010-1111-2222" and book["김민수"]["company"] == "네이버"
    assert [g["name"] for g in book["이영희"]["groups"]] == ["친구", "회사"]
    assert book["박지성"]["addresses"] == ["park@remote.test"]
    assert book["Tom Lee"]["addresses"] == ["tom@remote.test", "tom2@remote.test"]
    assert [g["name"] for g in book["Tom Lee"]["groups"]] == ["Work"]
    # Importing the same again merges instead of duplicating.
    again = _import(alice_api, NAVER_CSV.encode("cp949")).json()
    assert again["created"] == 1 and again["updated"] == 2  # 빈주소 has no address to match
    for kind in ("vcard", "vcard4", "csv"):
        r = alice_api.get(f"/api/v1/contacts/export?type={kind}")
        assert r.status_code == 200
        cards = {c.name: c for c in parse_file(r.content)}
        assert cards["김민수"].addresses == ["minsu@remote.test"]
        assert cards["김민수"].memo == "점심 약속" and cards["김민수"].company == "네이버"
        assert sorted(cards["이영희"].groups) == ["친구", "회사"]
        assert cards["Tom Lee"].addresses == ["tom@remote.test", "tom2@remote.test"]
    assert alice_api.get("/api/v1/contacts/export?type=xml").status_code == 400


def test_import_refusals_change_nothing(alice_api: APIClient) -> None:
    r = _import(alice_api, b"\x00\xff\xfe garbage \x81\x00")
    assert r.status_code == 400
    assert _import(alice_api, b"foo,bar\r\n1,2\r\n").json()["error"] == "contact_import_invalid"
    with override_settings(CONTACTS_IMPORT_MAX_BYTES=100):
        assert _import(alice_api, NAVER_CSV.encode() * 5).status_code == 400
    with override_settings(CONTACTS_MAX_PER_ACCOUNT=2):
        r = _import(alice_api, NAVER_CSV.encode())
        assert r.status_code == 409 and r.json()["error"] == "contact_limit"
    assert alice_api.get(E).json()["results"] == []


def test_vcard_parsing_variants() -> None:
    text = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=EA=B9=80;"
        "=EB=AF=BC=EC=88=98\r\nEMAIL;INTERNET:a@remote.test\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Long \\, Name\r\nitem1.EMAIL;TYPE=work:b@remote.test\r\n"
        "NOTE:line1\\nline2 and a very long note that will need folding when written back out "
        "again\r\nCATEGORIES:A,B\r\nEND:VCARD\r\n"
    )
    a, b = parse_file(text.encode())
    assert a.name == "김 민수" and a.addresses == ["a@remote.test"]
    assert b.name == "Long , Name" and b.groups == ["A", "B"]
    out = render_vcards([b], version="4.0")
    assert all(len(line.encode()) <= 75 for line in out.split("\r\n"))
    assert parse_file(out.encode())[0].memo == b.memo
