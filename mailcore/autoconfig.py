"""Client autoconfiguration (issue 15 item 6): what a mail app needs to set itself up from an
address alone, in each vendor's format: Thunderbird's autoconfig XML (config-v1.1), Outlook's
Autodiscover POX (2006a response schema), an Apple configuration profile (.mobileconfig), and
the RFC 6186 / RFC 8314 SRV records the DNS check asks for. Pure builders over a list of
Endpoints from the settings; the web layer serves them. Nothing here touches the database.
"""

from __future__ import annotations

import plistlib
import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

IMAPS, IMAP, POP3S, POP3, SMTPS, SUBMISSION = (
    "imaps",
    "imap",
    "pop3s",
    "pop3",
    "smtps",
    "submission",
)
STANDARD_PORTS = {IMAPS: 993, IMAP: 143, POP3S: 995, POP3: 110, SMTPS: 465, SUBMISSION: 587}
# RFC 6186 §3 (and RFC 8314 §5.1 for _submissions): service label per listener.
SRV_SERVICE = {
    SUBMISSION: "_submission._tcp",
    SMTPS: "_submissions._tcp",
    IMAP: "_imap._tcp",
    IMAPS: "_imaps._tcp",
    POP3: "_pop3._tcp",
    POP3S: "_pop3s._tcp",
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One listener as clients reach it: implicit TLS or STARTTLS, always with a password."""

    kind: str  # imaps | imap | pop3s | pop3 | smtps | submission
    host: str
    port: int

    @property
    def protocol(self) -> str:
        return {IMAPS: "imap", IMAP: "imap", POP3S: "pop3", POP3: "pop3"}.get(self.kind, "smtp")

    @property
    def implicit_tls(self) -> bool:
        return self.kind in {IMAPS, POP3S, SMTPS}


def endpoints(host: str, listening: dict[str, int], *, standard_ports: bool) -> list[Endpoint]:
    """Endpoints in the order clients should prefer them (implicit TLS first, RFC 8314 §3):
    one per enabled listener (`listening`: kind → port, 0 = off), on the standard port when
    the public ports differ from the ones bound (a container behind published ports)."""
    order = (IMAPS, IMAP, POP3S, POP3, SMTPS, SUBMISSION)
    return [
        Endpoint(kind, host, STANDARD_PORTS[kind] if standard_ports else listening[kind])
        for kind in order
        if listening.get(kind)
    ]


def _pick(eps: list[Endpoint], protocol: str) -> list[Endpoint]:
    return [e for e in eps if e.protocol == protocol]


# --- Thunderbird -------------------------------------------------------------------------------


def thunderbird_xml(domain: str, display: str, eps: list[Endpoint]) -> bytes:
    """clientConfig version 1.1 (wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat):
    every incoming server, then the outgoing ones; the user name is the full address."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<clientConfig version="1.1">',
        f'  <emailProvider id="{escape(domain)}">',
        f"    <domain>{escape(domain)}</domain>",
        f"    <displayName>{escape(display)}</displayName>",
        f"    <displayShortName>{escape(domain)}</displayShortName>",
    ]
    for ep in eps:
        tag = "outgoingServer" if ep.protocol == "smtp" else "incomingServer"
        socket_type = "SSL" if ep.implicit_tls else "STARTTLS"
        lines += [
            f'    <{tag} type="{ep.protocol}">',
            f"      <hostname>{escape(ep.host)}</hostname>",
            f"      <port>{ep.port}</port>",
            f"      <socketType>{socket_type}</socketType>",
            "      <authentication>password-cleartext</authentication>",
            "      <username>%EMAILADDRESS%</username>",
            f"    </{tag}>",
        ]
    lines += ["  </emailProvider>", "</clientConfig>", ""]
    return "\n".join(lines).encode()


# --- Outlook Autodiscover (POX) ----------------------------------------------------------------

AUTODISCOVER_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


