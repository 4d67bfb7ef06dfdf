"""Tests for mailcore.mime parsing: the .eml corpus in tests/mail and generated hostile input."""

from __future__ import annotations

import base64
import codecs
import datetime as dt
import pathlib
import random
import subprocess
import sys

import pytest

from mailcore.mime import (
    DEFAULT_LIMITS,
    Address,
    Attachment,
    ParsedMessage,
    ParseLimits,
    charsets,
    get_attachment,
    get_part_by_cid,
    parse_message,
)

MAIL_DIR = pathlib.Path(__file__).resolve().parent.parent / "mail"
CORPUS = sorted(MAIL_DIR.glob("*.eml"))
KO = "똠방각하 펲시콜라"
KO_BODY = "안녕하세요. 똠방각하 펲시콜라 드세요.\n둘째 줄.\n"


def load(name: str) -> bytes:
    return (MAIL_DIR / name).read_bytes()


def parse(name: str) -> ParsedMessage:
    return parse_message(load(name))


def assert_sane(msg: ParsedMessage) -> None:
    assert not any(d.startswith("internal parser error") for d in msg.defects), msg.defects
    for value in (msg.subject, msg.snippet, *(a.name for a in msg.from_ + msg.to + msg.cc)):
        assert "\x00" not in value and "\r" not in value and "\n" not in value
    assert "\x00" not in msg.text and "\x00" not in msg.html
    assert msg.date is None or msg.date.tzinfo is not None
    assert len(msg.snippet) <= 200
    for att in msg.attachments:
        assert att.filename and len(att.filename) <= 255
        assert not set(att.filename) & set("/\\\r\n\x00\u202e")


# --------------------------------------------------------------------------- corpus hygiene


def test_corpus_present() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_file_is_crlf_and_documented(path: pathlib.Path) -> None:
    data = path.read_bytes()
    if path.name != "bare_lf.eml":
        assert data.count(b"\n") == data.count(b"\r\n")
    readme = (MAIL_DIR / "README.md").read_text(encoding="utf-8")
    assert f"`{path.name}`" in readme


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_parses_and_parts_round_trip(path: pathlib.Path) -> None:
    raw = path.read_bytes()
    msg = parse_message(raw)
    assert_sane(msg)
    for att in msg.attachments:
        got = get_attachment(raw, att.index)
        assert got is not None
        meta, payload = got
        assert meta == att
        assert len(payload) == att.size


# --------------------------------------------------------------------------- basic fields


def test_alternative_text_html_fields() -> None:
    msg = parse("alternative_text_html.eml")
    assert msg.subject == "Quarterly report"
    assert msg.from_ == (Address("Alice Example", "alice@example.com"),)
    assert msg.to == (Address("Bob", "bob@example.org"), Address("", "carol@example.net"))
    assert msg.cc == (Address("Dave, Jr.", "dave@example.org"),)
    assert msg.reply_to == (Address("", "replies@example.com"),)
    assert msg.date == dt.datetime(2025, 7, 1, 8, 52, 37, tzinfo=dt.UTC)
    assert msg.message_id == "alt-1@example.com"
    assert msg.in_reply_to == "parent@example.com"
    assert msg.references == ("root@example.com", "parent@example.com")
    assert msg.text == "Hello Bob,\n\nthe report is attached. Café €5."
    assert "<p>the report is attached. Café €5.</p>" in msg.html  # QP soft break joined
    assert msg.snippet == "Hello Bob, the report is attached. Café €5."
    assert msg.attachments == ()
    assert msg.has_attachments is False
    assert msg.defects == ()
    assert ("Message-ID", "<alt-1@example.com>") in msg.headers()


def test_empty_input() -> None:
    msg = parse("empty.eml")
    assert msg == parse_message(b"")
    assert (msg.subject, msg.text, msg.html, msg.from_, msg.attachments) == ("", "", "", (), ())
    assert msg.date is None
    assert get_attachment(b"", 1) is None  # leaf 0 is the (empty) text body
    assert get_part_by_cid(b"", "x") is None


# --------------------------------------------------------------------------- Korean charsets


@pytest.mark.parametrize(
    "name",
    [
        "ksc5601_base64.eml",  # ks_c_5601-1987 label, base64 body
        "ksc5601_8bit.eml",  # quoted "ks_c_5601-1987" label, 8bit body
        "euckr_label_cp949_bytes.eml",  # EUC-KR label, CP949-only syllables
        "cp949_label.eml",
        "x_windows_949.eml",  # unknown to stock Python
    ],
)
def test_korean_labels_decode_as_cp949(name: str) -> None:
    msg = parse(name)
    assert msg.subject == KO
    assert msg.from_ == (Address("김철수", "kim@example.kr"),)
    assert msg.text == KO_BODY
    assert msg.snippet == "안녕하세요. 똠방각하 펲시콜라 드세요. 둘째 줄."
    assert msg.defects == ()


