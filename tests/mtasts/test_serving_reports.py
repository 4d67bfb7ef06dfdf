"""Our side of MTA-STS and TLS-RPT: the policy file served on mta-sts.<domain> (and 404
elsewhere), the records the DNS check prints (with the id following the policy), the admin
API to change the policy, and TLS reports mailed to our rua address: stored through real
delivery and shown by the admin API; hostile reports refused while the mail is delivered."""

from __future__ import annotations

import gzip
import json
from email.message import EmailMessage
from typing import Any

import pytest

from mailcore.delivery.actions import do_enqueue, do_process_entry
from mailcore.directory.dnscheck import check_domain_dns
from mailcore.mtasts.models import TlsReport
from mailcore.mtasts.policy import parse_policy
from mailcore.mtasts.serving import served_policy
from mailcore.mtasts.tlsrpt import ReportError, do_ingest_report
from tests.admin.conftest import World, client_for

pytestmark = pytest.mark.django_db
P = "/api/v1/admin/"
URL = "/.well-known/mta-sts.txt"


@pytest.fixture(autouse=True)
def _hosts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    settings.MAIL_HOSTNAME = "mail.ops.example"
    settings.INBOUND_AUTH = False


def test_policy_served_for_local_domain_only(world: World, client: Any) -> None:
    ok = client.get(URL, HTTP_HOST="mta-sts.a.example")
    assert ok.status_code == 200 and ok["Content-Type"].startswith("text/plain")
    text = ok.content.decode()
    assert text == (
        "version: STSv1\r\nmode: testing\r\nmx: mail.ops.example\r\nmax_age: 604800\r\n"
    )
    assert parse_policy(text).mode == "testing"
    assert client.get(URL, HTTP_HOST="mta-sts.nowhere.test").status_code == 404
    assert client.get(URL, HTTP_HOST="a.example").status_code == 404  # only on mta-sts.
    assert client.get(URL, HTTP_HOST="mail.ops.example").status_code == 404
    assert client.post(URL, HTTP_HOST="mta-sts.a.example").status_code == 405


