"""Containment of a compromised account (mailcore.delivery.containment) end to end: real SMTP
submission (smtplib, STARTTLS, AUTH) and the real API in, the real queue and relay out to a
loopback "remote" MX (aiosmtpd on 127.0.0.2, found through the test DNS server), and the
admin API to list, release and delete held mail."""

from __future__ import annotations

import asyncio
import email
import smtplib
import ssl
import threading
from email import policy

import pytest
from django.db import connection
from rest_framework.test import APIClient

from mailcore.delivery import containment, spool
from mailcore.delivery.models import EntryState, QueueEntry, SendingState
from mailcore.directory.actions import do_create_account, do_create_domain, do_set_admin_domains
from mailcore.directory.models import Account, AuditLog
from mailcore.store.models import Message, SpecialUse
from tests.api.helpers import token_client
from tests.conftest import run_queue
from tests.outbound.conftest import Behaviour, SinkController, SinkHandler, Zone

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse 1"


@pytest.fixture(autouse=True)
def _policy(settings) -> None:  # type: ignore[no-untyped-def]
    settings.AUTH_FAILURE_DELAY_SECONDS = 0
    settings.SUBMISSION_MAX_MESSAGES_PER_DAY = 5000
    settings.CONTAIN_BURST_FLOOR_MESSAGES = 50
    settings.CONTAIN_BURST_FLOOR_RECIPIENTS = 1000


@pytest.fixture
def sink(zone: Zone, remote) -> Behaviour:  # type: ignore[no-untyped-def]
    """remote.test → MX mx1.remote.test → 127.0.0.2, a server that takes everything."""
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    return remote("127.0.0.2")


@pytest.fixture
def superadmin(domain) -> Account:  # type: ignore[no-untyped-def]
    do_create_domain("ops.example")
    return do_create_account("root@ops.example", password=PASSWORD, is_staff=True)


def tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test server's certificate is self-signed
    return ctx


def message(n: int, sender: str = "alice@example.com") -> bytes:
    return (
        f"From: <{sender}>\r\nTo: <friend{n}@remote.test>\r\nSubject: burst {n}\r\n"
        f"Message-ID: <burst-{n}@example.com>\r\n\r\nmessage number {n}\r\n"
    ).encode()


def submit_over_smtp(
    addr: tuple[str, int], count: int, user: str = "alice@example.com", *, worker_every: int = 0
) -> list:
    """Send `count` messages in one authenticated session; the server's reply to each. With
    `worker_every`, the queue runs after every that many messages (a worker lagging behind)."""
    replies = []
    with smtplib.SMTP(*addr, timeout=30) as c:
        c.ehlo("client.example")
        c.starttls(context=tls())
        c.ehlo("client.example")
        c.login(user, PASSWORD)
        for n in range(count):
            c.mail(user)
            c.rcpt(f"friend{n}@remote.test")
            replies.append(c.data(message(n, user)))
            if worker_every and (n + 1) % worker_every == 0:
                drain()
    return replies


def drain() -> None:
    """Run the queue until nothing is due (notices and DSNs included)."""
    for _ in range(10):
        if not run_queue():
            return


def sink_ids(sink: Behaviour) -> list[str]:
    return [
        str(email.message_from_bytes(r.content, policy=policy.default)["Message-ID"])
        for r in sink.received
    ]


def paused(account: Account) -> list[QueueEntry]:
    return list(
        QueueEntry.objects.filter(authenticated_as=account, state=EntryState.PAUSED).order_by("pk")
    )


def held_ids(account: Account) -> list[str]:
    out = []
    for e in paused(account):
        data = spool.read(e.spool_name, size=e.size, sha256=e.sha256)
        out.append(str(email.message_from_bytes(data, policy=policy.default)["Message-ID"]))
    return out


def inbox_subjects(account: Account) -> list[str]:
    return list(
        Message.objects.filter(account=account, folder__special_use=SpecialUse.INBOX)
        .order_by("pk")
        .values_list("subject", flat=True)
    )


