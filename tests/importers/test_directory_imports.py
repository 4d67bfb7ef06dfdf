"""import_hosts, import_aliases, import_virtual, import_access, import_mynetworks over the
fixture files: what they create, what they report, dry runs and re-runs."""

from __future__ import annotations

import pytest

from mailcore.directory.actions import do_create_account, do_create_domain
from mailcore.directory.models import Account, Alias, AuditLog, Domain, RelayRule
from mailcore.directory.queries import (
    Resolution,
    expand_recipient,
    list_access_rules_for_ip,
    pick_access_rule,
    resolve_recipient,
)
from tests.importers.conftest import FIXTURES, run

pytestmark = pytest.mark.django_db


def aliases() -> dict[str, list[str]]:
    return {a.source: a.targets for a in Alias.objects.all()}


def summary(text: str) -> str:
    return text.strip().splitlines()[-1]


# --- local-host-names --------------------------------------------------------------------------


def test_import_hosts_dry_run_then_real_then_again() -> None:
    path = str(FIXTURES / "local-host-names")
    dry = run("import_hosts", path, "--dry-run")
    assert summary(dry.out) == (
        "dry run, nothing written: would have created 6, updated 0, already present 1, "
        "skipped 3, errors 1"
    )
    assert Domain.objects.count() == 0
    assert not AuditLog.objects.filter(action__startswith="import.").exists()  # dry: no row
    # A run with errors writes nothing (and leaves no audit row) unless --skip-errors.
    refused = run("import_hosts", path)
    assert refused.failed.startswith("1 error(s), so nothing was written")
    assert summary(refused.out).startswith("nothing written because of the errors")
    assert Domain.objects.count() == 0
    assert not AuditLog.objects.filter(action__startswith="import.").exists()
    first = run("import_hosts", path, "--skip-errors")
    [row] = AuditLog.objects.filter(action="import.hosts")
    assert row.actor.startswith("cli:") and row.target == path and row.ip == "local"
    assert row.detail == {
        "account": "",
        "created": 6,
        "present": 1,
        "skipped": 3,
        "error": 1,
    }
    assert first.failed == "1 error(s); see above"
    assert "line 9: bad_domain!" in first.out
    assert sorted(Domain.objects.values_list("name", flat=True)) == [
        "example.com",
        "example.info",
        "example.net",
        "example.org",
        "mail.example.com",
        "xn--bcher-kva.example",
    ]
    assert "already present  line 8: domain example.com" in first.out
    assert "skipped  line 2: localhost — names of the machine itself" in first.out
    again = run("import_hosts", path, "--skip-errors")
    assert "created 0, updated 0, already present 7, skipped 3, errors 1" in summary(again.out)
    assert Domain.objects.count() == 6


# --- /etc/aliases -----------------------------------------------------------------------------


@pytest.fixture
def example(db: None) -> Account:
    do_create_domain("example.com")
    return do_create_account("alice@example.com", password="correct horse 1")


