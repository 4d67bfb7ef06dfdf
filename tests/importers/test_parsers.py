"""The pure parsers over fixture files in the real formats (no database)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mailcore.importers import maildir_tree
from mailcore.importers.access import parse_access, parse_mynetworks, parse_network
from mailcore.importers.aliases import (
    ADDRESS,
    BAD,
    FILE,
    LOCAL,
    PROGRAM,
    AliasEntry,
    parse_aliases,
)
from mailcore.importers.hosts import parse_local_host_names
from mailcore.importers.mbox import MboxMessage, MboxProblem, iter_mbox
from mailcore.importers.textmap import logical_lines, strip_comment
from mailcore.importers.virtual import parse_virtual

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def read_include(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- text maps ---------------------------------------------------------------------------------


def test_logical_lines_join_continuations_and_drop_comments() -> None:
    data = b"\xef\xbb\xbfa: b,\r\n  c # note\r\n# comment\r\n\r\n\td\r\ne: f\t \r\n"
    lines, bad = logical_lines(data)
    assert [(line.number, line.text) for line in lines] == [(1, "a: b, c d"), (6, "e: f")]
    assert bad == []


def test_strip_comment_keeps_hash_inside_tokens_and_quotes() -> None:
    assert strip_comment("a: b#c  # real comment") == "a: b#c"
    assert strip_comment('a: "|/bin/x # not a comment"') == 'a: "|/bin/x # not a comment"'


# --- /etc/aliases ------------------------------------------------------------------------------


def test_aliases_fixture() -> None:
    entries, bad = parse_aliases(fixture("aliases"), read_include=read_include)
    by_name: dict[str, AliasEntry] = {}
    for e in entries:
        by_name.setdefault(e.name, e)
    assert [(t.kind, t.value) for t in by_name["root"].targets] == [
        (LOCAL, "alice"),
        (ADDRESS, "bob@example.org"),
    ]
    # Continuation lines with tabs and spaces, and a comment line inside the entry.
    assert [t.value for t in by_name["staff"].targets] == [
        "alice",
        "bob",
        "carol@Example.NET",
        "dave@example.org",
    ]
    assert by_name["nobody"].targets[0].kind == FILE
    assert by_name["bugs"].targets[0].kind == PROGRAM
    assert by_name["bugs"].targets[0].value == "|/usr/bin/tracker --queue=bugs"
    assert by_name["archive"].targets[0].kind == FILE
    assert "Sales Team" in by_name  # quoted name with a blank: reported when applied
    assert by_name["sales"].targets[0].value == '"alice"'
    assert by_name["jörg"].targets[0].value == "joerg@example.org"
    assert [t.value for t in by_name["alice"].targets] == ["alice", "alice@gmail.com"]
    assert by_name["webmaster"].targets[0].value == "wm@example.org"
    assert by_name["decoder"].targets[0].kind == BAD
    # :include: is read (relative to the aliases file), with its own problems kept.
    incl = by_name["list"].targets
    assert [(t.kind, t.value) for t in incl] == [
        (LOCAL, "alice"),
        (ADDRESS, "dave@example.org"),
        (ADDRESS, "erin@example.org"),
        (PROGRAM, "|/bin/cat"),
        (BAD, ":include:missing.txt"),
    ]
    assert incl[1].where == "list.txt:3"
    # Both root lines are kept here; the first-wins rule is applied with the database.
    assert [e.line for e in entries if e.name == "root"] == [20, 33]
    assert {b.number: b.reason for b in bad} == {
        32: "line is not UTF-8 (8-bit names must be UTF-8)",
        37: "no ':' after the alias name in 'this line has no colon'",
    }


def test_include_nesting_is_bounded() -> None:
    def loop(name: str) -> bytes:
        return b":include:self\n"

    entries, _ = parse_aliases(b"x: :include:self\n", read_include=loop)
    assert entries[0].targets[0].kind == BAD
    assert "nested deeper" in entries[0].targets[0].reason


# --- access and mynetworks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "network"),
    [
        ("192.168.1", "192.168.1.0/24"),
        ("10", "10.0.0.0/8"),
        ("192.0.2.7", "192.0.2.7/32"),
        ("10.1.2.3/16", "10.1.0.0/16"),
        ("IPv6:2001:db8::1", "2001:db8::1/128"),
        ("IPv6:2001:db8", "2001:db8::/32"),
        ("[2001:db8::]/32", "2001:db8::/32"),
        ("[IPv6:::1]", "::1/128"),
        ("[ipv6:2001:DB8::7]", "2001:db8::7/128"),
        ("ipv6:fe80::1/64", "fe80::/64"),
        ("[::ffff:127.0.0.0]/104", "::ffff:7f00:0/104"),
        ("example.com", None),
        ("[192.0.2.1", None),
        ("256.1", None),
    ],
)
def test_parse_network(text: str, network: str | None) -> None:
    got = parse_network(text)
    assert (str(got) if got else None) == network


def test_access_fixture() -> None:
    records, skips, bad = parse_access(fixture("access"))  # a CRLF file
    got = {r.line: (r.networks, r.sender_domain, r.recipient_domain, r.action) for r in records}
    anyn = ("0.0.0.0/0", "::/0")
    assert got[7] == (("127.0.0.1/32",), "", "", "RELAY")
    assert got[8] == (("192.168.1.0/24",), "", "", "RELAY")  # comment after the entry
    assert got[9] == (("10.1.2.3/32",), "", "", "OK")  # trailing blanks
    assert got[10] == (("2001:db8:1::1/128",), "", "", "RELAY")
    assert got[11] == (("2001:db8:2::/48",), "", "", "REJECT")
    assert got[12] == (("2001:db8::5/128",), "", "", "OK")
    assert got[14] == (anyn, "spammer.example", "", "REJECT")
    assert got[16] == (anyn, "badguys.example", "", "REJECT")
    assert records[[r.line for r in records].index(16)].comment.endswith(
        "do not accept mail from you"
    )
    assert got[19] == (anyn, "", "backup.example", "RELAY")
    assert got[20] == (anyn, "", "closed.example", "REJECT")
    assert got[21] == (anyn, "evil.example", "", "DISCARD")  # bare domain: the sender's
    assert got[22] == (anyn, "", "partner.example", "RELAY")  # bare domain RELAY: to it
    assert got[23] == (("10.0.0.0/8",), "", "", "RELAY")
    assert "4xx" in records[[r.line for r in records].index(29)].note
    reasons = {s.line: s.reason for s in skips}
    assert "reverse DNS" in reasons[5] and "reverse DNS" in reasons[6]
    assert "single addresses" in reasons[15]
    assert "forgeable" in reasons[17]
    assert "null sender" in reasons[18]
    assert reasons[24] == "the GreetPause: tag is not supported"
    assert reasons[25] == "the Spam: tag is not supported"
    assert "QUARANTINE" in reasons[27]
    assert "SKIP" in reasons[28]
    assert [(b.number, b.reason) for b in bad] == [(30, "'Connect:192.0.2.10' has no action")]


def test_mynetworks_from_main_cf() -> None:
    records, skips = parse_mynetworks(fixture("main.cf"))
    assert [(r.key, r.networks[0], r.action) for r in records] == [
        ("127.0.0.0/8", "127.0.0.0/8", "RELAY"),
        ("[::ffff:127.0.0.0]/104", "::ffff:7f00:0/104", "RELAY"),
        ("[::1]/128", "::1/128", "RELAY"),
        ("192.168.10.0/24", "192.168.10.0/24", "RELAY"),
        ("!192.168.10.66", "192.168.10.66/32", "OK"),
        ("10.20.30.40/24", "10.20.30.0/24", "RELAY"),
        ("[2001:db8:abcd::]/48", "2001:db8:abcd::/48", "RELAY"),
    ]
    assert {s.key for s in skips} == {
        "$extra_networks",
        "hash:/etc/postfix/network_table",
        "mail.example.com",
    }


def test_mynetworks_value_and_nested_file() -> None:
    records, skips = parse_mynetworks(
        b"127.0.0.1, /etc/postfix/nets", read_file=lambda p: b"# lan\n192.0.2.0/24\n"
    )
    assert [r.networks[0] for r in records] == ["127.0.0.1/32", "192.0.2.0/24"]
    _, skips = parse_mynetworks(b"/missing", read_file=lambda p: Path(p).read_bytes())
    assert "cannot read" in skips[0].reason


# --- local-host-names and virtual --------------------------------------------------------------


def test_local_host_names_fixture() -> None:
    names, skips, bad = parse_local_host_names(fixture("local-host-names"))
    assert [n.name for n in names] == [
        "example.com",
        "mail.example.com",
        "Bücher.example",
        "example.net",
        "example.org",
        "example.info",
        "EXAMPLE.COM",
        "bad_domain!",
    ]
    assert {s.name for s in skips} == {"localhost", "[192.0.2.1]", "$myhostname"}
    assert bad == []


def test_virtual_fixture() -> None:
    domains, aliases, skips, bad = parse_virtual(fixture("virtual"))
    assert [d.domain for d in domains] == ["example.net"]
    keys = {a.key: [t.value for t in a.targets] for a in aliases}
    assert keys["info@example.net"] == ["alice@example.com", "bob@example.org"]
    assert keys["@example.net"] == ["catchall@example.com"]
    assert keys["joe"] == ["joe@example.org"]
    assert keys["help@example.net"] == ["info@example.net", "help@example.org"]
    assert keys['"Jane Doe"@example.net'] == ["jane@example.org"]
    assert {s.line for s in skips} == {8, 11}  # @a @b rewrite, regexp line
    assert [b.number for b in bad] == [14]


# --- mbox --------------------------------------------------------------------------------------


def _messages(data: bytes, **kw: str) -> list[MboxMessage | MboxProblem]:
    return list(iter_mbox(io.BytesIO(data), **kw))  # type: ignore[arg-type]


def test_mbox_fixture_flags_uids_and_quoting() -> None:
    items = _messages(fixture("mbox/alice"))
    assert all(isinstance(m, MboxMessage) for m in items)
    msgs = [m for m in items if isinstance(m, MboxMessage)]
    assert [m.line for m in msgs] == [1, 21, 32, 41, 48]
    first, second, third = msgs[0], msgs[1], msgs[2]
    assert first.imapbase == (1700000000, 120)
    assert first.uid == 100 and second.uid == 105 and third.uid == 110
    assert first.flags == {"seen", "answered"}
    assert second.flags == set() and second.keywords == ("$Label1", "Work", "Junk")
    assert third.flags == {"flagged", "deleted"}
    assert str(third.received) == "2015-01-03 01:05:34+00:00"  # Gmail's From_ line
    body = first.data.split(b"\r\n\r\n", 1)[1]
    assert b"\r\nFrom here on, quoted once" in body
    assert b'\r\n>From here, quoted twice: mboxrd makes this ">From".' in body
    assert b"\r\nFrom the desk of Bob" in body  # not a separator: no date on it
    for name in (b"Status:", b"X-Status:", b"X-UID:", b"X-IMAPbase:", b"Content-Length:"):
        assert name not in first.data
    assert b"X-Keywords" not in second.data
    assert first.data.endswith(b"has no date.\r\n")  # separator blank line removed
    assert b"\n" not in first.data.replace(b"\r\n", b"")  # CRLF only


def test_mbox_crlf_file_gives_the_same_messages() -> None:
    lf = [m.data for m in _messages(fixture("mbox/alice")) if isinstance(m, MboxMessage)]
    crlf = [m.data for m in _messages(fixture("mbox-crlf")) if isinstance(m, MboxMessage)]
    assert lf == crlf


def test_mboxo_and_uw_pseudo_message() -> None:
    items = _messages(fixture("mbox-uw"), quoting="mboxo")
    assert isinstance(items[0], MboxProblem) and "internal data" in items[0].reason
    assert items[0].imapbase == (1709719200, 7)
    assert isinstance(items[1], MboxMessage)
    assert b">>From stays quoted in mboxo." in items[1].data
    assert items[1].uid == 3 and items[1].flags == {"seen"}


def test_not_an_mbox_and_oversized_message() -> None:
    items = _messages(fixture("not-an-mbox"))
    assert len(items) == 1 and isinstance(items[0], MboxProblem) and items[0].fatal
    big = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: big\n\n" + b"x" * 5000 + b"\n\n"
    big += b"From a@b Mon Jan  1 00:00:01 2024\nSubject: small\n\nok\n"
    items = _messages(big, max_message_bytes=1000)  # type: ignore[arg-type]
    assert isinstance(items[0], MboxProblem) and "larger than" in items[0].reason
    assert isinstance(items[1], MboxMessage) and items[1].line == 6


class _WatchedFile(io.BufferedReader):
    """Fails the test if the parser asks for an unbounded read (the whole file at once)."""

    largest = 0

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        assert size is not None and 0 < size <= 1024 * 1024, size
        line = super().readline(size)
        self.largest = max(self.largest, len(line))
        return line

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and 0 < size <= 1024 * 1024, size
        return super().read(size)


def test_mbox_of_10k_messages_is_streamed(tmp_path: Path) -> None:
    """10 000 messages (~12 MB): messages come out while the file is still being read, and
    no read asks for more than a bounded chunk."""
    path = tmp_path / "big.mbox"
    filler = b"A line of body text that is long enough to make the file big.\n" * 18
    with open(path, "wb") as fh:
        for i in range(10_000):
            fh.write(b"From sender@example.org Mon Jan  1 00:00:00 2024\n")
            fh.write(b"Subject: message %d\nMessage-ID: <%d@example.org>\n\n" % (i, i))
            if i == 5000:
                fh.write(b"X" * 200_000 + b"\n")  # one very long line: read in chunks
            fh.write(filler + b"\n")
    size = path.stat().st_size
    assert size > 10_000_000
    count = 0
    with _WatchedFile(io.FileIO(path, "rb")) as fh:
        for item in iter_mbox(fh):
            assert isinstance(item, MboxMessage)
            if count == 0:
                assert fh.tell() < 10_000  # the first message came before the rest was read
                assert item.offset < 10_000
            count += 1
        assert fh.largest <= 64 * 1024
    assert count == 10_000
    assert item.offset == size


# --- Maildir trees -----------------------------------------------------------------------------


def test_maildirpp_tree() -> None:
    root = maildir_tree.find_root(FIXTURES / "maildir")  # the home directory holding Maildir/
    assert root == FIXTURES / "maildir" / "Maildir"
    folders, problems = maildir_tree.scan_tree(root)
    assert problems == []
    by_name = {f.name: f for f in folders}
    assert set(by_name) == {"INBOX", "Sent", "Work/Sub", "보관함", "Junk"}
    inbox = by_name["INBOX"]
    assert (inbox.uidvalidity, inbox.uidnext, inbox.uid_source) == (
        1234567890,
        45,
        "dovecot-uidlist",
    )
    msgs, _ = maildir_tree.list_messages(inbox)
    assert [(m.key, m.uid) for m in msgs][:2] == [
        ("1600000001.M1P100.oldhost,S=111,W=115", 40),
        ("1600000002.M2P100.oldhost", 41),
    ]
    assert {(m.key, m.uid) for m in msgs[2:]} == {
        ("1600000003.M3P100.oldhost", None),  # in new/, not yet in the uidlist
        ("1600000004.M4P100.old\\057host", None),
    }
    assert msgs[0].flags == {"seen", "answered"}
    assert msgs[1].flags == {"flagged"} and msgs[1].keywords == ("$Label1", "Work")
    assert (by_name["Sent"].uidvalidity, by_name["Sent"].uidnext) == (1234567891, 3)
    sent, _ = maildir_tree.list_messages(by_name["Sent"])
    assert [m.uid for m in sent] == [1, 2] and sent[1].keywords == ("$Forwarded",)
    work, _ = maildir_tree.list_messages(by_name["Work/Sub"])
    assert work[0].flags == {"deleted"}
    assert by_name["Junk"].uid_source == "courierimapuiddb"
    data = maildir_tree.read_message(msgs[0], 10_000)
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")


def test_fs_layout_tree() -> None:
    root = maildir_tree.find_root(FIXTURES / "maildir-fs")
    assert root is not None
    folders, _ = maildir_tree.scan_tree(root, "fs")
    assert sorted(f.name for f in folders) == ["INBOX", "Sent", "Work/Projects", "v1.2"]


def test_mutf7_decode() -> None:
    assert maildir_tree.mutf7_decode("&vPStANVo-") == "보관함"
    assert maildir_tree.mutf7_decode("A&-B") == "A&B"
    assert maildir_tree.mutf7_decode("bad&###-") == "bad&###-"  # not mUTF-7: kept as is


def test_store_keys_for_imported_messages() -> None:
    from mailcore.importers.apply import maildir_key, mbox_key

    assert maildir_key("1600000001.M1P9.host,S=111,W=115", b"x" * 120) == (
        "1600000001.M1P9.host,S=120,W=120"
    )
    assert maildir_key("1600000002.M2P9.host", b"abc") == "1600000002.M2P9.host,S=3"
    odd = maildir_key("1600000004.M4P9.old\\057host", b"abc")
    assert odd.startswith("imp") and odd.endswith(",S=3") and "\\" not in odd
    assert maildir_key(".hidden", b"") != ".hidden,S=0"
    a = mbox_key(b"same", ".Old", 0, None)
    assert a == mbox_key(b"same", ".Old", 0, None)  # the same on every run
    assert a != mbox_key(b"same", ".Old", 1, None)  # the second identical copy
    assert a != mbox_key(b"same", "", 0, None)  # another folder