def test_iso_2022_kr_body() -> None:
    msg = parse("iso2022kr.eml")
    assert msg.text == "안녕하세요 한국어 메일입니다.\n"


def test_rfc2047_multibyte_char_split_across_words() -> None:
    msg = parse("rfc2047_split_utf8.eml")
    assert msg.subject == "한국어 제목"
    assert "\ufffd" not in msg.subject


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("raw8bit_utf8_header.eml", "회의 안내 (raw UTF-8)"),
        ("raw8bit_cp949_header.eml", "똠방각하 펲시콜라 (raw cp949)"),
    ],
)
def test_raw_8bit_headers(name: str, subject: str) -> None:
    msg = parse(name)
    assert msg.subject == subject
    assert msg.from_ == (Address("홍길동", "hong@example.kr"),)
    assert msg.text == "본문\n"


def test_charset_install_is_idempotent_and_global() -> None:
    charsets.install()
    charsets.install()
    for label in ("ks_c_5601-1987", "EUC-KR", "euc_kr", "x-windows-949", "windows-949", "ms949"):
        assert codecs.lookup(label).name == "cp949", label
    assert "똠".encode("cp949").decode("ks_c_5601-1987") == "똠"


def test_install_after_euc_kr_was_cached_and_no_django() -> None:
    code = (
        "import codecs, sys\n"
        "codecs.lookup('euc-kr'); codecs.lookup('ks_c_5601-1987'); codecs.lookup('EUC-KR')\n"
        "import encodings\n"
        "assert codecs.lookup('euc-kr').name == 'euc_kr'\n"
        "import mailcore.mime\n"
        "assert codecs.lookup('ks_c_5601-1987').name == 'cp949'\n"
        "assert codecs.lookup('EUC-KR').name == 'cp949'\n"
        "assert b'\\x8cc'.decode('euc-kr') == '\\ub620'\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"=?utf-8?q?hello_world?=", "hello world"),
        (b"=?utf-8?b?7ZWc?= =?utf-8?b?6rWt?=", "한국"),  # whitespace between words dropped
        (b"=?utf-8?b?7ZU=?==?utf-8?b?nOq1rQ==?=", "한국"),  # adjacent, char split
        (b"=?utf-8?q?=ED=95?= =?UTF-8?Q?=9C?=", "한"),  # charset case differs
        (b"Re: =?iso-8859-1?q?caf=E9?= ok", "Re: café ok"),
        (b"=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c"),  # text between words kept
        (b"=?utf-8*ko?b?7ZWc?=", "한"),  # RFC 2231 §5 language suffix
        (b"=?iso-8859-1?q?a?= =?utf-8?q?=C3=A9?=", "aé"),  # different charsets
        (b"=?utf-8?b?!!!7ZWc?=", "한"),  # base64 junk ignored
        (b"=?utf-8?q?bad=ZZ?=", "bad=ZZ"),  # invalid QP escape kept
        (b"line one\r\n\tline two", "line one line two"),
        (b"tab\there", "tab here"),
        (b"=?utf-8?q?a=0D=0Ab=00c?=", "a bc"),  # encoded CR/LF/NUL cannot break lines
        (b"pay\xe2\x80\xaetxt.exe", "paytxt.exe"),  # bidi override neutralised
        (b"=?x-unknown?q?abc?=", "abc"),
    ],
)
def test_subject_decoding(header: bytes, expected: str) -> None:
    msg = parse_message(b"Subject: " + header + b"\r\n\r\nbody")
    assert msg.subject == expected


def test_unknown_charset() -> None:
    msg = parse("unknown_charset.eml")
    assert msg.text == "plain ascii body\n"
    assert msg.subject == "plain"
    assert "unknown charset x-foo" in msg.defects


def test_utf7_html_is_never_decoded_as_utf7() -> None:
    msg = parse("utf7_html.eml")
    assert "<script" not in msg.html
    assert msg.html.startswith("+ADw-script+AD4-")
    assert "utf-7 html not decoded" in msg.defects
    plain = parse_message(b"Content-Type: text/plain; charset=utf-7\r\n\r\nHi +AMk-")
    assert plain.text == "Hi É"  # plain text is escaped by every consumer


