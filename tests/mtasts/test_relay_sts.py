"""Honouring remote MTA-STS policies when relaying (RFC 8461 §4-5), against a loopback DNS
server, a loopback HTTPS server with a CA made in the test, and loopback SMTP sinks with a
valid certificate, a wrong-name one, or no STARTTLS. TLS-RPT session counts on the way."""

from __future__ import annotations

import pytest

from mailcore.delivery.actions import do_enqueue, do_process_entry
from mailcore.delivery.models import Direction, QueueEntry
from mailcore.delivery.relay import relay_config
from mailcore.mtasts.models import RemotePolicy, TlsSessionCount
from mailcore.mtasts.remote import lookup_policy
from tests.outbound.test_relay import rcpt_state

pytestmark = pytest.mark.django_db(transaction=True)

MSG = (
    b"From: Alice <alice@example.com>\r\nTo: bob@remote.test\r\nSubject: sts\r\n"
    b"Message-ID: <sts1@example.com>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0900\r\n\r\nhello\r\n"
)


def policy(mode: str, *mx: str, max_age: int = 86400) -> str:
    mx_lines = "".join(f"mx: {m}\r\n" for m in mx)
    return f"version: STSv1\r\nmode: {mode}\r\n{mx_lines}max_age: {max_age}\r\n"


def send() -> QueueEntry:
    return do_enqueue(
        sender="alice@example.com",
        recipients=["bob@remote.test"],
        data=MSG,
        direction=Direction.OUTBOUND,
    )


def counts(domain: str = "remote.test") -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for row in TlsSessionCount.objects.filter(policy_domain=domain):
        key = (row.policy_type, row.result_type)
        out[key] = out.get(key, 0) + row.count
    return out


@pytest.fixture
def mx1(zone):  # type: ignore[no-untyped-def]
    """remote.test → MX mx1.remote.test (127.0.0.2)."""
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    return zone


def test_enforce_delivers_to_matching_mx_over_verified_tls(
    alice, mx1, policy_server, mx_sink
) -> None:
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=20260301")
    policy_server.policy("remote.test", policy("enforce", "mx1.remote.test"))
    sink = mx_sink("127.0.0.2", cert_names=("mx1.remote.test",))
    entry = send()
    assert do_process_entry(entry.pk) == "done"
    state, reply = rcpt_state(entry)["bob@remote.test"]
    assert state == "delivered", reply
    [got] = sink.received
    assert got.tls is True
    cached = RemotePolicy.objects.get(domain="remote.test")
    assert (cached.policy_id, cached.mode, cached.mx) == (
        "20260301",
        "enforce",
        ["mx1.remote.test"],
    )
    assert counts() == {("sts", ""): 1}


def test_enforce_wildcard_pattern_matches_one_label(alice, zone, policy_server, mx_sink) -> None:
    zone.add("remote.test", "MX", "10 a.mx.remote.test.")
    zone.add("a.mx.remote.test", "A", "127.0.0.2")
    zone.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=w1")
    policy_server.policy("remote.test", policy("enforce", "*.mx.remote.test"))
    sink = mx_sink("127.0.0.2", cert_names=("a.mx.remote.test",))
    entry = send()
    assert do_process_entry(entry.pk) == "done"
    assert len(sink.received) == 1 and sink.received[0].tls


def test_enforce_refuses_mx_not_in_policy(alice, zone, policy_server, mx_sink) -> None:
    zone.add("remote.test", "MX", "10 mx2.remote.test.")
    zone.add("mx2.remote.test", "A", "127.0.0.3")
    zone.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=1")
    policy_server.policy("remote.test", policy("enforce", "mx1.remote.test"))
    sink = mx_sink("127.0.0.3", cert_names=("mx2.remote.test",))  # valid TLS, wrong MX
    entry = send()
    assert do_process_entry(entry.pk) == "deferred"
    state, reply = rcpt_state(entry)["bob@remote.test"]
    assert state == "deferred" and "4.7.5" in reply and "not in the MTA-STS policy" in reply
    assert sink.received == []
    entry.refresh_from_db()
    assert entry.state == "queued"  # kept for a retry, not lost
    assert counts() == {("sts", "validation-failure"): 1}


def test_enforce_skips_unlisted_mx_and_uses_the_listed_one(
    alice, zone, policy_server, mx_sink
) -> None:
    zone.add("remote.test", "MX", "5 rogue.remote.test.")
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("rogue.remote.test", "A", "127.0.0.3")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    zone.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=1")
    policy_server.policy("remote.test", policy("enforce", "mx1.remote.test"))
    rogue = mx_sink("127.0.0.3")
    good = mx_sink("127.0.0.2", cert_names=("mx1.remote.test",))
    entry = send()
    assert do_process_entry(entry.pk) == "done"
    assert rogue.received == [] and len(good.received) == 1