def autodiscover_xml(address: str, display: str, eps: list[Endpoint]) -> bytes:
    """The POX answer ([MS-OXDSCLI] §2.2.4): an `email` account with `settings` and one
    Protocol per endpoint (IMAP, POP3, SMTP), TLS said by Encryption (SSL = implicit)."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<Autodiscover xmlns="{AUTODISCOVER_RESPONSE_NS}">',
        f'  <Response xmlns="{OUTLOOK_NS}">',
        f"    <User><DisplayName>{escape(display)}</DisplayName></User>",
        "    <Account>",
        "      <AccountType>email</AccountType>",
        "      <Action>settings</Action>",
    ]
    for ep in eps:
        lines += [
            "      <Protocol>",
            f"        <Type>{ep.protocol.upper()}</Type>",
            f"        <Server>{escape(ep.host)}</Server>",
            f"        <Port>{ep.port}</Port>",
            f"        <LoginName>{escape(address)}</LoginName>",
            "        <DomainRequired>off</DomainRequired>",
            "        <SPA>off</SPA>",
            f"        <Encryption>{'SSL' if ep.implicit_tls else 'TLS'}</Encryption>",
            "        <AuthRequired>on</AuthRequired>",
            *(["        <UsePOPAuth>on</UsePOPAuth>"] if ep.protocol == "smtp" else []),
            "      </Protocol>",
        ]
    lines += ["    </Account>", "  </Response>", "</Autodiscover>", ""]
    return "\n".join(lines).encode()


# --- Apple configuration profile ---------------------------------------------------------------


def mobileconfig(
    address: str, name: str, password: str, eps: list[Endpoint], *, identifier: str
) -> bytes:
    """An (unsigned) configuration profile with one com.apple.mail.managed payload: IMAP (or
    POP3 when no IMAP listener runs) and SMTP, implicit TLS preferred, `password` (an app
    password made for it) filled in for both (Apple's Configuration Profile Reference)."""
    incoming = (_pick(eps, "imap") or _pick(eps, "pop3"))[0]
    outgoing = _pick(eps, "smtp")[0]
    payload_id = f"{identifier}.mail.{uuid.uuid4()}"
    mail = {
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": payload_id,
        "PayloadUUID": str(uuid.uuid4()).upper(),
        "PayloadDisplayName": address,
        "EmailAccountDescription": address,
        "EmailAccountName": name or address,
        "EmailAccountType": "EmailTypeIMAP" if incoming.protocol == "imap" else "EmailTypePOP",
        "EmailAddress": address,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerHostName": incoming.host,
        "IncomingMailServerPortNumber": incoming.port,
        "IncomingMailServerUseSSL": incoming.implicit_tls,
        "IncomingMailServerUsername": address,
        "IncomingPassword": password,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": outgoing.host,
        "OutgoingMailServerPortNumber": outgoing.port,
        "OutgoingMailServerUseSSL": outgoing.implicit_tls,
        "OutgoingMailServerUsername": address,
        "OutgoingPassword": password,
        "OutgoingPasswordSameAsIncomingPassword": True,
        "SMIMEEnabled": False,
        "allowMailDrop": False,
    }
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{identifier}.{uuid.uuid4()}",
        "PayloadUUID": str(uuid.uuid4()).upper(),
        "PayloadDisplayName": f"Mail: {address}",
        "PayloadDescription": f"Sets up the mail account {address} (an app password).",
        "PayloadRemovalDisallowed": False,
        "PayloadContent": [mail],
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML)


# --- RFC 6186 SRV ------------------------------------------------------------------------------


def srv_records(domain: str, eps: list[Endpoint]) -> list[tuple[str, int, str]]:
    """(name, port, target) of the SRV record each listener should have under `domain`
    (priority 0, weight 1; implicit TLS preferred by a lower priority is left to the admin)."""
    return [(f"{SRV_SERVICE[ep.kind]}.{domain}", ep.port, ep.host) for ep in eps]


def endpoints_from_settings() -> list[Endpoint]:
    from django.conf import settings

    def port(listen: object) -> int:
        return int(getattr(listen, "port", 0)) if getattr(listen, "enabled", False) else 0

    listening = {
        IMAPS: port(settings.IMAPS_LISTEN),
        IMAP: port(settings.IMAP_LISTEN),
        POP3S: port(settings.POP3S_LISTEN),
        POP3: port(settings.POP3_LISTEN),
        SMTPS: port(settings.SMTPS_LISTEN),
        SUBMISSION: port(settings.SUBMISSION_LISTEN),
    }
    host = settings.AUTOCONFIG_HOSTNAME or settings.MAIL_HOSTNAME
    return endpoints(host, listening, standard_ports=settings.AUTOCONFIG_STANDARD_PORTS)