@pytest.mark.parametrize(
    ("ctype", "body", "expected"),
    [
        (b"text/plain", "똠방각하".encode("cp949"), "똠방각하"),  # no charset: cp949 fallback
        (b"text/plain", "한국".encode(), "한국"),  # no charset: UTF-8 first
        (b"text/plain; charset=us-ascii", "한국".encode(), "한국"),  # mislabelled 8-bit
        (b"text/plain; charset=utf-8", b"bad \xff byte", "bad \ufffd byte"),
        (b"text/plain; charset=utf-16", "hi".encode("utf-16"), "hi"),
        (b"text/plain; charset=unicode_escape", b"\\x3cb\\x3e", "\\x3cb\\x3e"),  # denied codec
        (
            b"text/html",
            b'<meta charset="iso-8859-1"><p>caf\xe9</p>',
            '<meta charset="iso-8859-1"><p>café</p>',
        ),
        (b"text/plain; charset=utf-8", b"a\r\nb\rc\nd", "a\nb\nc\nd"),
    ],
)
def test_body_charset_fallbacks(ctype: bytes, body: bytes, expected: str) -> None:
    msg = parse_message(b"Content-Type: " + ctype + b"\r\n\r\n" + body)
    assert (msg.html or msg.text) == expected


# --------------------------------------------------------------------------- filenames


def test_rfc2231_filenames() -> None:
    msg = parse("rfc2231_filename.eml")
    assert msg.text == "See attached."
    assert [a.filename for a in msg.attachments] == ["보고서.pdf", "결과표.xlsx"]
    assert [a.index for a in msg.attachments] == [1, 2]
    assert msg.attachments[0].content_type == "application/pdf"
    assert msg.attachments[0].size == len(b"%PDF-1.4 fake")
    assert msg.has_attachments
    got = get_attachment(load("rfc2231_filename.eml"), 1)
    assert got is not None and got[1] == b"%PDF-1.4 fake"


def test_rfc2047_filename_in_ks_c_5601() -> None:
    msg = parse("rfc2047_filename_ksc.eml")
    assert [a.filename for a in msg.attachments] == ["보고서.pdf", "결과표.xlsx"]
    assert all(not a.inline for a in msg.attachments)


def test_hostile_filenames() -> None:
    msg = parse("evil_filename.eml")
    names = [a.filename for a in msg.attachments]
    assert names == ["invoicefdp.exe", "aX-Evil: 1.txt", "passwd", "evil.bat"]
    # An HTML attachment is never picked as the body.
    assert msg.html == ""


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        (b'attachment; filename="a' + b"x" * 400 + b'.pdf"', "a" + "x" * 250 + ".pdf"),
        (b'attachment; filename=".."', "attachment-0.bin"),
        (b'attachment; filename="   "', "attachment-0.bin"),
        (b"attachment", "attachment-0.bin"),
        (b'attachment; filename="=?utf-8?q?r=C3=A9sum=C3=A9.doc?="', "résumé.doc"),
        (b"attachment; filename*=iso-8859-1'en'caf%E9.txt", "café.txt"),
        (b"attachment; filename*=''%ED%95%9C.txt", "한.txt"),  # no charset: UTF-8 guess
        (b"attachment; filename*0=abc; filename*1=def.txt", "abcdef.txt"),
        (b"attachment; filename*1*=%9C.txt; filename*0*=utf-8''%ED%95", "한.txt"),  # out of order
        (b"attachment; filename=\"plain.txt\"; filename*=utf-8''ext.txt", "ext.txt"),
        ('attachment; filename="보고서.hwp"'.encode("cp949"), "보고서.hwp"),  # raw 8-bit cp949
        ('attachment; filename="보고서.hwp"'.encode(), "보고서.hwp"),  # raw 8-bit UTF-8
        (b'attachment; filename="a\\"b.txt"', 'a"b.txt'),
        (b'attachment; filename="unterminated.txt', "unterminated.txt"),
    ],
)
def test_filename_table(disposition: bytes, expected: str) -> None:
    raw = (
        b"Content-Type: application/octet-stream\r\nContent-Disposition: "
        + disposition
        + b"\r\n\r\ndata"
    )
    msg = parse_message(raw)
    assert [a.filename for a in msg.attachments] == [expected]


