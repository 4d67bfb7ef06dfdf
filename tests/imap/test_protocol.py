"""The IMAP wire format without a server: framing, literals, quoted strings, modified UTF-7,
mailbox-name safety, every command's syntax errors (ProtocolSyntaxError → BAD)."""

from __future__ import annotations

import contextlib

import pytest

from mailcore.imap.protocol import (
    Append,
    Atom,
    CommandReader,
    Fetch,
    Limits,
    ListCmd,
    Literal,
    Login,
    NeedContinuation,
    ProtocolSyntaxError,
    RawCommand,
    ReaderError,
    Search,
    Select,
    SeqSet,
    Store,
    decode_mailbox,
    format_seqset,
    mutf7_decode,
    mutf7_encode,
    parse_command,
    render,
)

LIMITS = Limits(max_literal_preauth=100, max_literal=1000, max_line=200, max_ranges=5)


def read_all(data: bytes, *, authenticated: bool = True) -> list[object]:
    reader = CommandReader(LIMITS)
    reader.authenticated = authenticated
    reader.feed(data)
    events = []
    while (event := reader.next_event()) is not None:
        events.append(event)
    return events


def cmd(line: bytes, *literals: bytes, utf8: bool = False) -> object:
    return parse_command(RawCommand(line, literals), LIMITS, utf8=utf8)


# --- framing -------------------------------------------------------------------------------------


def test_synchronizing_literal_asks_for_continuation_then_completes() -> None:
    reader = CommandReader(LIMITS)
    reader.feed(b"a1 LOGIN {5}\r\n")
    assert reader.next_event() == NeedContinuation()
    assert reader.next_event() is None
    reader.feed(b'alice "pass"\r\n')
    raw = reader.next_event()
    assert isinstance(raw, RawCommand)
    assert cmd(raw.text, *raw.literals) == Login("a1", "LOGIN", "alice", "pass")


@pytest.mark.parametrize("marker", [b"{5+}", b"{5-}"])
def test_non_synchronizing_literals_need_no_continuation(marker: bytes) -> None:
    events = read_all(b"a LOGIN " + marker + b"\r\nalice pw\r\n")
    assert len(events) == 1 and isinstance(events[0], RawCommand)
    assert events[0].literals == (b"alice",)


def test_literal_bytes_may_hold_crlf_and_nul() -> None:
    (raw,) = read_all(b"a APPEND INBOX {7+}\r\nx\r\n\x00y\r\n\r\n")
    assert isinstance(raw, RawCommand)
    parsed = cmd(raw.text, *raw.literals)
    assert isinstance(parsed, Append) and parsed.message == b"x\r\n\x00y\r\n"


def test_literal_over_preauth_limit_refused_without_continuation() -> None:
    events = read_all(b"a LOGIN {101}\r\n", authenticated=False)
    assert events == [ReaderError("a", "Literal too big", "TOOBIG")]


def test_huge_announced_literal_allocates_nothing() -> None:
    events = read_all(b"a LOGIN {18446744073709551615}\r\nb NOOP\r\n", authenticated=False)
    assert isinstance(events[0], ReaderError) and events[0].code == "TOOBIG"
    assert isinstance(events[1], RawCommand) and events[1].text == b"b NOOP"


def test_refused_non_sync_literal_is_skipped_and_session_resyncs() -> None:
    events = read_all(b"a LOGIN {150+}\r\n" + b"x" * 150 + b" y\r\nb NOOP\r\n", authenticated=False)
    assert isinstance(events[0], ReaderError) and not events[0].fatal
    assert isinstance(events[1], RawCommand) and events[1].text == b"b NOOP"


def test_absurd_non_sync_literal_is_fatal() -> None:
    (event,) = read_all(b"a LOGIN {99999999999+}\r\n", authenticated=False)
    assert isinstance(event, ReaderError) and event.fatal


def test_literal_minus_over_4096_is_synchronizing() -> None:
    reader = CommandReader(Limits())
    reader.authenticated = True
    reader.feed(b"a APPEND INBOX {5000-}\r\n")
    assert reader.next_event() == NeedContinuation()


