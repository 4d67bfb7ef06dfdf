"""Client autoconfiguration (issue 15 item 6), parsed the way the clients read it:
Thunderbird's config-v1.1 on both URLs, Outlook's Autodiscover POX answer to its request, the
Apple profile downloaded from Settings (an XML plist whose app password signs in), and the
RFC 6186 SRV records in the DNS check against a loopback DNS server."""

from __future__ import annotations

import io
import plistlib
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from mailcore.auth import verify_credentials
from mailcore.config import Listen
from mailcore.directory.dnscheck import check_domain_dns
from mailcore.directory.models import Account, AppPassword
from tests.outbound.conftest import Zone, zone  # noqa: F401 - the loopback DNS fixture

pytestmark = pytest.mark.django_db
TB = "/.well-known/autoconfig/mail/config-v1.1.xml"
AD_RESPONSE = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
AD_OUTLOOK = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


@pytest.fixture(autouse=True)
def production_listeners(settings: Any) -> None:
    settings.MAIL_HOSTNAME = "mail.example.com"
    settings.IMAP_LISTEN = Listen("0.0.0.0", 2143)
    settings.IMAPS_LISTEN = Listen("0.0.0.0", 2993)
    settings.POP3_LISTEN = Listen("", 0)  # off: not offered
    settings.POP3S_LISTEN = Listen("0.0.0.0", 995)
    settings.SMTPS_LISTEN = Listen("0.0.0.0", 465)
    settings.SUBMISSION_LISTEN = Listen("0.0.0.0", 587)
    settings.AUTOCONFIG_STANDARD_PORTS = False


def servers(root: ET.Element, tag: str) -> list[tuple[str, str, int, str, str]]:
    return [
        (
            s.attrib["type"],
            s.findtext("hostname", ""),
            int(s.findtext("port", "0")),
            s.findtext("socketType", ""),
            s.findtext("username", ""),
        )
        for s in root.iter(tag)
    ]


