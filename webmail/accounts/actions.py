"""Writes of webmail.accounts: settings, password change, sign-out everywhere, trusted image
senders. Views validate input and call one of these; each runs in one transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from mailcore.directory.actions import do_set_display_name, do_set_password
from mailcore.directory.models import Account
from mailcore.errors import ConflictError, NotFoundError, UserError
from mailcore.mime import sanitize_html
from webmail.accounts.models import Preferences, TrustedImageSender
from webmail.accounts.queries import canonical_sender
from webmail.accounts.sessions import sign_out_everywhere

MAX_TRUSTED_SENDERS = 1000
PREFERENCE_FIELDS: tuple[str, ...] = (
    "signature_html",
    "signature_text",
    "language",
    "page_size",
    "remote_images",
    "list_density",
    "reading_mode",
    "group_by_conversation",
    "time_zone",
)


@transaction.atomic(durable=True)
def do_update_settings(*, acting_account: Account, changes: dict[str, Any]) -> Preferences:
    """Apply any subset of display_name and PREFERENCE_FIELDS (already validated by shape).
    signature_html is sanitized here, before it is stored: it ends up in outgoing mail and
    in the compose editor. Remote images in it are kept (a logo is the usual case)."""
    if "display_name" in changes:
        do_set_display_name(acting_account, changes["display_name"])
    prefs_changes = {k: v for k, v in changes.items() if k in PREFERENCE_FIELDS}
    if "signature_html" in prefs_changes:
        html = prefs_changes["signature_html"]
        prefs_changes["signature_html"] = sanitize_html(html, load_remote=True).html if html else ""
    prefs, _ = Preferences.objects.select_for_update().get_or_create(account=acting_account)
    if prefs_changes:
        for name, value in prefs_changes.items():
            setattr(prefs, name, value)
        prefs.save()
    return prefs


@transaction.atomic(durable=True)
def do_change_password(
    *, acting_account: Account, new_password: str, keep_session: str | None
) -> None:
    """Set the password (the caller checked the current one and the validators), then end every
    other browser session and the API token. `keep_session` is the caller's own session key.
    Django also rejects other sessions on their next request (the session auth hash follows the
    password hash); ending them here also covers engines and tokens that hash does not."""
    do_set_password(acting_account.address, new_password)
    # The instance the caller holds must carry the new hash (update_session_auth_hash reads it).
    acting_account.refresh_from_db(fields=["password"])
    sign_out_everywhere(acting_account, keep=keep_session)


@transaction.atomic(durable=True)
def do_secure_account(*, account: Account, new_password: str, ip: str) -> int:
    """ "This was not me" (a new-device notice's link): the new password (validated by the
    caller) replaces the old one, which revokes every app password; every browser session and
    the API token end. Audited as the account's own act. Returns the sessions ended."""
    from mailcore.directory.actions import do_record_audit

    do_set_password(account.address, new_password)
    ended = sign_out_everywhere(account)
    do_record_audit(
        actor=account.address,
        action="account.not_me",
        target=account.address,
        domain=account.domain.name,
        detail={"sessions_ended": ended},
        ip=ip,
    )
    return ended


@transaction.atomic(durable=True)
def do_logout_everywhere(*, acting_account: Account) -> int:
    """End every recorded browser session of the account and its API token; the caller's own
    session too. Returns the number of sessions ended."""
    return sign_out_everywhere(acting_account)


@transaction.atomic(durable=True)
def do_trust_image_sender(
    *, acting_account: Account, address: str
) -> tuple[TrustedImageSender, bool]:
    """Add `address` to the account's trusted image senders; (row, created). Idempotent."""
    canonical = canonical_sender(address)
    if canonical is None:
        raise UserError("Not a valid e-mail address.")
    existing = TrustedImageSender.objects.filter(account=acting_account, address=canonical).first()
    if existing is not None:
        return existing, False
    if TrustedImageSender.objects.filter(account=acting_account).count() >= MAX_TRUSTED_SENDERS:
        raise ConflictError(
            f"At most {MAX_TRUSTED_SENDERS} trusted senders; remove some before adding more."
        )
    sender, created = TrustedImageSender.objects.get_or_create(
        account=acting_account, address=canonical
    )
    return sender, created


def do_untrust_image_sender(*, acting_account: Account, sender_id: int) -> None:
    deleted, _ = TrustedImageSender.objects.filter(account=acting_account, pk=sender_id).delete()
    if not deleted:
        raise NotFoundError("no such trusted sender")