def test_overlong_line_answers_and_next_command_works() -> None:
    events = read_all(b"a NOOP " + b"x" * 500 + b"\r\nb NOOP\r\n")
    assert isinstance(events[0], ReaderError) and events[0].code == "TOOBIG"
    assert events[1] == RawCommand(b"b NOOP", ())


def test_nul_in_command_line_refused() -> None:
    events = read_all(b'a LOGIN "al\x00ice" pw\r\nb NOOP\r\n')
    assert isinstance(events[0], ReaderError) and events[0].tag == "a"
    assert events[1] == RawCommand(b"b NOOP", ())


def test_bare_lf_line_end_accepted() -> None:
    assert read_all(b"a NOOP\n") == [RawCommand(b"a NOOP", ())]


# --- quoted strings, literals, astrings ------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "user", "password"),
    [
        (b'a LOGIN "a b" "p\\"w"', "a b", 'p"w'),
        (b'a LOGIN "x\\\\y" ""', "x\\y", ""),
        (b"a LOGIN alice secret", "alice", "secret"),
        (b'a LOGIN "\xed\x95\x9c" pw', "한", "pw"),
    ],
)
def test_login_strings(line: bytes, user: str, password: str) -> None:
    assert cmd(line) == Login("a", "LOGIN", user, password)


@pytest.mark.parametrize(
    "line",
    [
        b'a LOGIN "unterminated pw',
        b'a LOGIN "bad \\n escape" pw',
        b"a LOGIN onlyone",
        b"a LOGIN a b c",
        b"a LOGIN (a) b",
        b'a LOGIN "\xff" pw',
    ],
)
def test_login_syntax_errors(line: bytes) -> None:
    with pytest.raises(ProtocolSyntaxError) as err:
        cmd(line)
    assert err.value.tag == "a"


# --- modified UTF-7 and mailbox names --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("받은메일함", "&vBvHQLpUx3zVaA-"),
        ("A&B", "A&-B"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ("😀", "&2D3eAA-"),
    ],
)
def test_mutf7_round_trip(text: str, wire: str) -> None:
    assert mutf7_encode(text) == wire
    assert mutf7_decode(wire) == text


@pytest.mark.parametrize(
    "wire",
    [
        "&vBvHQLpUx3zVaA",  # unterminated
        "&AGE-",  # encodes printable ASCII 'a'
        "&vBvHQLpUx3zVaA-&vBvHQLpUx3zVaA-",  # two adjacent runs: not canonical
        "&Jjo!-",  # not base64
        "&2D0-",  # lone surrogate
        "caf\u00e9",  # 8-bit in a 7-bit name
        "&ZeVnLIqe",
    ],
)
def test_invalid_mutf7_refused(wire: str) -> None:
    with pytest.raises(ProtocolSyntaxError):
        mutf7_decode(wire)


@pytest.mark.parametrize(
    "name",
    ["..", "a/../b", "/abs", "a//b", "a/", "~root", "a/~b", "a\x00b", "a\tb", "a/./b", "a\\b"],
)
def test_unsafe_mailbox_names_refused(name: str) -> None:
    with pytest.raises(ProtocolSyntaxError):
        decode_mailbox(name, utf8=False)


def test_mailbox_names_decode() -> None:
    assert decode_mailbox("inbox", utf8=False) == "INBOX"
    assert decode_mailbox("Inbox/Sub", utf8=False) == "INBOX/Sub"
    assert decode_mailbox("&vBvHQLpUx3zVaA-/Work", utf8=False) == "받은메일함/Work"
    assert decode_mailbox("받은메일함", utf8=True) == "받은메일함"


def test_select_parses_mutf7_literal_and_qresync() -> None:
    parsed = cmd(b"t SELECT &vBvHQLpUx3zVaA-")
    assert isinstance(parsed, Select) and parsed.mailbox == "받은메일함"
    parsed = cmd(b"t EXAMINE \x00 (QRESYNC (67890007 20050715194045000 41:211,214:541))", b"Sent")
    assert isinstance(parsed, Select) and parsed.mailbox == "Sent" and parsed.name == "EXAMINE"
    assert parsed.qresync is not None and parsed.qresync[:2] == (67890007, 20050715194045000)