def test_admin_sets_mode_and_the_id_follows(world: World, client: Any) -> None:
    api = client_for(world, "domain_admin")
    before = api.get(P + "domains/a.example/mta-sts").json()
    assert before["mode"] == "testing" and before["sts_record"].startswith("v=STSv1; id=")
    assert before["tlsrpt_record"] == "v=TLSRPTv1; rua=mailto:postmaster@a.example"
    changed = api.put(
        P + "domains/a.example/mta-sts",
        {"mode": "enforce", "max_age": 86400, "extra_mx": ["*.Backup.a.example."]},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    after = changed.json()
    assert after["mode"] == "enforce" and after["mx"] == ["mail.ops.example", "*.backup.a.example"]
    assert after["policy_id"] != before["policy_id"]
    served = client.get(URL, HTTP_HOST="mta-sts.a.example").content.decode()
    assert served == after["text"] and "mx: *.backup.a.example\r\n" in served
    bad = api.put(
        P + "domains/a.example/mta-sts", {"mode": "enforce", "extra_mx": ["a b"]}, format="json"
    )
    assert bad.status_code == 400
    assert api.get(P + "domains/b.example/mta-sts").status_code == 404  # not theirs
    user = client_for(world, "user")
    assert (
        user.put(P + "domains/a.example/mta-sts", {"mode": "none"}, format="json").status_code
        == 403
    )


def test_dns_check_prints_the_records(world: World, zone, settings: Any) -> None:  # type: ignore[no-untyped-def]
    domain = world.own.domain
    checks = {c.name: c for c in check_domain_dns(domain) if c.kind in ("mta-sts", "tlsrpt")}
    sts = checks[f"_mta-sts.{domain}"]
    served = served_policy(world.own.user.domain)
    assert sts.status == "missing" and sts.expected == (
        f'_mta-sts.{domain}. IN TXT "v=STSv1; id={served.policy_id}"'
    )
    assert checks[f"mta-sts.{domain}"].status == "missing"
    rpt = checks[f"_smtp._tls.{domain}"]
    assert rpt.status == "missing"
    assert (
        rpt.expected == f'_smtp._tls.{domain}. IN TXT "v=TLSRPTv1; rua=mailto:postmaster@a.example"'
    )
    # Published with an old id: wrong, and it says why.
    zone.add(f"_mta-sts.{domain}", "TXT", "v=STSv1; id=old1")
    zone.add(f"mta-sts.{domain}", "A", "192.0.2.10")
    zone.add(f"_smtp._tls.{domain}", "TXT", "v=TLSRPTv1; rua=mailto:postmaster@a.example")
    checks = {c.name: c for c in check_domain_dns(domain) if c.kind in ("mta-sts", "tlsrpt")}
    assert checks[f"_mta-sts.{domain}"].reason == "mtasts_stale_id"
    assert checks[f"mta-sts.{domain}"].status == "ok"
    assert checks[f"_smtp._tls.{domain}"].status == "ok"
    zone.rrs = [rr for rr in zone.rrs if str(rr.rname) != f"_mta-sts.{domain}."]
    zone.add(f"_mta-sts.{domain}", "TXT", served.sts_record)
    checks = {c.name: c for c in check_domain_dns(domain) if c.kind == "mta-sts"}
    assert checks[f"_mta-sts.{domain}"].status == "ok"


def report_doc(domain: str = "a.example", report_id: str = "2026-03-01T00:00:00Z_a") -> dict:
    return {
        "organization-name": "Big Mail Inc.",
        "date-range": {
            "start-datetime": "2026-03-01T00:00:00Z",
            "end-datetime": "2026-03-01T23:59:59Z",
        },
        "contact-info": "smtp-tls-reporting@bigmail.test",
        "report-id": report_id,
        "policies": [
            {
                "policy": {
                    "policy-type": "sts",
                    "policy-string": ["version: STSv1", "mode: testing", "mx: mail.ops.example"],
                    "policy-domain": domain,
                    "mx-host": ["mail.ops.example"],
                },
                "summary": {
                    "total-successful-session-count": 5326,
                    "total-failure-session-count": 303,
                },
                "failure-details": [
                    {
                        "result-type": "certificate-expired",
                        "sending-mta-ip": "2001:db8:abcd:0012::1",
                        "receiving-mx-hostname": "mail.ops.example",
                        "failed-session-count": 100,
                    },
                    {
                        "result-type": "starttls-not-supported",
                        "sending-mta-ip": "2001:db8:abcd:0013::1",
                        "receiving-mx-hostname": "mail.ops.example",
                        "receiving-ip": "203.0.113.56",
                        "failed-session-count": 203,
                        "additional-information": "https://reports.bigmail.test/x",
                    },
                ],
            }
        ],
    }


def report_mail(payload: bytes, ctype: str = "application/tlsrpt+gzip", to: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = "tls-reporting@bigmail.test"
    msg["To"] = to or "postmaster@a.example"
    msg["Subject"] = "Report Domain: a.example Submitter: bigmail.test Report-ID: <x>"
    msg["TLS-Report-Domain"] = "a.example"
    msg["TLS-Report-Submitter"] = "bigmail.test"
    msg.set_content("This is an aggregate TLS report from bigmail.test")
    maintype, subtype = ctype.split("/")
    msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename="report.json.gz")
    msg.replace_header("Content-Type", 'multipart/report; report-type="tlsrpt"')
    return msg.as_bytes()


def deliver_to(rcpt: str, data: bytes) -> None:
    entry = do_enqueue(sender="tls-reporting@bigmail.test", recipients=[rcpt], data=data)
    assert do_process_entry(entry.pk) == "done"
    [row] = entry.recipients.all()
    assert row.state == "delivered"  # the mail itself is delivered either way


def test_received_report_stored_and_shown(world: World) -> None:
    data = report_mail(gzip.compress(json.dumps(report_doc()).encode()))
    deliver_to("postmaster@a.example", data)
    deliver_to("postmaster@a.example", data)  # the same report again: stored once
    api = client_for(world, "domain_admin")
    got = api.get(P + "domains/a.example/tls-reports")
    assert got.status_code == 200
    [item] = got.json()["items"]
    assert item["organization"] == "Big Mail Inc." and item["report_id"].endswith("_a")
    assert (item["successful"], item["failed"]) == (5326, 303)
    assert item["start"].startswith("2026-03-01T00:00:00")
    [policy] = item["policies"]
    assert [(f["result_type"], f["failed_session_count"]) for f in policy["failures"]] == [
        ("certificate-expired", 100),
        ("starttls-not-supported", 203),
    ]
    assert api.get(P + "domains/b.example/tls-reports").status_code == 404
    other = client_for(world, "superadmin").get(P + "domains/b.example/tls-reports")
    assert other.json()["items"] == []


def test_json_attachment_and_tlsrpt_address_setting(world: World, settings: Any) -> None:
    settings.TLSRPT_ADDRESS = "user@b.example"
    doc = report_doc()
    deliver_to("postmaster@a.example", report_mail(json.dumps(doc).encode(), "application/json"))
    assert not TlsReport.objects.exists()  # postmaster is no longer the rua address
    mail = report_mail(json.dumps(doc).encode(), "application/tlsrpt+json", "user@b.example")
    deliver_to("user@b.example", mail)
    assert TlsReport.objects.get().domain == "a.example"


def _bomb() -> bytes:
    return gzip.compress(b"[" + b" " * (50 * 1024 * 1024) + b"]")


def _deep() -> bytes:
    return gzip.compress(b"[" * 100_000 + b"]" * 100_000)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(_bomb(), id="gzip-bomb"),
        pytest.param(_deep(), id="deep-json"),
        pytest.param(b"not gzip at all", id="not-gzip"),
        pytest.param(gzip.compress(b"{nope"), id="not-json"),
        pytest.param(gzip.compress(b"[1, 2]"), id="not-an-object"),
        pytest.param(
            gzip.compress(json.dumps({**report_doc(), "policies": "x"}).encode()),
            id="policies-not-a-list",
        ),
        pytest.param(
            gzip.compress(
                json.dumps({**report_doc(), "date-range": {"start-datetime": "yesterday"}}).encode()
            ),
            id="bad-date",
        ),
        pytest.param(
            gzip.compress(json.dumps(report_doc("elsewhere.test")).encode()), id="foreign"
        ),
    ],
)
def test_hostile_reports_refused_mail_delivered(world: World, payload: bytes) -> None:
    data = report_mail(payload)
    with pytest.raises(ReportError):
        do_ingest_report(data)
    deliver_to("postmaster@a.example", data)
    assert not TlsReport.objects.exists()