@pytest.mark.parametrize(
    ("cert_names", "expired", "result_type"),
    [
        ((), False, "starttls-not-supported"),
        (("wrong.name.test",), False, "certificate-host-mismatch"),
        (("mx1.remote.test",), True, "certificate-expired"),
    ],
)
def test_enforce_defers_without_valid_tls_and_never_sends_plaintext(
    alice, mx1, policy_server, mx_sink, cert_names, expired, result_type
) -> None:
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=1")
    policy_server.policy("remote.test", policy("enforce", "mx1.remote.test"))
    sink = mx_sink("127.0.0.2", cert_names=cert_names, expired=expired)
    entry = send()
    assert do_process_entry(entry.pk) == "deferred"
    state, reply = rcpt_state(entry)["bob@remote.test"]
    assert state == "deferred" and reply.startswith("4."), reply
    assert sink.received == []  # no plaintext fallback
    assert counts() == {("sts", result_type): 1}
    # The message waits in the queue; once the MX is fixed it goes (retried, not lost).
    entry.refresh_from_db()
    assert entry.state == "queued"


def test_untrusted_certificate_defers(alice, mx1, policy_server, mx_sink, tmp_path) -> None:
    from mailcore.tls import ensure_self_signed, server_context
    from tests.outbound.conftest import Behaviour, SinkController, SinkHandler

    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=1")
    policy_server.policy("remote.test", policy("enforce", "mx1.remote.test"))
    cert, key = tmp_path / "self.crt", tmp_path / "self.key"
    ensure_self_signed(cert, key, "mx1.remote.test")  # right name, nobody's CA
    b = Behaviour()
    from django.conf import settings

    ctl = SinkController(
        SinkHandler(b),
        hostname="127.0.0.2",
        port=settings.RELAY_SMTP_PORT,
        tls_context=server_context(cert, key),
    )
    ctl.start()
    try:
        entry = send()
        assert do_process_entry(entry.pk) == "deferred"
        assert b.received == []
        assert counts() == {("sts", "certificate-not-trusted"): 1}
    finally:
        ctl.stop()


def test_testing_mode_delivers_and_records_the_failure(alice, mx1, policy_server, mx_sink) -> None:
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=t1")
    policy_server.policy("remote.test", policy("testing", "mx1.remote.test"))
    sink = mx_sink("127.0.0.2", cert_names=("wrong.name.test",))
    entry = send()
    assert do_process_entry(entry.pk) == "done"
    assert len(sink.received) == 1 and sink.received[0].tls  # opportunistic TLS after all
    assert counts() == {("sts", "certificate-host-mismatch"): 1}


def test_testing_mode_delivers_to_an_unlisted_mx_and_records_it(
    alice, zone, policy_server, mx_sink
) -> None:
    zone.add("remote.test", "MX", "10 mx2.remote.test.")
    zone.add("mx2.remote.test", "A", "127.0.0.3")
    zone.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=t2")
    policy_server.policy("remote.test", policy("testing", "mx1.remote.test"))
    sink = mx_sink("127.0.0.3")  # not listed, and no STARTTLS either
    entry = send()
    assert do_process_entry(entry.pk) == "done"
    assert len(sink.received) == 1 and not sink.received[0].tls
    assert counts() == {("sts", "validation-failure"): 1}  # one session, one outcome


def test_no_policy_is_todays_behaviour(alice, mx1, policy_server, mx_sink) -> None:
    sink = mx_sink("127.0.0.2")  # no STARTTLS: plaintext, as without MTA-STS
    entry = send()
    assert do_process_entry(entry.pk) == "done"
    assert len(sink.received) == 1 and not sink.received[0].tls
    assert policy_server.requests == []  # no TXT record: nothing fetched
    assert counts() == {("no-policy-found", "starttls-not-supported"): 1}


def test_cached_policy_used_when_fetch_fails(alice, mx1, policy_server, mx_sink) -> None:
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=1")
    policy_server.policy("remote.test", policy("enforce", "mx1.remote.test"))
    cfg = relay_config()
    assert lookup_policy("remote.test", cfg).policy is not None
    # The id changes but the web server now fails: the cached enforce policy stays in force.
    mx1.rrs = [rr for rr in mx1.rrs if str(rr.rname) != "_mta-sts.remote.test."]
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=2")
    policy_server.policy("remote.test", "oops", status=500)
    found = lookup_policy("remote.test", cfg)
    assert found.policy is not None and found.policy.mode == "enforce" and found.policy_id == "1"
    assert "HTTP 500" in RemotePolicy.objects.get(domain="remote.test").last_error
    sink = mx_sink("127.0.0.2")  # plaintext only
    entry = send()
    assert do_process_entry(entry.pk) == "deferred"
    assert sink.received == []
    # The TXT record vanishing does not end an unexpired policy either (RFC 8461 §5.1).
    mx1.rrs = [rr for rr in mx1.rrs if str(rr.rname) != "_mta-sts.remote.test."]
    assert lookup_policy("remote.test", cfg).policy is not None