def test_burst_of_500_over_smtp_is_held_after_the_threshold_and_nothing_is_lost(
    alice, superadmin, sink, smtp_factory
) -> None:
    addr = smtp_factory("submission")
    # The worker runs after every 15 messages: 45 are out when the 51st (over the threshold,
    # the floor of a new account) comes; 46-50 are still queued and must not leave either.
    replies = submit_over_smtp(addr, 500, worker_every=15)
    # Every message was accepted (250 means durable); those past the threshold say "held".
    assert [code for code, _ in replies] == [250] * 500
    assert not any(b"held" in text for _, text in replies[:50])
    assert all(b"held" in text for _, text in replies[50:])

    drain()
    everything = {f"<burst-{n}@example.com>" for n in range(500)}
    out, held = sink_ids(sink), held_ids(alice)
    assert len(out) == 45 and len(held) == 455
    assert set(out) == {f"<burst-{n}@example.com>" for n in range(45)}
    assert len(set(out) | set(held)) == 500 and set(out) | set(held) == everything
    assert not set(out) & set(held)
    state = SendingState.objects.get(account=alice)
    assert state.held_at is not None and state.reason == "burst"
    assert "51 messages within 10 minutes" in state.detail

    # The user and the admin are told, in Korean and English, in their INBOX.
    assert inbox_subjects(alice) == [
        "메일 발송이 보류되었습니다 / Sending from your account is on hold"
    ]
    assert inbox_subjects(superadmin) == [
        "[발송 보류] alice@example.com / Sending held for alice@example.com"
    ]
    # The user's webmail/API sees it.
    status = token_client(alice).get("/api/v1/sending-status").json()
    assert (status["held"], status["reason"], status["held_messages"]) == (True, "burst", 455)

    # The queue's own retry and flush do not let held mail out.
    admin = token_client(superadmin)
    qid = paused(alice)[0].queue_id
    assert admin.post(f"/api/v1/admin/queue/{qid}/retry").status_code == 409
    assert admin.post("/api/v1/admin/queue/flush").status_code in (200, 204)
    drain()
    assert len(sink.received) == 45

    listed = admin.get("/api/v1/admin/sending-holds").json()["items"]
    assert [(i["address"], i["reason"], i["held_messages"]) for i in listed] == [
        ("alice@example.com", "burst", 455)
    ]
    assert admin.get("/api/v1/admin/dashboard?days=1").json()["queue"]["paused"] == 455
    released = admin.post(f"/api/v1/admin/sending-holds/{alice.pk}/release")
    assert (released.status_code, released.json()) == (200, {"released": 455})
    drain()
    drain()
    out = sink_ids(sink)
    assert len(out) == 500 and set(out) == everything  # the rest went out exactly once
    assert paused(alice) == []
    assert admin.get("/api/v1/admin/sending-holds").json()["items"] == []
    assert AuditLog.objects.filter(action="sending.release", target=alice.address).count() == 1

    # Counters start again at the release: the next message is not held.
    code, text = submit_over_smtp(addr, 1)[0]
    assert code == 250 and b"held" not in text
    assert not containment.is_held(alice)