def test_name_parameter_fallback_and_synthesized_extension() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=z\r\n\r\n"
        b"--z\r\nContent-Type: text/plain\r\n\r\nbody"
        b'\r\n--z\r\nContent-Type: image/png; name="pic.png"\r\n\r\nPNG'
        b"\r\n--z\r\nContent-Type: image/jpeg\r\n\r\nJPG"
        b"\r\n--z\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhi"
        b"\r\n--z--\r\n"
    )
    msg = parse_message(raw)
    assert [(a.filename, a.content_type) for a in msg.attachments] == [
        ("pic.png", "image/png"),
        ("attachment-2.jpg", "image/jpeg"),
        ("attachment-3.eml", "message/rfc822"),
    ]
    got = get_attachment(raw, 3)
    assert got is not None and got[1] == b"Subject: inner\r\n\r\nhi"
    assert msg.text == "body"  # the inner message's text is not the outer body


# --------------------------------------------------------------------------- structure


def test_inline_cid_image_in_related() -> None:
    raw = load("related_cid_image.eml")
    msg = parse_message(raw)
    assert msg.text == "Logo below."
    assert msg.html == '<p>Logo: <img src="cid:logo@example.com" alt="logo"></p>'
    image, pdf = msg.attachments
    assert image == Attachment(
        index=2,
        filename="attachment-2.png",
        content_type="image/png",
        size=image.size,
        content_id="logo@example.com",
        inline=True,
    )
    assert pdf.filename == "doc.pdf" and not pdf.inline
    assert msg.has_attachments
    for cid in ("logo@example.com", "<logo@example.com>", "logo%40example.com", "LOGO@example.com"):
        got = get_part_by_cid(raw, cid)
        assert got is not None, cid
        assert got[0] == image
        assert got[1].startswith(b"\x89PNG\r\n\x1a\n")
    assert get_part_by_cid(raw, "missing@example.com") is None
    assert get_part_by_cid(raw, "") is None


def test_inline_images_only_do_not_count_as_attachments() -> None:
    raw = (
        b"Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html\r\n\r\n"
        b'<img src="cid:a">\r\n'
        b"--r\r\nContent-Type: image/gif\r\nContent-ID: <a>\r\n\r\nGIF\r\n--r--\r\n"
    )
    msg = parse_message(raw)
    assert [a.inline for a in msg.attachments] == [True]
    assert msg.has_attachments is False


def test_related_start_parameter_picks_root() -> None:
    raw = (
        b'Content-Type: multipart/related; boundary=r; start="<root>"\r\n\r\n'
        b"--r\r\nContent-Type: text/html\r\nContent-ID: <other>\r\n\r\n<p>not root</p>\r\n"
        b"--r\r\nContent-Type: text/html\r\nContent-ID: <root>\r\n\r\n<p>root</p>\r\n--r--\r\n"
    )
    assert parse_message(raw).html == "<p>root</p>"


def test_alternative_prefers_last_and_skips_attachments() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=m\r\n\r\n"
        b"--m\r\nContent-Type: text/html\r\n"
        b"Content-Disposition: attachment; filename=x.html\r\n\r\n"
        b"<p>attached</p>\r\n"
        b"--m\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
        b"--a\r\nContent-Type: text/html\r\n\r\n<p>first html</p>\r\n"
        b"--a\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
        b"--a\r\nContent-Type: text/html\r\n\r\n<p>best html</p>\r\n--a--\r\n--m--\r\n"
    )
    msg = parse_message(raw)
    assert msg.html == "<p>best html</p>"
    assert msg.text == "plain"
    assert [a.index for a in msg.attachments] == [0, 1]  # attached html + the other alternative
    assert msg.has_attachments


def test_digest_parts_default_to_message_rfc822() -> None:
    raw = (
        b"Content-Type: multipart/digest; boundary=d\r\n\r\n"
        b"--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n"
        b"--d\r\n\r\nSubject: two\r\n\r\nsecond\r\n--d--\r\n"
    )
    msg = parse_message(raw)
    assert [a.content_type for a in msg.attachments] == ["message/rfc822", "message/rfc822"]


def test_missing_closing_boundary() -> None:
    msg = parse("broken_no_close_boundary.eml")
    assert msg.text == "first part"
    (tail,) = msg.attachments
    assert tail.filename == "tail.bin"
    got = get_attachment(load("broken_no_close_boundary.eml"), tail.index)
    assert got is not None and got[1] == b"tail data runs to the end\r\n"
    assert "missing closing boundary" in msg.defects


def test_boundary_never_present() -> None:
    msg = parse("broken_boundary_absent.eml")
    assert "the declared boundary does not occur" in msg.text
    assert "boundary not found" in msg.defects
    assert msg.attachments == ()