def test_import_aliases(example: Account) -> None:
    path = str(FIXTURES / "aliases")
    dry = run("import_aliases", path, "--dry-run", "--allow-dangling")
    assert dry.failed and Alias.objects.count() == 0
    assert run("import_aliases", path).failed.endswith("--skip-errors to import the rest)")
    assert Alias.objects.count() == 0
    res = run("import_aliases", path, "--skip-errors", "--allow-dangling")
    got = aliases()
    assert got == {
        "mailer-daemon@example.com": ["postmaster@example.com"],
        "postmaster@example.com": ["root@example.com"],
        "bin@example.com": ["root@example.com"],
        "daemon@example.com": ["root@example.com"],
        "root@example.com": ["alice@example.com", "bob@example.org"],
        "staff@example.com": [
            "alice@example.com",
            "bob@example.com",
            "carol@example.net",
            "dave@example.org",
        ],
        "sales@example.com": ["alice@example.com"],
        "list@example.com": ["alice@example.com", "dave@example.org", "erin@example.org"],
        "jörg@example.com": ["joerg@example.org"],
        "trailing@example.com": ["alice@example.com"],
        "loop-a@example.com": ["loop-b@example.com"],
        "webmaster@example.com": ["wm@example.org"],
    }
    # The dry run said exactly what the real run did.
    assert summary(dry.out).removeprefix("dry run, nothing written: would have ") == summary(
        res.out
    )
    out = res.out
    assert "skipped  line 17: nobody@example.com → /dev/null — file targets (/path)" in out
    assert "line 29: bugs@example.com → |/usr/bin/tracker --queue=bugs — program targets" in out
    assert "skipped  list.txt:4: list@example.com → |/bin/cat" in out
    assert "error  list.txt:5: list@example.com: :include:missing.txt — cannot read" in out
    assert "error  line 32: line 32 — line is not UTF-8" in out
    assert "skipped  line 33: root@example.com — duplicate of line 20" in out
    assert "error  line 36: alias loop-b@example.com → loop-a@example.com — " in out
    assert "would create a loop" in out
    assert "alice@example.com is an account; an alias cannot shadow it" in out
    assert "error  line 26: Sales Team — invalid local part" in out
    assert 'line 40: quoted@example.com → "john smith"@example.org — quoted local' in out
    assert "error  line 41: decoder@example.com: alice bob — unquoted white space" in out
    assert "note: include files were copied as they are now" in out
    # Targets that were Unix users on the old host need accounts here.
    assert (
        "note: bob@example.com (target of staff@example.com) is neither an account nor an "
        "alias yet" in out
    )
    assert "root@example.com (target of" not in out  # root is an alias now
    assert res.failed
    # What was imported works: root's mail reaches alice and the external admin.
    expansion = expand_recipient("mailer-daemon@example.com")
    assert [a.address for a in expansion.accounts] == ["alice@example.com"]
    assert expansion.external == ["bob@example.org"]

    again = run("import_aliases", path, "--skip-errors", "--allow-dangling")
    assert "bob@example.com (target of staff@example.com)" in again.out
    assert aliases() == got
    assert "created 0, updated 0, already present 12" in summary(again.out)