def test_thunderbird_autoconfig(alice: Account, client: Any, settings: Any) -> None:
    response = client.get(TB, {"emailaddress": "alice@example.com"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "clientConfig" and root.attrib["version"] == "1.1"
    assert root.find("emailProvider/domain").text == "example.com"  # type: ignore[union-attr]
    assert servers(root, "incomingServer") == [
        ("imap", "mail.example.com", 2993, "SSL", "%EMAILADDRESS%"),
        ("imap", "mail.example.com", 2143, "STARTTLS", "%EMAILADDRESS%"),
        ("pop3", "mail.example.com", 995, "SSL", "%EMAILADDRESS%"),
    ]
    assert servers(root, "outgoingServer") == [
        ("smtp", "mail.example.com", 465, "SSL", "%EMAILADDRESS%"),
        ("smtp", "mail.example.com", 587, "STARTTLS", "%EMAILADDRESS%"),
    ]
    assert {a.text for a in root.iter("authentication")} == {"password-cleartext"}
    # autoconfig.<domain>/mail/config-v1.1.xml (Thunderbird's second try), standard ports
    # when the bound ones are not what clients reach (containers).
    settings.AUTOCONFIG_STANDARD_PORTS = True
    settings.ALLOWED_HOSTS = ["autoconfig.example.com", "testserver"]
    response = client.get("/mail/config-v1.1.xml", HTTP_HOST="autoconfig.example.com")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert [s[2] for s in servers(root, "incomingServer")] == [993, 143, 995]
    # Only local domains; an unknown account of a local domain is not told apart.
    assert client.get(TB, {"emailaddress": "x@elsewhere.example"}).status_code == 404
    assert client.get(TB, {"emailaddress": "nobody@example.com"}).status_code == 200


OUTLOOK_REQUEST = b"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>alice@example.com</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"""


def test_outlook_autodiscover_pox(alice: Account, settings: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)  # Outlook has no cookie: no CSRF needed
    response = client.post(
        "/Autodiscover/Autodiscover.xml", OUTLOOK_REQUEST, content_type="text/xml"
    )
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.tag == f"{AD_RESPONSE}Autodiscover"
    account = root.find(f"{AD_OUTLOOK}Response/{AD_OUTLOOK}Account")
    assert account is not None
    assert account.findtext(f"{AD_OUTLOOK}AccountType") == "email"
    assert account.findtext(f"{AD_OUTLOOK}Action") == "settings"
    protocols = [
        {child.tag.removeprefix(AD_OUTLOOK): child.text for child in p}
        for p in account.iter(f"{AD_OUTLOOK}Protocol")
    ]
    assert [(p["Type"], p["Port"], p["Encryption"]) for p in protocols] == [
        ("IMAP", "2993", "SSL"),
        ("IMAP", "2143", "TLS"),
        ("POP3", "995", "SSL"),
        ("SMTP", "465", "SSL"),
        ("SMTP", "587", "TLS"),
    ]
    assert {p["LoginName"] for p in protocols} == {"alice@example.com"}
    assert {p["Server"] for p in protocols} == {"mail.example.com"}
    assert {p["SPA"] for p in protocols} == {"off"}
    other = OUTLOOK_REQUEST.replace(b"alice@example.com", b"alice@elsewhere.example")
    assert (
        client.post("/autodiscover/autodiscover.xml", other, content_type="text/xml").status_code
        == 404
    )
    huge = OUTLOOK_REQUEST + b" " * 20000
    assert (
        client.post("/autodiscover/autodiscover.xml", huge, content_type="text/xml").status_code
        == 413
    )


def test_apple_mobileconfig_with_an_app_password(alice: Account) -> None:
    client = APIClient()
    client.force_authenticate(alice)
    response = client.post("/api/v1/settings/mobileconfig")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-apple-aspen-config"
    assert response["Content-Disposition"] == (
        'attachment; filename="alice_at_example.com.mobileconfig"'
    )
    assert response["Cache-Control"] == "no-store"
    profile = plistlib.load(io.BytesIO(response.content))
    assert profile["PayloadType"] == "Configuration"
    [mail] = profile["PayloadContent"]
    assert mail["PayloadType"] == "com.apple.mail.managed"
    assert mail["EmailAccountType"] == "EmailTypeIMAP"
    assert mail["EmailAddress"] == "alice@example.com"
    assert (mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"]) == (
        "mail.example.com",
        2993,
    )
    assert mail["IncomingMailServerUseSSL"] is True
    assert (mail["OutgoingMailServerPortNumber"], mail["OutgoingMailServerUseSSL"]) == (465, True)
    assert mail["IncomingPassword"] == mail["OutgoingPassword"]
    # The password in it is a new app password: it signs in to IMAP/SMTP, not to the web.
    [row] = AppPassword.objects.filter(account=alice)
    assert row.name.startswith("Apple Mail ")
    password = mail["IncomingPassword"]
    assert verify_credentials("alice@example.com", password) == alice
    assert verify_credentials("alice@example.com", password, allow_app_password=False) is None
    assert APIClient().post("/api/v1/settings/mobileconfig").status_code in (401, 403)


def test_srv_records_in_the_dns_check(
    alice: Account,
    zone: Zone,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    zone.add("_imaps._tcp.example.com", "SRV", "0 1 2993 mail.example.com.")
    zone.add("_submission._tcp.example.com", "SRV", "0 1 25 mail.example.com.")
    srv = {c.name: c for c in check_domain_dns("example.com") if c.kind == "srv"}
    assert set(srv) == {
        "_imaps._tcp.example.com",
        "_imap._tcp.example.com",
        "_pop3s._tcp.example.com",
        "_submissions._tcp.example.com",
        "_submission._tcp.example.com",
    }
    assert srv["_imaps._tcp.example.com"].status == "ok"
    assert srv["_submission._tcp.example.com"].status == "wrong"
    assert srv["_submission._tcp.example.com"].expected == (
        "_submission._tcp.example.com. IN SRV 0 1 587 mail.example.com."
    )
    assert srv["_pop3s._tcp.example.com"].status == "missing"
    with pytest.raises(SystemExit) as exited:  # MX and the others are missing too
        call_command("dnscheck", "example.com")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "_pop3s._tcp.example.com. IN SRV 0 1 995 mail.example.com." in out
    assert "ok      srv   _imaps._tcp.example.com" in out


def test_every_url_still_reverses() -> None:
    """The autoconfig routes keep Django's URL reversing working (an inline regex flag in a
    route broke every reverse())."""
    from django.urls import reverse

    assert reverse("autodiscover") == "/autodiscover/autodiscover.xml"
    assert reverse("autoconfig") == "/mail/config-v1.1.xml"
    assert reverse("api:folder-list") == "/api/v1/folders"