def test_api_send_when_held_is_accepted_and_held_and_admin_delete_is_audited(
    alice, bob, superadmin, sink, settings
) -> None:
    settings.CONTAIN_BURST_FLOOR_MESSAGES = 3
    api = token_client(alice)

    def send(n: int, to: str) -> dict:
        r = api.post(
            "/api/v1/messages/send",
            {"to": [to], "subject": f"api {n}", "text": "hello"},
            format="json",
        )
        assert r.status_code == 201, r.content
        return r.json()

    results = [send(n, f"friend{n}@remote.test") for n in range(3)]
    drain()  # the worker took those three
    results += [send(n, f"friend{n}@remote.test") for n in range(3, 5)]
    assert [r["held"] for r in results] == [False, False, False, True, True]
    # Local recipients of a held account wait too (a compromised account phishing its
    # colleagues is the classic next step).
    assert send(9, "bob@example.com")["held"] is True
    drain()
    assert len(sink.received) == 3
    assert inbox_subjects(bob) == []
    assert len(paused(alice)) == 3
    # Sent copies exist for all six: the user sent them.
    assert Message.objects.filter(account=alice, folder__special_use=SpecialUse.SENT).count() == 6

    admin = token_client(superadmin)
    first = paused(alice)[0]
    r = admin.post(
        f"/api/v1/admin/sending-holds/{alice.pk}/delete",
        {"queue_ids": [first.queue_id]},
        format="json",
    )
    assert (r.status_code, r.json()) == (200, {"deleted": 1})
    spool_names = [e.spool_name for e in paused(alice)]
    r = admin.post(f"/api/v1/admin/sending-holds/{alice.pk}/delete", {}, format="json")
    assert (r.status_code, r.json()) == (200, {"deleted": 2})
    assert paused(alice) == []
    assert all(not spool.exists(name) for name in spool_names)
    audit = AuditLog.objects.filter(action="sending.delete_held").order_by("pk")
    assert audit.count() == 3 and audit[0].target == first.queue_id
    assert {a.actor for a in audit} == {"root@ops.example"}
    # Still held after a delete: only a release lets its mail go again.
    assert containment.is_held(alice)
    drain()
    assert len(sink.received) == 3 and inbox_subjects(bob) == []


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("550 5.7.1 Message rejected as spam", "spam"),
        ("550 5.1.1 No such user here", "bounces"),
    ],
)
def test_high_bounce_or_spam_refusal_rate_holds_the_account(
    alice, zone, remote, settings, reply, reason
) -> None:
    settings.CONTAIN_SPAM_MIN = 3
    settings.CONTAIN_BOUNCE_MIN_SAMPLE = 3
    settings.CONTAIN_BOUNCE_RATE = 0.5
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    refusing = remote("127.0.0.2", behaviour=Behaviour(rcpt_reply=reply))
    from mailcore.delivery.submit import do_submit

    for n in range(10):
        do_submit(
            acting_account=alice,
            envelope_sender="alice@example.com",
            recipients=[f"friend{n}@remote.test"],
            data=message(n),
            source="smtp",
        )
    drain()
    state = SendingState.objects.get(account=alice)
    assert state.held_at is not None and state.reason == reason
    # Held after the third refusal: the other seven never reached the remote server.
    assert refusing.rcpt_calls == 3
    assert len(paused(alice)) == 7


def test_bounces_of_an_exempt_account_do_not_hold_it(alice, zone, remote, superadmin) -> None:
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    remote("127.0.0.2", behaviour=Behaviour(rcpt_reply="550 5.7.1 spam"))
    r = token_client(superadmin).put(
        f"/api/v1/admin/accounts/{alice.pk}/sending-policy", {"exempt": True}, format="json"
    )
    assert r.status_code == 200 and r.json()["effective"]["exempt"] is True
    from mailcore.delivery.submit import do_submit

    for n in range(30):
        do_submit(
            acting_account=alice,
            envelope_sender="alice@example.com",
            recipients=[f"friend{n}@remote.test"],
            data=message(n),
            source="smtp",
        )
    drain()
    assert not containment.is_held(alice)