def test_import_aliases_merges_targets_of_an_existing_alias(example: Account, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = tmp_path / "a1"
    first.write_text("root: alice\n")
    second = tmp_path / "a2"
    second.write_text("root: alice, ops@example.org\n")
    assert run("import_aliases", str(first)).failed == ""
    res = run("import_aliases", str(second))
    assert "updated  line 1: alias root@example.com" in res.out
    assert "added ops@example.org" in res.out
    assert aliases() == {"root@example.com": ["alice@example.com", "ops@example.org"]}


def test_import_aliases_domains(example: Account, tmp_path) -> None:  # type: ignore[no-untyped-def]
    do_create_domain("example.net")
    f = tmp_path / "aliases"
    f.write_text("postmaster: alice\n")
    res = run("import_aliases", str(f))
    assert res.failed == (
        "there are several local domains: name them with --domain, or use --all-domains"
    )
    res = run("import_aliases", str(f), "--all-domains", "--target-domain", "example.com")
    assert res.failed == ""
    assert aliases() == {
        "postmaster@example.com": ["alice@example.com"],
        "postmaster@example.net": ["alice@example.com"],
    }
    assert run("import_aliases", str(f), "--domain", "nowhere.example").failed == (
        "nowhere.example is not a local domain; add it first"
    )
    assert "cannot read" in run("import_aliases", str(tmp_path / "missing")).failed


# --- Postfix virtual ---------------------------------------------------------------------------


def test_import_virtual(example: Account) -> None:
    path = str(FIXTURES / "virtual")
    assert run("import_virtual", path).failed.startswith("4 error(s), so nothing was written")
    assert Alias.objects.count() == 0 and not Domain.objects.filter(name="example.net").exists()
    res = run("import_virtual", path, "--skip-errors")
    assert res.failed
    assert Domain.objects.filter(name="example.net").exists()
    assert aliases() == {
        "postmaster@example.net": ["postmaster@example.com"],
        "info@example.net": ["alice@example.com", "bob@example.org"],
        "@example.net": ["catchall@example.com"],
        "help@example.net": ["info@example.net", "help@example.org"],
    }
    out = res.out
    assert "skipped  line 7: joe — a bare name needs --domain" in out
    assert "skipped  line 8: @example.org @example.com — domain rewriting" in out
    assert "line 9: sales@example.net → sales — the alias itself with no account" in out
    assert "line 10: alice@example.com → alice@example.com — keeping a copy" in out
    assert "skipped  line 11: /^(.*)@old" in out
    assert 'error  line 12: "Jane Doe"@example.net — quoted local parts are not supported' in out
    assert "error  line 14: line 14 — 'lonely@example.net' has no value" in out
    # The catch-all answers for any other address of the new domain.
    assert resolve_recipient("anyone@example.net").resolution == Resolution.ALIAS

    again = run("import_virtual", path, "--domain", "example.com", "--skip-errors")
    assert aliases()["joe@example.com"] == ["joe@example.org"]
    assert "created 1, updated 0, already present 5" in summary(again.out)


# --- sendmail access and Postfix mynetworks ----------------------------------------------------


def rules() -> set[tuple[str, str, str, str]]:
    return {
        (r.network, r.sender_domain, r.recipient_domain, r.action) for r in RelayRule.objects.all()
    }


def decide(ip: str, sender: str = "x@client.example", recipient: str = "y@far.example") -> str:
    rule = pick_access_rule(list_access_rules_for_ip(ip), sender=sender, recipient=recipient)
    return rule.action if rule else ""


def test_import_access(db: None) -> None:
    path = str(FIXTURES / "access")
    assert run("import_access", path).failed.startswith("3 error(s), so nothing was written")
    assert not RelayRule.objects.exists()
    res = run("import_access", path, "--skip-errors")
    assert res.failed == "3 error(s); see above"
    assert "error  line 11: 2001:db8:2::/48 REJECT — 2001:db8:2::/48 is wider than /56" in res.out
    assert "error  line 23: 10.0.0.0/8 RELAY — 10.0.0.0/8 is wider than /24" in res.out
    assert "error  line 30: line 30 — 'Connect:192.0.2.10' has no action" in res.out
    assert "skipped  line 26: Connect:192.168.1 REJECT — duplicate of line 8" in res.out
    anyv4, anyv6 = "0.0.0.0/0", "::/0"
    assert rules() == {
        ("127.0.0.1/32", "", "", "RELAY"),
        ("192.168.1.0/24", "", "", "RELAY"),
        ("10.1.2.3/32", "", "", "OK"),
        ("2001:db8:1::1/128", "", "", "RELAY"),
        ("2001:db8::5/128", "", "", "OK"),
        ("192.0.2.44/32", "", "", "DISCARD"),
        ("192.0.2.9/32", "", "", "REJECT"),
        *(
            (net, sender, to, action)
            for net in (anyv4, anyv6)
            for sender, to, action in (
                ("spammer.example", "", "REJECT"),
                ("badguys.example", "", "REJECT"),
                ("", "backup.example", "RELAY"),
                ("", "closed.example", "REJECT"),
                ("evil.example", "", "DISCARD"),
                ("", "partner.example", "RELAY"),
            )
        ),
    }
    bad = RelayRule.objects.get(network=anyv4, sender_domain="badguys.example")
    assert bad.comment == "ERROR:5.7.1:550 We do not accept mail from you"
    assert "temporary ERROR (4xx) mapped to a permanent REJECT" in res.out
    # The SMTP layer's own matching sees what sendmail would have done.
    assert decide("192.168.1.20") == "RELAY"
    assert decide("203.0.113.1") == ""
    assert decide("203.0.113.1", sender="a@spammer.example") == "REJECT"
    assert decide("203.0.113.1", recipient="b@mx2.backup.example") == "RELAY"
    assert decide("2001:db8:2::99") == ""
    assert decide("::ffff:192.0.2.44") == "DISCARD"

    forced = run("import_access", path, "--force", "--skip-errors")
    assert ("10.0.0.0/8", "", "", "RELAY") in rules()
    assert "created 2, updated 0, already present 19" in summary(forced.out)
    assert decide("2001:db8:2::99") == "REJECT"


def test_import_mynetworks_from_main_cf_and_value(db: None) -> None:
    res = run("import_mynetworks", str(FIXTURES / "main.cf"), "--skip-errors")
    assert res.failed == "1 error(s); see above"
    assert "2001:db8:abcd::/48 RELAY — 2001:db8:abcd::/48 is wider than /56" in res.out
    assert "skipped  line 5: [::ffff:127.0.0.0]/104 RELAY — duplicate of line 5" in res.out
    assert rules() == {
        ("127.0.0.0/8", "", "", "RELAY"),  # loopback: no --force needed
        ("::1/128", "", "", "RELAY"),
        ("192.168.10.0/24", "", "", "RELAY"),
        ("192.168.10.66/32", "", "", "OK"),
        ("10.20.30.0/24", "", "", "RELAY"),
    }
    assert decide("192.168.10.7") == "RELAY"
    assert decide("192.168.10.66") == "OK"  # the '!' exclusion may not relay
    dry = run("import_mynetworks", "192.0.2.0/24, [2001:db8::]/64", "--dry-run")
    assert summary(dry.out).startswith("dry run, nothing written: would have created 2")
    assert len(rules()) == 5
    assert run("import_mynetworks", "192.0.2.0/24, [2001:db8::]/64").failed == ""
    assert len(rules()) == 7
    assert run("import_mynetworks", "/etc/postfix/no-such-file").failed == (
        "cannot read /etc/postfix/no-such-file: no such file"
    )


# --- issue 9: main.cf as input, all-or-nothing runs, dangling alias targets --------------------


def test_import_hosts_reads_mydestination_of_a_main_cf() -> None:
    """A stock Debian main.cf: only mydestination counts, with $myhostname, $mydomain,
    ${…} and $(…) expanded; no 'all', 'biff', 'esmtp', 'no' or 'myhostname' domains."""
    res = run("import_hosts", str(FIXTURES / "main.cf-debian"))
    assert res.failed == ""
    assert sorted(Domain.objects.values_list("name", flat=True)) == [
        "example.org",
        "lists.example.org",
        "mx1.example.org",
    ]
    out = res.out
    assert "already present  line 36: domain example.org" in out  # $(mydomain) again
    assert "skipped  line 36: localhost.example.org — names of the machine itself" in out
    assert "skipped  line 36: localhost — names of the machine itself" in out
    assert "skipped  line 36: hash:/etc/postfix/more-domains — lookup tables" in out
    # The smaller fixture (the one import_mynetworks reads) gives its two domains.
    assert run("import_hosts", str(FIXTURES / "main.cf")).failed == ""
    assert Domain.objects.filter(name__in=["mx.example.com", "example.com"]).count() == 2


def test_import_hosts_main_cf_without_mydestination_uses_postfix_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "main.cf"
    conf.write_text("myhostname = mail.example.net\nbiff = no\ninet_interfaces = all\n")
    res = run("import_hosts", str(conf))
    assert res.failed == ""
    assert list(Domain.objects.values_list("name", flat=True)) == ["mail.example.net"]
    assert "not set in this main.cf; Postfix's default is used" in res.out
    unset = tmp_path / "bare.cf"
    unset.write_text("mydestination = $myhostname, example.com\n")
    res = run("import_hosts", str(unset))
    assert "$myhostname is not set in this main.cf" in res.out
    assert Domain.objects.filter(name="example.com").exists()


def test_import_hosts_with_errors_writes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "local-host-names"
    f.write_text("good.example\nbad_domain!\n")
    assert run("import_hosts", str(f)).failed.startswith("1 error(s), so nothing was written")
    assert not Domain.objects.exists()
    assert run("import_hosts", str(f), "--skip-errors").failed == "1 error(s); see above"
    assert list(Domain.objects.values_list("name", flat=True)) == ["good.example"]


def test_stock_aliases_without_root_fail_unless_allowed(example: Account, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """postmaster: root with no root@ account would accept postmaster mail and bounce it."""
    f = tmp_path / "aliases"
    f.write_text("MAILER-DAEMON: postmaster\npostmaster: root\nabuse: root\n")
    res = run("import_aliases", str(f))
    assert res.failed.startswith("1 error(s), so nothing was written")
    assert (
        "error  root@example.com — root@example.com (target of abuse@example.com, "
        "postmaster@example.com) is neither an account nor an alias: create it first "
        "(account add), or import with --allow-dangling" in res.out
    )
    assert not Alias.objects.exists()
    res = run("import_aliases", str(f), "--allow-dangling")
    assert res.failed == ""
    assert (
        "note: root@example.com (target of abuse@example.com, postmaster@example.com) is "
        "neither an account nor an alias yet: create it; until then mail to abuse@example.com "
        "bounces and mail to postmaster@example.com waits in the queue (deferred, then held)"
    ) in res.out
    assert "or mail to it bounces" not in res.out
    assert aliases()["postmaster@example.com"] == ["root@example.com"]
    # With the target in the same file there is nothing dangling.
    Alias.objects.all().delete()
    f.write_text("postmaster: root\nroot: alice\n")
    assert run("import_aliases", str(f)).failed == ""