def test_no_blank_line_after_headers() -> None:
    msg = parse("broken_no_blank_line.eml")
    assert msg.subject == "no separator"
    assert msg.text == "This line starts the body\nsecond line\n"
    assert "missing header/body separator" in msg.defects


def test_bare_lf_message() -> None:
    raw = load("bare_lf.eml")
    msg = parse_message(raw)
    assert msg.subject == "bare LF"
    assert msg.text == "line one\nline two"
    (att,) = msg.attachments
    assert get_attachment(raw, att.index) == (att, b"\x00\x01\x02")


def test_nul_bytes() -> None:
    msg = parse("nul_bytes.eml")
    assert msg.subject == "nulinside"
    assert msg.to == (Address("", "b@example.com"),)  # the bad header did not end the block
    assert msg.text == "body\ufffdwith nul\n"
    assert "invalid header name" in msg.defects
    assert ("X-Nul\ufffdName", "v") in msg.headers()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # RFC 2046 §5.1.1: transport padding after the delimiter; close delimiter.
        (b"--b  \r\n\r\none\r\n--b--  \r\nepilogue --b\r\n\r\nignored", ["one"]),
        # '--bx' is another boundary, not ours; preamble ignored.
        (b"preamble\r\n--bx\r\n--b\r\n\r\none\r\n--bx\r\n--b--", ["one\r\n--bx"]),
        # empty parts
        (b"--b\r\n--b\r\n\r\nsecond\r\n--b--", ["", "second"]),
        # delimiter not at line start is data
        (b"--b\r\n\r\nsee --b here\r\n--b--", ["see --b here"]),
    ],
)
def test_delimiter_rules(body: bytes, expected: list[str]) -> None:
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + body
    leaves = []
    index = 0
    while (got := get_attachment(raw, index)) is not None:
        leaves.append(got[1].decode())
        index += 1
    assert leaves == expected


def test_nested_part_reusing_parent_boundary_is_deterministic() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=same\r\n\r\n--same\r\n"
        b"Content-Type: multipart/alternative; boundary=same\r\n\r\n--same\r\n"
        b"Content-Type: text/plain\r\n\r\ninner\r\n--same--\r\n--same--\r\n"
    )
    first = parse_message(raw)
    assert first == parse_message(raw)
    assert_sane(first)
    # The outer scan owns every '--same' line (RFC 2046 §5.1.1 forbids the reuse): the
    # inner multipart is left with no delimiters and becomes an empty text part, and
    # "inner" is the next sibling. Same answer for indexer, API and renderer.
    assert "boundary not found" in first.defects
    assert first.text == ""
    (sibling,) = first.attachments
    assert get_attachment(raw, sibling.index) == (sibling, b"inner")


@pytest.mark.parametrize(
    ("cte", "payload", "expected"),
    [
        (b"base64", b"QUJD\r\nREVG", b"ABCDEF"),
        (b"base64", b"QU JD*RE!VG", b"ABCDEF"),  # garbage ignored
        (b"base64", b"QUJDRA", b"ABCD"),  # missing padding
        (b"base64", b"QUJDR", b"ABC"),  # dangling sextet
        (b"base64", b"====", b""),
        (b"quoted-printable", b"a=3Db=\r\nc=ZZ=", b"a=bc=ZZ"),
        (b"Quoted-Printable", b"caf=E9", b"caf\xe9"),
        (b"x-unknown", b"as is", b"as is"),
        (b"binary", b"\x00\xff", b"\x00\xff"),
    ],
)
def test_transfer_encodings_are_lenient(cte: bytes, payload: bytes, expected: bytes) -> None:
    raw = (
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: "
        + cte
        + b"\r\n\r\n"
        + payload
    )
    msg = parse_message(raw)
    assert msg.attachments[0].size == len(expected)
    assert get_attachment(raw, 0) == (msg.attachments[0], expected)


def test_get_attachment_bounds_and_body_parts() -> None:
    raw = load("alternative_text_html.eml")
    assert get_attachment(raw, -1) is None
    assert get_attachment(raw, 2) is None
    got = get_attachment(raw, 0)
    assert got is not None and got[0].content_type == "text/plain"


# --------------------------------------------------------------------------- addresses