def test_negative_counts_refused(world: World) -> None:
    doc = report_doc()
    doc["policies"][0]["summary"]["total-failure-session-count"] = -5
    with pytest.raises(ReportError, match="count"):
        do_ingest_report(report_mail(gzip.compress(json.dumps(doc).encode())))


def test_dnscheck_command_prints_the_records(world: World, zone, capsys) -> None:  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    with pytest.raises(SystemExit):  # MX and the others are missing too
        call_command("dnscheck", "a.example")
    out = capsys.readouterr().out
    served = served_policy(world.own.user.domain)
    assert "missing mta-sts _mta-sts.a.example" in out
    assert f'  _mta-sts.a.example. IN TXT "{served.sts_record}"' in out
    assert '  _smtp._tls.a.example. IN TXT "v=TLSRPTv1; rua=mailto:postmaster@a.example"' in out
    assert "  mta-sts.a.example. IN CNAME mail.ops.example." in out


def test_every_mtasts_reason_has_words_in_the_console() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = (root / "mailcore/directory/dnscheck.py").read_text()
    codes = set(re.findall(r'"((?:mtasts|tlsrpt)_[a-z_]+)"', source))
    assert {"mtasts_missing", "mtasts_stale_id", "tlsrpt_missing"} <= codes
    words = (root / "frontend/src/i18n/mtastsMessages.ts").read_text()
    assert sorted(c for c in codes if words.count(f'"dns.{c}":') != 2) == []  # en and ko
