"""DKIM (RFC 6376, ed25519 per RFC 8463): per-domain keys, their DNS records, and signing of
outgoing mail at relay time; plus the Message-ID/Date helper for mail we originate.

Key rotation: a new key of a domain that signs already is pending; the old key keeps signing
until an admin activates the new one, which is refused until the DNS check sees its record
(both records are published side by side meanwhile, under their own selectors).

The only reader of DkimKey.private_key. Signs whole messages (never `l=`, security.md item 9);
does not verify inbound mail.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import transaction
from django.utils import timezone

from mailcore.addresses import canonical_domain
from mailcore.delivery.models import DkimAlgorithm, DkimKey, DkimKeyState
from mailcore.errors import ConflictError, NotFoundError
from mailcore.mime.headers import header_fields

RSA_BITS = 2048
# RFC 6376 §5.4.1 recommends these; MIME headers too, so a relay cannot re-type the body.
SIGNED_HEADERS = (
    "from",
    "subject",
    "date",
    "to",
    "cc",
    "message-id",
    "reply-to",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
)


def _header_names(data: bytes) -> list[str]:
    """Names of the top-level header fields, in order (those in its first MAX_HEADER_BYTES)."""
    return [name.decode("latin-1").lower() for name, _ in header_fields(data)]


def _new_selector(algorithm: str) -> str:
    stamp = timezone.now().strftime("%Y%m")
    tag = "e" if algorithm == DkimAlgorithm.ED25519 else "r"
    return f"mr{stamp}{tag}{secrets.token_hex(2)}"


@transaction.atomic
def do_generate_dkim_key(
    domain: str,
    *,
    algorithm: str = DkimAlgorithm.RSA,
    selector: str | None = None,
    replace_pending: bool = False,
) -> DkimKey:
    """Create a key for `domain`. The domain's first key of `algorithm` is active at once
    (nothing signed before, nothing breaks); otherwise the new key is pending: the active one
    keeps signing until do_activate_dkim_key. A pending key of the algorithm is never replaced
    silently (its record may be published already): ConflictError, unless `replace_pending`,
    which retires it. Raises ConflictError if the selector is taken, InvalidAddressError for a
    bad domain."""
    alabel = canonical_domain(domain)
    selector = (selector or _new_selector(algorithm)).lower()
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", selector):
        raise ConflictError(f"invalid selector {selector!r}")
    if DkimKey.objects.filter(domain=alabel, selector=selector).exists():
        raise ConflictError(f"selector {selector} already exists for {alabel}")
    waiting = sorted(
        DkimKey.objects.select_for_update()
        .filter(domain=alabel, algorithm=algorithm, state=DkimKeyState.PENDING)
        .values_list("selector", flat=True)
    )
    if waiting and not replace_pending:
        raise ConflictError(
            f"{alabel} already has a pending {algorithm} key ({', '.join(waiting)}) waiting to "
            f"be activated: publish its record and activate it (dkim activate {alabel} "
            f"{waiting[0]}), or replace it on purpose (dkim generate --replace-pending); "
            "nothing was changed"
        )
    if algorithm == DkimAlgorithm.RSA:
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode("ascii")
        public = base64.b64encode(
            key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).decode()
    elif algorithm == DkimAlgorithm.ED25519:
        import nacl.encoding
        import nacl.signing

        signing = nacl.signing.SigningKey.generate()
        private = signing.encode(encoder=nacl.encoding.Base64Encoder).decode("ascii")
        public = signing.verify_key.encode(encoder=nacl.encoding.Base64Encoder).decode("ascii")
    else:
        raise ConflictError(f"unknown DKIM algorithm {algorithm!r}")
    same = DkimKey.objects.select_for_update().filter(domain=alabel, algorithm=algorithm)
    signing_already = same.filter(state=DkimKeyState.ACTIVE).exists()
    if signing_already:
        same.filter(state=DkimKeyState.PENDING).update(state=DkimKeyState.RETIRED)
    now = timezone.now()
    return DkimKey.objects.create(
        domain=alabel,
        selector=selector,
        algorithm=algorithm,
        private_key=private,
        public_key=public,
        state=DkimKeyState.PENDING if signing_already else DkimKeyState.ACTIVE,
        created_at=now,
        activated_at=None if signing_already else now,
    )


@dataclass(frozen=True, slots=True)
class Activation:
    key: DkimKey
    retired: list[str]  # selectors that stopped signing
    forced: bool  # activated although the DNS check did not see the record


def do_activate_dkim_key(
    domain: str,
    selector: str,
    *,
    force: bool = False,
    verify: Callable[[DkimKey], str | None] | None = None,
) -> Activation:
    """Make the pending key `selector` of `domain` the one that signs; the active key of its
    algorithm is retired. Refused (ConflictError, with what DNS said) unless the DNS check
    sees the key's record, or `force`. `verify` returns None when the record is right, else
    the reason (default: mailcore.directory.dnscheck against the relay's resolvers)."""
    alabel = canonical_domain(domain)
    key = DkimKey.objects.filter(domain=alabel, selector=selector.lower()).first()
    if key is None:
        raise NotFoundError(f"no DKIM key {selector} for {alabel}")
    if key.state != DkimKeyState.PENDING:
        raise ConflictError(f"DKIM key {key.selector} of {alabel} is {key.state}, not pending")
    if not force:
        if verify is None:
            from mailcore.directory.dnscheck import dkim_record_problem

            verify = dkim_record_problem
        problem = verify(key)
        if problem is not None:
            raise ConflictError(
                f"DNS does not show the new key yet ({problem}); publish "
                f"{key.selector}._domainkey.{alabel} first, or force the switch",
                code="dkim_not_published",
            )
    with transaction.atomic():
        key = DkimKey.objects.select_for_update().get(pk=key.pk)
        if key.state != DkimKeyState.PENDING:
            raise ConflictError(f"DKIM key {key.selector} of {alabel} is {key.state}, not pending")
        old = DkimKey.objects.select_for_update().filter(
            domain=alabel, algorithm=key.algorithm, state=DkimKeyState.ACTIVE
        )
        retired = sorted(old.values_list("selector", flat=True))
        old.update(state=DkimKeyState.RETIRED)
        key.state, key.activated_at = DkimKeyState.ACTIVE, timezone.now()
        key.save(update_fields=["state", "activated_at"])
    return Activation(key, retired, forced=force)


def published_keys(domain: str) -> list[DkimKey]:
    """Keys whose records must be in DNS now: the active ones and the pending ones (during a
    change both are published side by side), active first."""
    keys = DkimKey.objects.filter(
        domain=domain, state__in=(DkimKeyState.ACTIVE, DkimKeyState.PENDING)
    )
    return sorted(keys, key=lambda k: (k.state != DkimKeyState.ACTIVE, k.algorithm, -k.pk))


def txt_value(key: DkimKey) -> str:
    """The TXT record's value (RFC 6376 §3.6.1)."""
    k = "ed25519" if key.algorithm == DkimAlgorithm.ED25519 else "rsa"
    return f"v=DKIM1; k={k}; p={key.public_key}"


def dns_record(key: DkimKey) -> str:
    """A zone-file line; long values split into 255-octet strings (RFC 7208 §3.3 style)."""
    value = txt_value(key)
    chunks = " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))
    return f"{key.selector}._domainkey.{key.domain}. IN TXT ( {chunks} )"


def active_keys(domain: str) -> list[DkimKey]:
    """RSA first, then ed25519 (RFC 8463 §4: send both until ed25519 is widely verified)."""
    keys = list(
        DkimKey.objects.filter(domain=domain, state=DkimKeyState.ACTIVE).order_by(
            "-created_at", "-pk"
        )
    )
    seen: set[str] = set()
    chosen: list[DkimKey] = []
    for key in keys:  # one per algorithm, the newest
        if key.algorithm not in seen:
            seen.add(key.algorithm)
            chosen.append(key)
    return sorted(chosen, key=lambda k: k.algorithm != DkimAlgorithm.RSA)


def oversigned_headers(data: bytes) -> list[bytes]:
    """Each signed header listed once more than it occurs (RFC 6376 §8.15): a relay cannot add
    a second From, Subject … without breaking the signature."""
    present = _header_names(data)
    return [name.encode() for name in SIGNED_HEADERS for _ in range(present.count(name) + 1)]


def sign(data: bytes, domain: str) -> bytes:
    """`data` with a DKIM-Signature per active key of `domain` prepended; unchanged when the
    domain has no key. `data` must already use CRLF line ends."""
    keys = active_keys(domain)
    if not keys:
        return data
    include = oversigned_headers(data)
    signatures = b""
    for key in keys:
        signatures += dkim.sign(
            data,
            key.selector.encode(),
            key.domain.encode(),
            key.private_key.encode(),
            signature_algorithm=key.algorithm.encode(),
            include_headers=include,
            canonicalize=(b"relaxed", b"relaxed"),
            length=False,
            linesep=b"\r\n",
        )
    return signatures + data