def test_mailsploit_addr_spec_is_not_decoded() -> None:
    msg = parse("mailsploit_from.eml")
    (sender,) = msg.from_
    assert sender.addr == (
        "=?utf-8?b?cG90dXNAd2hpdGVob3VzZS5nb3Y=?==?utf-8?Q?=00?=="
        "?utf-8?b?cG90dXNAd2hpdGVob3VzZS5nb3Y=?=@mailsploit.com"
    )
    assert sender.name == ""
    # A decoded display name may *say* anything; the real address stays visible.
    assert msg.reply_to == (Address("potus@whitehouse.gov", "attacker@mailsploit.com"),)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"a@x", [("", "a@x")]),
        (b"<a@x>", [("", "a@x")]),
        (b'"Last, First" <a@x>', [("Last, First", "a@x")]),
        (b"a@x (Comment Name)", [("Comment Name", "a@x")]),
        (b"a@x (outer (nested) c)", [("outer (nested) c", "a@x")]),
        (b"Team: a@x, B <b@y>;, c@z", [("", "a@x"), ("B", "b@y"), ("", "c@z")]),
        (b"undisclosed-recipients:;", []),
        (b"=?utf-8?b?7ZWc6rWt?= <k@x>", [("한국", "k@x")]),
        (b'"=?utf-8?q?a=00b?=" <n@x>', [("ab", "n@x")]),  # NUL in name stripped
        (b"Name <unterminated@x", [("Name", "unterminated@x")]),
        (b"<a@x>, , ,<b@y>", [("", "a@x"), ("", "b@y")]),
        (b'"\\"quoted\\"" <q@x>', [('"quoted"', "q@x")]),
        ("홍길동 <hong@example.kr>".encode("cp949"), [("홍길동", "hong@example.kr")]),
        ("사용자@예시.kr".encode(), [("", "사용자@예시.kr")]),  # RFC 6532 address
        (b"", []),
    ],
)
def test_address_table(header: bytes, expected: list[tuple[str, str]]) -> None:
    msg = parse_message(b"To: " + header + b"\r\n\r\n")
    assert [(a.name, a.addr) for a in msg.to] == expected


def test_address_with_control_characters_is_unusable() -> None:
    msg = parse_message(b"From: <a\x01@x>\r\n\r\n")
    assert msg.from_ == ()
    assert "control characters in address" in msg.defects


def test_multiple_from_headers_are_all_shown() -> None:
    msg = parse_message(b"From: a@x\r\nFrom: b@y\r\n\r\n")
    assert [a.addr for a in msg.from_] == ["a@x", "b@y"]
    assert "multiple From headers" in msg.defects


# --------------------------------------------------------------------------- ids, dates, snippet


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"Tue, 01 Jul 2025 10:52:37 +0200", dt.datetime(2025, 7, 1, 8, 52, 37, tzinfo=dt.UTC)),
        (b"1 Jul 2025 10:52:37 -0000", dt.datetime(2025, 7, 1, 10, 52, 37, tzinfo=dt.UTC)),
        (b"Tue, 01 Jul 2025 10:52:37 GMT", dt.datetime(2025, 7, 1, 10, 52, 37, tzinfo=dt.UTC)),
        (b"yesterday", None),
        (b"Tue, 99 Foo 99999 99:99:99 +9999", None),
        (b"", None),
    ],
)
def test_dates(header: bytes, expected: dt.datetime | None) -> None:
    msg = parse_message(b"Date: " + header + b"\r\n\r\n")
    assert msg.date == expected
    if msg.date is not None:
        assert msg.date.tzinfo is not None


def test_message_ids() -> None:
    raw = (
        b"Message-ID: no-brackets@x\r\nIn-Reply-To: <p@x> (from Joe)\r\n"
        b"References: <a@x>\r\n <b@x>\r\nReferences: <c@x>\r\n\r\n"
    )
    msg = parse_message(raw)
    assert msg.message_id == "no-brackets@x"
    assert msg.in_reply_to == "p@x"
    assert msg.references == ("a@x", "b@x", "c@x")


def test_references_are_capped_keeping_root_and_latest() -> None:
    refs = b" ".join(b"<r%d@x>" % i for i in range(3000))
    msg = parse_message(b"References: " + refs + b"\r\n\r\n")
    assert len(msg.references) == 1000
    assert msg.references[0] == "r0@x" and msg.references[-1] == "r2999@x"
    assert "references limit" in msg.defects


def test_snippet_from_html_skips_script_and_style() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<script>var x = '<p>';</script><p>Hello&nbsp;<b>World</b> &amp; co</p>"
        "<!-- hidden --><p>" + "word " * 100 + "</p></body></html>"
    )
    msg = parse_message(b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html.encode())
    assert msg.snippet.startswith("Hello World & co word word")
    assert len(msg.snippet) <= 200


def test_snippet_ignores_leading_whitespace_flood() -> None:
    msg = parse_message(b"\r\n" + b" \r\n" * 100_000 + b"text")
    assert msg.snippet == "text"