def test_per_account_override_exempts_and_limits(
    alice, superadmin, sink, smtp_factory, settings
) -> None:
    settings.CONTAIN_BURST_FLOOR_MESSAGES = 5
    admin = token_client(superadmin)
    r = admin.put(
        f"/api/v1/admin/accounts/{alice.pk}/sending-policy", {"exempt": True}, format="json"
    )
    assert r.status_code == 200
    assert r.json()["override"]["exempt"] is True and r.json()["effective"]["level"] == "account"
    addr = smtp_factory("submission")
    assert [code for code, _ in submit_over_smtp(addr, 20)] == [250] * 20
    drain()
    assert len(sink.received) == 20 and not containment.is_held(alice)
    assert AuditLog.objects.filter(action="sending.policy", target=alice.address).exists()

    # A daily limit of its own: the API's daily_limit error carries it.
    r = admin.put(
        f"/api/v1/admin/accounts/{alice.pk}/sending-policy",
        {"exempt": False, "daily_limit": 21, "burst_limit": 100},
        format="json",
    )
    assert r.json()["effective"]["daily_limit"] == 21
    api = token_client(alice)
    body = {"to": ["x@remote.test"], "subject": "one more", "text": "x"}
    assert api.post("/api/v1/messages/send", body, format="json").status_code == 201
    again = api.post("/api/v1/messages/send", body, format="json")
    assert (again.status_code, again.json()["error"], again.json()["limit"]) == (
        429,
        "daily_limit",
        21,
    )
    # SMTP refuses at MAIL FROM with the same limit.
    with smtplib.SMTP(*addr, timeout=30) as c:
        c.ehlo("client.example")
        c.starttls(context=tls())
        c.ehlo("client.example")
        c.login("alice@example.com", PASSWORD)
        code, text = c.mail("alice@example.com")
    assert code == 550 and b"daily sending limit of 21" in text


def test_domain_override_and_the_account_one_wins(alice, superadmin, settings) -> None:
    settings.CONTAIN_BURST_FLOOR_MESSAGES = 5
    admin = token_client(superadmin)
    r = admin.put(
        "/api/v1/admin/domains/example.com/sending-policy", {"burst_limit": 2}, format="json"
    )
    assert r.status_code == 200 and r.json()["override"]["burst_limit"] == 2
    assert containment.limits_for(alice).burst == 2
    admin.put(f"/api/v1/admin/accounts/{alice.pk}/sending-policy", {"exempt": True}, format="json")
    assert containment.limits_for(alice).exempt
    assert admin.delete(f"/api/v1/admin/accounts/{alice.pk}/sending-policy").status_code == 204
    assert containment.limits_for(alice).source == "domain"


@pytest.fixture
def two_domains(db) -> dict[str, Account]:  # type: ignore[no-untyped-def]
    do_create_domain("a.example")
    do_create_domain("b.example")
    a_user = do_create_account("user@a.example", password=PASSWORD)
    b_user = do_create_account("user@b.example", password=PASSWORD)
    admin = do_create_account("admin@a.example", password=PASSWORD)
    do_set_admin_domains(admin, ["a.example"])
    for account in (a_user, b_user, admin):
        containment.do_hold_account(account, detail="test")
    return {"a": a_user, "b": b_user, "admin": admin}


def test_a_domain_admin_acts_only_on_its_own_domains_accounts(two_domains) -> None:
    a_user, b_user, admin = two_domains["a"], two_domains["b"], two_domains["admin"]
    api: APIClient = token_client(admin)
    listed = {i["address"] for i in api.get("/api/v1/admin/sending-holds").json()["items"]}
    assert listed == {"user@a.example", "admin@a.example"}
    for verb in ("release", "delete"):
        r = api.post(f"/api/v1/admin/sending-holds/{b_user.pk}/{verb}", {}, format="json")
        assert r.status_code == 404, verb
    assert (
        api.post(f"/api/v1/admin/accounts/{b_user.pk}/hold", {}, format="json").status_code == 404
    )
    r = api.put(
        f"/api/v1/admin/accounts/{b_user.pk}/sending-policy", {"exempt": True}, format="json"
    )
    assert r.status_code == 404
    r = api.put("/api/v1/admin/domains/a.example/sending-policy", {"exempt": True}, format="json")
    assert r.status_code == 403  # domain-wide overrides: superadmin only
    assert containment.is_held(b_user)
    # Nobody releases or exempts their own account.
    assert api.post(f"/api/v1/admin/sending-holds/{admin.pk}/release").status_code == 403
    r = api.put(
        f"/api/v1/admin/accounts/{admin.pk}/sending-policy", {"exempt": True}, format="json"
    )
    assert r.status_code == 403
    assert containment.is_held(admin)
    # Its own domain's user: yes.
    assert api.post(f"/api/v1/admin/sending-holds/{a_user.pk}/release").status_code == 200
    assert not containment.is_held(a_user)
    # A plain user: nothing.
    plain = token_client(a_user)
    assert plain.get("/api/v1/admin/sending-holds").status_code == 403
    assert plain.post(f"/api/v1/admin/sending-holds/{b_user.pk}/release").status_code == 403