def test_fetch_failure_without_cache_is_no_policy_and_reported(
    alice, mx1, policy_server, mx_sink
) -> None:
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=1")
    # RFC 8461 §3.3: redirects are not followed.
    policy_server.policy(
        "remote.test", "", status=301, headers={"Location": "https://mta-sts.other.test/"}
    )
    sink = mx_sink("127.0.0.2", cert_names=("mx1.remote.test",))
    entry = send()
    assert do_process_entry(entry.pk) == "done"
    assert len(sink.received) == 1
    assert policy_server.requests == ["mta-sts.remote.test"]
    assert not RemotePolicy.objects.exists()
    assert counts() == {("sts", "sts-policy-fetch-error"): 1}


def test_policy_id_change_refetches(alice, mx1, policy_server) -> None:
    cfg = relay_config()
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=1")
    policy_server.policy("remote.test", policy("testing", "mx1.remote.test"))
    assert lookup_policy("remote.test", cfg).policy.mode == "testing"  # type: ignore[union-attr]
    assert lookup_policy("remote.test", cfg).policy.mode == "testing"  # type: ignore[union-attr]
    assert len(policy_server.requests) == 1  # same id: the cache answers
    policy_server.policy("remote.test", policy("enforce", "mx1.remote.test", max_age=600))
    mx1.rrs = [rr for rr in mx1.rrs if str(rr.rname) != "_mta-sts.remote.test."]
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=2")
    found = lookup_policy("remote.test", cfg)
    assert found.policy is not None and found.policy.mode == "enforce"
    assert found.policy_id == "2" and len(policy_server.requests) == 2
    row = RemotePolicy.objects.get(domain="remote.test")
    assert row.max_age == 600 and (row.expires_at - row.fetched_at).total_seconds() == 600


@pytest.mark.parametrize(
    ("served", "kw", "failure"),
    [
        ("version: STSv1\r\nmode: enforce\r\nmax_age: 10\r\n", {}, "sts-policy-invalid"),  # no mx
        (policy("enforce", "mx1.remote.test"), {"content_type": "text/html"}, "sts-policy-invalid"),
        ("x" * (70 * 1024), {}, "sts-policy-invalid"),
    ],
)
def test_invalid_policies_are_refused(alice, mx1, policy_server, served, kw, failure) -> None:
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=1")
    policy_server.policy("remote.test", served, **kw)
    found = lookup_policy("remote.test", relay_config())
    assert found.policy is None and found.failure == failure


def test_https_certificate_must_validate(alice, mx1, policy_server, settings, tmp_path) -> None:
    from tests.mtasts.conftest import _make_ca

    other = _make_ca(tmp_path, "Somebody Else")
    settings.MTA_STS_CA_FILE = str(other.bundle)
    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=1")
    policy_server.policy("remote.test", policy("enforce", "mx1.remote.test"))
    found = lookup_policy("remote.test", relay_config())
    assert found.policy is None and found.failure == "sts-webpki-invalid"


def test_our_daily_report_reaches_the_rua_and_parses(
    alice, mx1, policy_server, mx_sink, settings
) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from mailcore.mtasts.sending import do_send_reports
    from mailcore.mtasts.tlsrpt import parse_report, report_parts

    mx1.add("_mta-sts.remote.test", "TXT", "v=STSv1; id=r1")
    mx1.add(
        "_smtp._tls.remote.test",
        "TXT",
        "v=TLSRPTv1; rua=mailto:tlsrpt@remote.test,https://x.test/r",
    )
    policy_server.policy("remote.test", policy("testing", "mx1.remote.test"))
    sink = mx_sink("127.0.0.2", cert_names=("wrong.name.test",))
    assert do_process_entry(send().pk) == "done"
    today = timezone.now().date()
    assert do_send_reports(today) == 0  # TLSRPT_FROM unset: no reports
    settings.TLSRPT_FROM = "tlsrpt-noreply@example.com"
    assert do_send_reports(today) == 1
    assert do_send_reports(today) == 0  # once per day and domain
    report_entry = QueueEntry.objects.get(origin__startswith="tlsrpt:")
    assert do_process_entry(report_entry.pk) == "done"
    got = sink.received[-1]
    assert got.rcpt_tos == ["tlsrpt@remote.test"] and got.mail_from == settings.TLSRPT_FROM
    assert b'report-type="tlsrpt"' in got.content or b"report-type=tlsrpt" in got.content
    [(payload, gzipped)] = report_parts(got.content)
    parsed = parse_report(payload, gzipped=gzipped)
    [sts] = parsed.policies
    assert sts["policy_domain"] == "remote.test" and sts["policy_type"] == "sts"
    assert (sts["successful"], sts["failed"]) == (0, 1)  # the one message sent before
    assert {f["result_type"] for f in sts["failures"]} == {"certificate-host-mismatch"}
    assert sts["mx_host"] == ["mx1.remote.test"]