# --------------------------------------------------------------------------- limits


def nested(depth: int, leaf: bytes = b"Content-Type: text/plain\r\n\r\nleaf\r\n") -> bytes:
    parts = [
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
        for i in range(depth)
    ]
    return b"Subject: deep\r\n" + b"".join(parts) + leaf


@pytest.mark.timeout(20)
def test_100k_deep_nesting_is_capped_without_recursion() -> None:
    raw = nested(100_000)
    msg = parse_message(raw)
    assert "depth limit" in msg.defects
    assert msg.subject == "deep"
    (opaque,) = msg.attachments
    assert opaque.content_type == "application/octet-stream"
    got = get_attachment(raw, opaque.index)
    assert got is not None and got[1].startswith(b"Content-Type: multipart/mixed; boundary=b50")


@pytest.mark.timeout(20)
def test_same_boundary_100k_deep() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n" * 100_000 + b"\r\nleaf"
    msg = parse_message(raw)
    assert_sane(msg)
    assert len(msg.attachments) < DEFAULT_LIMITS.max_parts


@pytest.mark.parametrize(("depth", "limited"), [(2, False), (3, False), (4, True)])
def test_depth_limit_boundary(depth: int, limited: bool) -> None:
    msg = parse_message(nested(depth), ParseLimits(max_depth=3))
    assert ("depth limit" in msg.defects) is limited
    assert (msg.text.strip() == "leaf") is not limited


@pytest.mark.parametrize(("leaves", "limited"), [(8, False), (9, False), (10, True)])
def test_part_limit_boundary(leaves: int, limited: bool) -> None:
    # max_parts counts entities including the multipart container itself.
    raw = b"Content-Type: multipart/mixed; boundary=p\r\n\r\n"
    raw += b"".join(b"--p\r\nContent-Type: image/png\r\n\r\n%d\r\n" % i for i in range(leaves))
    raw += b"--p--\r\n"
    msg = parse_message(raw, ParseLimits(max_parts=10))
    assert ("part limit" in msg.defects) is limited
    assert len(msg.attachments) == min(leaves, 9)
    kept = min(leaves, 9)
    assert get_attachment(raw, kept - 1, ParseLimits(max_parts=10)) is not None
    assert get_attachment(raw, kept, ParseLimits(max_parts=10)) is None


@pytest.mark.timeout(20)
def test_20k_tiny_parts() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=p\r\n\r\n"
        + b"--p\r\n\r\nx\r\n" * 20_000
        + b"--p\r\nContent-Type: message/rfc822\r\n\r\nSubject: late\r\n\r\n--p--\r\n"
    )
    msg = parse_message(raw)
    assert "part limit" in msg.defects
    assert len(msg.attachments) + 1 + (1 if msg.text else 0) == DEFAULT_LIMITS.max_parts


@pytest.mark.timeout(20)
def test_100k_headers() -> None:
    raw = b"".join(b"X-H%d: v\r\n" % i for i in range(100_000)) + b"\r\nbody"
    msg = parse_message(raw)
    assert "header count limit" in msg.defects
    assert len(msg.headers()) == DEFAULT_LIMITS.max_headers
    assert msg.text == "body"


@pytest.mark.timeout(20)
def test_5mb_header_line() -> None:
    raw = b"Subject: " + b"a" * 5_000_000 + b"\r\nX-After: 1\r\n\r\nbody"
    msg = parse_message(raw)
    assert "header size limit" in msg.defects
    assert msg.text == "body"
    assert msg.subject == "a" * 16 * 1024  # kept whole up to a bound; the index cuts it


@pytest.mark.timeout(20)
def test_50k_to_addresses() -> None:
    to = b", ".join(b"User %d <u%d@example.com>" % (i, i) for i in range(50_000))
    msg = parse_message(b"To: " + to + b"\r\n\r\nbody", ParseLimits(max_header_bytes=10**8))
    assert len(msg.to) == DEFAULT_LIMITS.max_addresses
    assert msg.to[0] == Address("User 0", "u0@example.com")
    assert "address limit" in msg.defects
    assert msg.text == "body"