def test_parallel_sessions_cannot_slip_past_the_threshold(alice, smtp_factory, settings) -> None:
    """Five clients at once: the account's state row lock decides one submission at a time,
    so exactly the threshold's number of messages is accepted unheld."""
    settings.CONTAIN_BURST_FLOOR_MESSAGES = 30
    addr = smtp_factory("submission")
    replies: list[list] = [[] for _ in range(5)]

    def client(i: int) -> None:
        replies[i] = submit_over_smtp(addr, 20)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    flat = [r for rs in replies for r in rs]
    assert [code for code, _ in flat] == [250] * 100
    assert sum(b"held" not in text for _, text in flat) == 30
    assert QueueEntry.objects.filter(authenticated_as=alice).count() == 100


class HoldDuringSession(SinkHandler):
    """A remote server that answers 451 to RCPT — and while the attempt is in flight, the
    account gets held (an admin, or another trigger): the attempt records "deferred"."""

    def __init__(self, behaviour: Behaviour, account: Account) -> None:
        super().__init__(behaviour)
        self.account = account

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        def hold() -> None:
            containment.do_hold_account(self.account, detail="held mid-attempt")
            connection.close()

        await asyncio.to_thread(hold)
        return "451 4.7.1 try again later"


def test_an_attempt_in_flight_when_the_hold_comes_is_paused_after_it(
    alice, zone, remote_port
) -> None:
    zone.add("remote.test", "MX", "10 mx1.remote.test.")
    zone.add("mx1.remote.test", "A", "127.0.0.2")
    ctl = SinkController(
        HoldDuringSession(Behaviour(), alice), hostname="127.0.0.2", port=remote_port
    )
    ctl.start()
    try:
        from mailcore.delivery.submit import do_submit

        do_submit(
            acting_account=alice,
            envelope_sender="alice@example.com",
            recipients=["friend@remote.test"],
            data=message(1),
            source="smtp",
        )
        run_queue()
    finally:
        ctl.stop()
    entry = QueueEntry.objects.get(authenticated_as=alice)
    # Recorded as deferred (back to queued) by the attempt, then paused again: the retry
    # after the greylisting delay would otherwise have sent it.
    assert entry.attempts == 1 and entry.state == EntryState.PAUSED
    assert containment.is_held(alice)


def test_a_held_user_may_still_take_back_untried_mail_but_not_send_it_now(alice, bob) -> None:
    containment.do_hold_account(alice, detail="test")
    api = token_client(alice)
    undo = api.post(
        "/api/v1/messages/send",
        {"to": ["bob@example.com"], "subject": "undo me", "text": "x", "undo": True},
        format="json",
    ).json()
    later = api.post(
        "/api/v1/messages/send",
        {"to": ["bob@example.com"], "subject": "now please", "text": "x", "undo": True},
        format="json",
    ).json()
    assert undo["held"] is True and later["held"] is True
    # 보내기 취소 works on held mail (nothing left, nothing will).
    r = api.delete(f"/api/v1/outbox/{undo['outbox']['id']}")
    assert r.status_code == 200 and r.json()["draft"]
    # "Send now" is the user's, not a release: the entry stays paused.
    r = api.patch(f"/api/v1/outbox/{later['outbox']['id']}", {"send_at": None}, format="json")
    assert r.status_code == 200
    drain()
    assert inbox_subjects(bob) == []
    assert [e.state for e in QueueEntry.objects.filter(authenticated_as=alice)] == ["paused"]