# --- sequence sets, fetch, store, search -------------------------------------------------------


def test_seqset_resolution() -> None:
    parsed = cmd(b"a FETCH 5:3,*,1 FLAGS")
    assert isinstance(parsed, Fetch)
    assert parsed.seqset.resolve(10) == [(1, 1), (3, 5), (10, 10)]
    assert SeqSet(((4, 0),)).resolve(2) == [(2, 4)]
    assert format_seqset([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"


def test_fetch_attributes() -> None:
    parsed = cmd(
        b"a UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>"
        b" BODY[1.2.MIME] BINARY.PEEK[1] RFC822.SIZE) (CHANGEDSINCE 12345)"
    )
    assert isinstance(parsed, Fetch) and parsed.uid and parsed.changedsince == 12345
    names = [
        (a.name, a.section.render() if a.section else None, a.partial, a.peek) for a in parsed.atts
    ]
    assert names == [
        ("UID", None, None, False),
        ("FLAGS", None, None, False),
        ("BODY", "HEADER.FIELDS (FROM TO)", (0, 100), True),
        ("BODY", "1.2.MIME", None, False),
        ("BINARY", "1", None, True),
        ("RFC822.SIZE", None, None, False),
    ]
    assert [a.name for a in cmd(b"a FETCH 1 FAST").atts] == [  # type: ignore[union-attr]
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
    ]


def test_store_and_search() -> None:
    parsed = cmd(b"a UID STORE 1:3 (UNCHANGEDSINCE 7) -FLAGS.SILENT (\\Seen $Junk)")
    assert isinstance(parsed, Store)
    assert (parsed.mode, parsed.silent, parsed.flags, parsed.unchangedsince) == (
        "-",
        True,
        ("\\Seen", "$Junk"),
        7,
    )
    parsed = cmd(
        b"a UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR FROM x (UNSEEN SINCE 1-Feb-2024)"
    )
    assert isinstance(parsed, Search) and parsed.return_opts == ("MIN", "COUNT")
    assert parsed.key.op == "OR"


def test_list_extended() -> None:
    parsed = cmd(b'a LIST (SUBSCRIBED) "" ("INBOX" "%") RETURN (CHILDREN STATUS (MESSAGES SIZE))')
    assert isinstance(parsed, ListCmd)
    assert parsed.patterns == ("INBOX", "%") and parsed.status_items == ("MESSAGES", "SIZE")


def test_deep_nesting_refused() -> None:
    with pytest.raises(ProtocolSyntaxError):
        cmd(b"a SEARCH " + b"(" * 100 + b"ALL" + b")" * 100)
    with pytest.raises(ProtocolSyntaxError):
        cmd(b"a SEARCH " + b"NOT " * 100 + b"ALL")


def test_too_many_ranges_refused() -> None:
    with pytest.raises(ProtocolSyntaxError):
        cmd(b"a FETCH 1,3,5,7,9,11,13 FLAGS")


# Every command, with malformed arguments: a syntax error naming the tag (answered BAD).
BAD_COMMANDS = [
    b"a",
    b"a FOO",
    b"a NOOP extra",
    b"a CAPABILITY x",
    b"a LOGOUT now",
    b"a STARTTLS x",
    b"a LOGIN",
    b"a AUTHENTICATE",
    b"a ENABLE",
    b"a ID",
    b'a ID ("name")',
    b"a SELECT",
    b"a SELECT INBOX (BOGUS)",
    b"a EXAMINE",
    b"a CREATE",
    b"a CREATE ../etc",
    b"a DELETE",
    b"a RENAME INBOX",
    b"a SUBSCRIBE",
    b"a UNSUBSCRIBE",
    b"a LIST",
    b'a LIST ""',
    b'a LIST (BOGUS) "" *',
    b'a LSUB ""',
    b"a STATUS INBOX",
    b"a STATUS INBOX (BOGUS)",
    b"a STATUS INBOX ()",
    b"a APPEND INBOX",
    b'a APPEND INBOX (\\Seen) "bad date" \x00',
    b"a CHECK now",
    b"a CLOSE now",
    b"a UNSELECT now",
    b"a EXPUNGE 1",
    b"a UID EXPUNGE",
    b"a SEARCH",
    b"a SEARCH BOGUS",
    b"a SEARCH SINCE 32-Jan-2024",
    b"a SEARCH OR SEEN",
    b"a FETCH",
    b"a FETCH 1",
    b"a FETCH 0 FLAGS",
    b"a FETCH 1:x FLAGS",
    b"a FETCH 1 (BOGUS)",
    b"a FETCH 1 BODY[4.BOGUS]",
    b"a FETCH 1 BODY[]<0.0>",
    b"a FETCH 1 ()",
    b"a STORE 1 FLAGS",
    b"a STORE 1 BOGUS (\\Seen)",
    b"a STORE 1 +FLAGS (\\Bogus)",
    b"a COPY 1",
    b"a MOVE",
    b"a UID",
    b"a UID LOGIN x y",
    b"a SORT (BOGUS) UTF-8 ALL",
    b"a SORT (DATE REVERSE) UTF-8 ALL",
    b"a THREAD BOGUS UTF-8 ALL",
    b"a IDLE now",
    b"a NAMESPACE x",
    b"a COMPRESS",
    b"a GETQUOTAROOT",
    b"a GETQUOTA",
]


@pytest.mark.parametrize("line", BAD_COMMANDS)
def test_syntax_errors(line: bytes) -> None:
    literals = (b"msg",) if b"\x00" in line else ()
    with pytest.raises(ProtocolSyntaxError) as err:
        cmd(line, *literals)
    assert err.value.tag == "a"  # the BAD carries the command's tag


# --- serializer --------------------------------------------------------------------------------


def test_render_nested_values() -> None:
    value = ["a b", 12, None, ['q"\\', b"\r\n"], Atom("\\Seen"), Literal(b"xy"), "한"]
    assert render(value) == (
        b'("a b" 12 NIL ("q\\"\\\\" {2}\r\n\r\n) \\Seen {2}\r\nxy {3}\r\n\xed\x95\x9c)'
    )
    assert render("한", utf8=True) == b'"\xed\x95\x9c"'
    assert render("line\r\nbreak") == b"{11}\r\nline\r\nbreak"


# --- robustness: every prefix and some mutations of every valid command ------------------------

# One or more valid forms of every command the parser knows; \x00 marks a literal (given after).
VALID_COMMANDS: list[tuple[bytes, tuple[bytes, ...]]] = [
    (b"a CAPABILITY", ()),
    (b"a NOOP", ()),
    (b"a LOGOUT", ()),
    (b"a STARTTLS", ()),
    (b'a LOGIN "a b" "p\\"w"', ()),
    (b"a LOGIN \x00 \x00", (b"alice", b"pw")),
    (b"a AUTHENTICATE PLAIN AGFsaWNlAHB3", ()),
    (b"a ENABLE CONDSTORE UTF8=ACCEPT", ()),
    (b'a ID ("name" "x" "version" NIL)', ()),
    (b"a ID NIL", ()),
    (b"a SELECT &vBvHQLpUx3zVaA-/Work (CONDSTORE)", ()),
    (b"a EXAMINE INBOX (QRESYNC (67890007 20050715194045000 41:211,214:541 (1:5 10:14)))", ()),
    (b"a CREATE Projects/2024", ()),
    (b"a DELETE Projects", ()),
    (b'a RENAME "Old" New', ()),
    (b"a SUBSCRIBE INBOX", ()),
    (b"a UNSUBSCRIBE INBOX", ()),
    (b'a LIST (SUBSCRIBED) "" ("INBOX" "%") RETURN (CHILDREN STATUS (MESSAGES SIZE))', ()),
    (b'a LIST "" *', ()),
    (b'a LSUB "" %', ()),
    (b"a STATUS INBOX (MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ)", ()),
    (b'a APPEND INBOX (\\Seen $Junk) " 1-Feb-2024 10:00:00 +0900" \x00', (b"Subject: x\r\n\r\n",)),
    (b"a APPEND INBOX UTF8 (\x00)", (b"Subject: x\r\n\r\n",)),
    (b"a CHECK", ()),
    (b"a CLOSE", ()),
    (b"a UNSELECT", ()),
    (b"a EXPUNGE", ()),
    (b"a UID EXPUNGE 1:3,7", ()),
    (b"a IDLE", ()),
    (b"a NAMESPACE", ()),
    (b"a GETQUOTAROOT INBOX", ()),
    (b'a GETQUOTA ""', ()),
    (b"a COMPRESS DEFLATE", ()),
    (b"a FETCH 5:3,*,1 FAST", ()),
    (
        b"a UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>"
        b" BODY[1.2.MIME] BINARY.PEEK[1] BINARY.SIZE[2] BODY[TEXT] RFC822.SIZE)"
        b" (CHANGEDSINCE 12345 VANISHED)",
        (),
    ),
    (b"a FETCH $ (BODY[] BODY[HEADER.FIELDS.NOT (X-A)] ENVELOPE BODYSTRUCTURE)", ()),
    (b"a UID STORE 1:3 (UNCHANGEDSINCE 7) -FLAGS.SILENT (\\Seen $Junk)", ()),
    (b"a STORE 1 +FLAGS \\Flagged \\Deleted", ()),
    (b"a COPY 1:2 Trash", ()),
    (b"a UID MOVE 4,6 &vBvHQLpUx3zVaA-", ()),
    (
        b"a UID SEARCH RETURN (MIN COUNT SAVE) CHARSET UTF-8 OR FROM x (UNSEEN SINCE 1-Feb-2024)"
        b' NOT HEADER "Message-ID" "<r@x>" UID 1:* 2,4 LARGER 10 KEYWORD $Junk'
        b' MODSEQ "/flags/\\\\Seen" all 5 SENTON "2-Mar-2024" YOUNGER 60',
        (),
    ),
    (b"a SEARCH SUBJECT \x00", (b"x",)),
    (b"a SEARCH (SEEN FLAGGED) $", ()),
    (b"a UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL", ()),
    (b"a THREAD REFERENCES UTF-8 (SINCE 1-Jan-2024 TEXT hello)", ()),
]
MUTATIONS = [b"", b" ", b"(", b")", b"[", b"]", b"<", b">", b"{", b'"', b"\\", b"*", b"0", b"$",
             b":", b".", b"\x00", b"\xff", b"\r", b"9" * 25]  # fmt: skip


def _parse_or_bad(text: bytes, literals: tuple[bytes, ...], utf8: bool = False) -> None:
    """The parser's answer is a command or ProtocolSyntaxError (BAD), never another exception."""
    with contextlib.suppress(ProtocolSyntaxError):
        parse_command(RawCommand(text, literals), LIMITS, utf8=utf8)


@pytest.mark.parametrize(("line", "literals"), VALID_COMMANDS, ids=lambda v: repr(v)[:40])
def test_valid_commands_parse(line: bytes, literals: tuple[bytes, ...]) -> None:
    assert parse_command(RawCommand(line, literals), Limits(), utf8=False).tag == "a"


@pytest.mark.parametrize(("line", "literals"), VALID_COMMANDS, ids=lambda v: repr(v)[:40])
def test_every_prefix_and_mutation_is_a_command_or_bad(
    line: bytes, literals: tuple[bytes, ...]
) -> None:
    for end in range(len(line)):
        for utf8 in (False, True):
            _parse_or_bad(line[:end], literals, utf8)
            _parse_or_bad(line[:end], (), utf8)  # a literal mark with no literal behind it
    for pos in range(len(line)):
        for repl in MUTATIONS:
            mutated = line[:pos] + repl + line[pos + 1 :]
            _parse_or_bad(mutated, literals)
            _parse_or_bad(line[:pos] + repl + line[pos:], literals)  # inserted


@pytest.mark.parametrize(("line", "literals"), VALID_COMMANDS, ids=lambda v: repr(v)[:40])
def test_every_prefix_through_the_reader(line: bytes, literals: tuple[bytes, ...]) -> None:
    """The same prefixes as bytes on the wire (literals announced as {n+}): each line ends
    in a command or an error event, and the next command still reads."""
    parts = line.split(b"\x00")
    wire = parts[0]
    for lit, rest in zip(literals, parts[1:], strict=True):
        wire += b"{%d+}\r\n" % len(lit) + lit + rest
    for end in range(len(wire) + 1):
        reader = CommandReader(LIMITS)
        reader.authenticated = True
        reader.feed(wire[:end] + b"\r\nz NOOP\r\n")
        events = []
        while (event := reader.next_event()) is not None:
            events.append(event)
            if isinstance(event, RawCommand):
                _parse_or_bad(event.text, event.literals)
        assert all(isinstance(e, (RawCommand, ReaderError, NeedContinuation)) for e in events)


FETCHES = [
    b"a1 FETCH 1 (FLAGS)",
    b"a1 UID FETCH 1234 (BODY.PEEK[])",
    b"a.2 uid fetch 1:*,7,9:3 (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To)])",
    b"x FETCH * ALL",
    b"x UID FETCH 1:4 (FLAGS) (CHANGEDSINCE 12 VANISHED)",
    b"x FETCH 1:4 (FLAGS) (CHANGEDSINCE 12)",
    b"x UID FETCH 5 BODY[]<0.100>",
    b"x UID FETCH 01 (BODY.PEEK[])",  # a leading zero: the full parse takes it too
    # Refused by the full parse, and so by the reuse too (same tail as a good one above):
    b"x FETCH 1:4 (FLAGS) (CHANGEDSINCE 12 VANISHED)",
    b"x UID FETCH 0 (BODY.PEEK[])",
    b"x UID FETCH 4294967296 (BODY.PEEK[])",
    b"x UID FETCH 1:2:3 (BODY.PEEK[])",
    b"x UID FETCH 1,,2 (BODY.PEEK[])",
    b"x UID FETCH 1,2,3,4,5,6 (BODY.PEEK[])",
    b"x UID FETCH ** (BODY.PEEK[])",
    b"x UID FETCH 1 (BODY.PEEK[]",
    b"x+y UID FETCH 1 (BODY.PEEK[])",
    b"x UID FETCH 1 (BODY.PEEK[]) ",
]


def _outcome(text: bytes) -> object:
    try:
        return parse_command(RawCommand(text, ()), LIMITS)
    except ProtocolSyntaxError as exc:
        return ("BAD", exc.tag, str(exc))


def test_fetch_reuses_a_known_tail_with_the_full_parse_s_result() -> None:
    """parse_command keeps the typed tail of a FETCH (attributes, modifiers) and reads only
    the tag and the sequence set of the next one with that tail: the same Fetch (or the same
    refusal) as the full parse, in every order."""
    from mailcore.imap import protocol

    protocol._FETCH_TAILS.clear()
    first = [_outcome(t) for t in FETCHES]  # the full parse (each tail new, or refused)
    assert protocol._FETCH_TAILS  # the good ones are kept
    again = [_outcome(t) for t in FETCHES]  # their tails known now
    assert again == first
    assert isinstance(first[1], Fetch) and first[1].seqset == SeqSet(((1234, 1234),))
    assert first[7] == _outcome(b"x UID FETCH 1 (BODY.PEEK[])")
    for bad in FETCHES[8:]:
        assert isinstance(_outcome(bad), tuple), bad
    protocol._FETCH_TAILS.clear()
    assert [_outcome(t) for t in reversed(FETCHES)] == list(reversed(first))