@pytest.mark.timeout(20)
def test_content_type_with_10k_parameters() -> None:
    params = b"; ".join(b'p%d="v;%d"' % (i, i) for i in range(10_000))
    raw = b"Content-Type: text/plain; " + params + b"; charset=cp949\r\n\r\n" + "똠".encode("cp949")
    msg = parse_message(raw, ParseLimits(max_header_bytes=10**8))
    assert "parameter limit" in msg.defects
    assert msg.text == "똠"  # unlabelled fallback still finds CP949


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "raw",
    [
        b"Content-Type: text/plain; a=" + b'"' * 500_000 + b"\r\n\r\nx",
        b'Content-Type: text/plain; a="' + b"x;\\" * 200_000 + b"\r\n\r\nx",
        b"Content-Disposition: attachment; "
        + b"; ".join(b"filename*%d*=%%41" % i for i in range(99_999, 0, -1))
        + b"\r\n\r\nx",
        b"Subject: " + b"=?utf-8?q?a?= " * 100_000 + b"\r\n\r\nx",
        b"From: " + b"<" * 300_000 + b"\r\n\r\nx",
        b"From: " + b"(" * 300_000 + b"\r\n\r\nx",
        b"From: " + b'"' * 300_001 + b"\r\n\r\nx",
        b"Content-Type: text/html\r\n\r\n" + b"<style>" * 500_000,
        b"Content-Type: text/html\r\n\r\n" + b"<!--" * 500_000,
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n" + b"--ab\r\n" * 1_000_000,
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\n" + b"x--a\r\n" * 1_000_000,
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b"QUJD" * 2_500_000,
        b"\r\n" * 1_000_000,
        b"\r" * 1_000_000,
        b" x\r\n" * 300_000,
    ],
    ids=[
        "quote-storm",
        "unterminated-quote-backslash",
        "rfc2231-99999-sections",
        "encoded-word-run",
        "angle-storm",
        "comment-storm",
        "dquote-storm",
        "unclosed-style",
        "unclosed-comments",
        "boundary-prefix-spam",
        "boundary-mid-line-spam",
        "10MB-base64",
        "blank-lines",
        "bare-cr",
        "continuation-lines",
    ],
)
def test_pathological_inputs_stay_linear(raw: bytes) -> None:
    msg = parse_message(raw)
    assert_sane(msg)


def test_size_limit_parses_headers_only() -> None:
    raw = load("related_cid_image.eml")
    limits = ParseLimits(max_bytes=100)
    msg = parse_message(raw, limits)
    assert msg.subject == "inline image"
    assert (msg.text, msg.html, msg.attachments) == ("", "", ())
    assert "size limit: body not parsed" in msg.defects
    assert get_attachment(raw, 2, limits) is None


def test_text_limit() -> None:
    msg = parse_message(b"\r\n" + "한".encode() * 100, ParseLimits(max_text_chars=10))
    assert msg.text == "한" * 10
    assert "text truncated" in msg.defects


def test_mbox_from_line_is_skipped() -> None:
    msg = parse_message(b"From sender@x Tue Jul  1 10:00:00 2025\r\nSubject: mbox\r\n\r\nbody")
    assert msg.subject == "mbox"
    assert msg.text == "body"


@pytest.mark.timeout(60)
def test_never_raises_on_mutated_corpus() -> None:
    rng = random.Random(20250701)  # deterministic
    seeds = [p.read_bytes() for p in CORPUS if p.stat().st_size]
    specials = [
        b"\r\n",
        b"\n",
        b"\r",
        b"\x00",
        b"--",
        b";",
        b'"',
        b"=?",
        b"?=",
        b"<",
        b"\xff",
        b":",
    ]
    for _ in range(600):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(data) + 1)
            action = rng.random()
            if action < 0.4:
                data[pos:pos] = rng.choice(specials)
            elif action < 0.7:
                del data[pos : pos + rng.randint(1, 40)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        raw = bytes(data)
        msg = parse_message(raw)
        assert_sane(msg)
        for att in msg.attachments:
            got = get_attachment(raw, att.index)
            assert got is not None and got[0] == att
    for size in (1, 7, 64, 4096):
        assert_sane(parse_message(bytes(rng.randrange(256) for _ in range(size))))


def test_base64_encoded_korean_body_is_decoded_once() -> None:
    body = base64.encodebytes(KO.encode("cp949"))
    raw = (
        b"Content-Type: text/plain; charset=ks_c_5601-1987\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body
    )
    assert parse_message(raw).text == KO


def test_named_inline_part_without_content_id_counts_as_attachment() -> None:
    raw = (
        b"From: a@b.example\r\nSubject: apple\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
        b"Content-Type: text/plain\r\n\r\nsee attached\r\n--zz\r\n"
        b"Content-Type: application/pdf; name=report.pdf\r\n"
        b"Content-Disposition: inline; filename=report.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--zz--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.has_attachments
    assert [(a.filename, a.inline) for a in parsed.attachments] == [("report.pdf", False)]
