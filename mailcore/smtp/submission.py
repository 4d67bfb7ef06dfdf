"""aiosmtpd hooks of the submission listeners (587 STARTTLS, 465 implicit TLS): AUTH PLAIN and
LOGIN through the shared login limiter, then sender checks and do_submit. Only under TLS; the
wiring (TLS, auth_required) is in server.py, the decisions in mailcore.delivery.submit."""

from __future__ import annotations

import asyncio
import binascii
import logging
from base64 import b64decode
from dataclasses import dataclass
from typing import Any

from aiosmtpd.smtp import MISSING, AuthResult
from django.db import DatabaseError
from django.utils import timezone

from mailcore.addresses import canonical_address
from mailcore.asyncdb import run_db
from mailcore.contacts.actions import do_remember_recipients
from mailcore.delivery.models import EntryState
from mailcore.delivery.submit import (
    Submission,
    check_daily_limit,
    check_sender,
    do_submit,
)
from mailcore.directory.models import Account
from mailcore.errors import (
    DailyLimitError,
    InvalidAddressError,
    MailcoreError,
    RecipientRejectedError,
    SenderNotAllowedError,
    StorageError,
    TooManyRecipientsError,
)
from mailcore.mime.headers import get_header
from mailcore.outbox.actions import record_submission
from mailcore.outbox.queries import tracked_queue_id
from mailcore.ratelimit import AuthAttempt, AuthStatus, authenticate
from mailcore.smtp.handler import (
    IngressHandler,
    IngressPolicy,
    _peer_ip,
    _printable,
    discarded,
    kept_recipients,
    reverse_path,
    with_extensions,
)
from mailcore.store.models import Message, Source

log = logging.getLogger("mailroom")


@dataclass(frozen=True, slots=True)
class SubmissionPolicy:
    max_recipients: int  # per message (SUBMISSION_MAX_RECIPIENTS); 0 = no limit
    max_auth_failures: int  # per session, then 421 and close


class SubmissionHandler(IngressHandler):
    """Hooks for the submission sessions. MAIL needs a successful AUTH first (RCPT and DATA
    need MAIL). Checked here rather than with aiosmtpd's auth_required, which warns on every
    connection of the 465 listener where it cannot see the TLS."""

    def __init__(self, policy: IngressPolicy, submission: SubmissionPolicy) -> None:
        super().__init__(policy)
        self.submission = submission

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        # AUTH is listed by aiosmtpd only once TLS is up (RFC 4954 §4).
        return with_extensions(responses)

    # --- AUTH (RFC 4954), mechanisms PLAIN (RFC 4616) and LOGIN ---------------------------------

    async def auth_PLAIN(self, server: Any, args: list[str]) -> AuthResult:
        blob = await _first_response(server, args, "")
        if isinstance(blob, AuthResult):
            return blob
        parts = blob.split(b"\0")
        if len(parts) != 3:
            return AuthResult(
                success=False, handled=False, message="501 5.5.2 Cannot split the PLAIN response"
            )
        authzid, login, password = parts
        if authzid and not _same_identity(authzid, login):
            # RFC 4616 §2: acting as someone else needs a proxy right nobody has here (S8).
            return await self._refuse(server, server.session)
        return await self._login(server, login, password)

    async def auth_LOGIN(self, server: Any, args: list[str]) -> AuthResult:
        login = await _first_response(server, args, server.AuthLoginUsernameChallenge)
        if isinstance(login, AuthResult):
            return login
        password = await server.challenge_auth(server.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._login(server, login, password)

    async def _login(self, server: Any, login: bytes, password: bytes) -> AuthResult:
        session = server.session
        try:
            address, secret = login.decode("utf-8"), password.decode("utf-8")
        except UnicodeDecodeError:
            return await self._refuse(server, session)
        ip = _peer_ip(session)
        try:
            attempt: AuthAttempt = await run_db(
                authenticate, ip, address, secret, door="smtp", client=session.host_name or ""
            )
        except DatabaseError:
            log.exception("authentication lookup failed")
            return AuthResult(
                success=False, handled=False, message="454 4.7.0 Temporary authentication failure"
            )
        if attempt.status is AuthStatus.OK and attempt.account is not None:
            log.info("smtp auth ok: %s from %s", attempt.account.address, ip)
            return AuthResult(success=True, auth_data=attempt.account)
        log.warning("smtp auth %s: %s from %s", attempt.status.value, _printable(address), ip)
        if attempt.status is AuthStatus.BLOCKED:
            await asyncio.sleep(attempt.delay)
            return AuthResult(
                success=False,
                handled=False,
                message=("454 4.7.0 Too many authentication failures; try again later"),
            )
        return await self._refuse(server, session, attempt.delay)

    async def _refuse(self, server: Any, session: Any, delay: float = 0.0) -> AuthResult:
        """535 after a pause that grows with the client's failures; after a few in one
        session, 421 and hang up (Postfix smtpd_hard_error_limit)."""
        if delay:
            await asyncio.sleep(delay)
        failures = getattr(session, "mailroom_auth_failures", 0) + 1
        session.mailroom_auth_failures = failures
        if failures >= self.submission.max_auth_failures:
            await server.push("421 4.7.0 Too many authentication failures; closing connection")
            server.transport.close()
            return AuthResult(success=False, handled=True)
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Authentication credentials invalid"
        )

    # --- the transaction --------------------------------------------------------------------

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        if address and not address.isascii() and not envelope.smtp_utf8:
            return "553 5.6.7 Non-ASCII sender address needs the SMTPUTF8 parameter"
        account = _account(session)
        try:
            await run_db(_check_mail, account, address)
        except SenderNotAllowedError:
            return (
                f"553 5.7.1 <{_printable(address)}>: Sender address not owned by user "
                f"{account.address}"
            )
        except DailyLimitError as exc:
            return f"550 5.7.1 {exc}"
        except DatabaseError:
            log.exception("sender check failed")
            return "451 4.3.0 Temporary lookup failure, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        limit = self.submission.max_recipients
        if limit and len(envelope.rcpt_tos) >= limit:
            return f"452 4.5.3 Too many recipients (at most {limit} per message)"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data, refusal = self._checked_data(envelope)
        if refusal:
            return refusal
        if not envelope.rcpt_tos:
            return "554 5.5.1 No valid recipients"
        recipients = kept_recipients(envelope)
        # An id the outbox recognises (수신확인: the read time of local copies is tracked, as
        # for the webmail's sends; mailcore.outbox).
        queue_id = tracked_queue_id()
        ip = _peer_ip(session)
        if not recipients:
            return discarded(envelope, queue_id, ip)
        trace = self._trace(server, session, envelope, queue_id, recipients)
        try:
            result = await run_db(
                _submit,
                _account(session),
                envelope_sender=reverse_path(envelope),
                recipients=recipients,
                data=data,
                source=Source.SMTP,
                trace=trace,
                client_ip=ip if ip != "unknown" else None,
                client_helo=session.host_name or "",
                smtputf8=bool(envelope.smtp_utf8),
                queue_id=queue_id,
                dsn=getattr(envelope, "mailroom_dsn", None),
                rcpt_dsn=getattr(envelope, "mailroom_rcpt_dsn", None),
            )
        except SenderNotAllowedError as exc:
            return f"553 5.7.1 {exc}"
        except TooManyRecipientsError as exc:
            return f"452 4.5.3 {exc}"
        except DailyLimitError as exc:
            return f"550 5.7.1 {exc}"
        except RecipientRejectedError as exc:
            return f"550 5.1.1 {exc}"
        except StorageError as exc:
            log.error("spool failure: %s", exc)
            if "No space" in str(exc):
                return "452 4.3.1 Insufficient system storage"
            return "451 4.3.0 Local error in processing, try again later"
        except MailcoreError as exc:
            log.warning("submission refused: %s", exc)
            return "451 4.3.0 Local error in processing, try again later"
        except Exception:  # nothing committed: temporary, never 250 or 5xx
            log.exception("submission failed")
            return "451 4.3.0 Local error in processing, try again later"
        return f"250 2.0.0 Ok: queued as {result}"


def _same_identity(authzid: bytes, login: bytes) -> bool:
    try:
        return canonical_address(authzid.decode()) == canonical_address(login.decode())
    except (UnicodeDecodeError, InvalidAddressError):
        return False


def _account(session: Any) -> Account:
    account = session.auth_data
    assert isinstance(account, Account)  # handle_MAIL: no transaction before a successful AUTH
    return account


def _check_mail(account: Account, address: str) -> None:
    check_sender(account, address, what="envelope sender")
    check_daily_limit(account)


def _submit(account: Account, **kwargs: Any) -> str:
    # Re-read the account: it may have been disabled since this session authenticated.
    current = Account.objects.filter(pk=account.pk, is_active=True).first()
    if current is None:
        raise SenderNotAllowedError(f"account {account.address} is disabled")
    receipt = get_header(kwargs["data"], "Disposition-Notification-To") is not None

    def track(submission: Submission) -> None:
        # 수신확인 for a mail program's send too (mailcore.outbox), in do_submit's transaction.
        record_submission(
            submission,
            acting_account=current,
            send_at=timezone.now(),
            scheduled=False,
            receipt_requested=receipt,
        )

    submission = do_submit(acting_account=current, within=track, **kwargs)
    _remember(current, kwargs["recipients"], submission.sent_message)
    queue_id = kwargs["queue_id"] if not submission.entries else submission.entries[0].queue_id
    if any(e.state == EntryState.PAUSED for e in submission.entries):
        # Still 250 (it is durable), but the client's log says why it does not arrive yet.
        return f"{queue_id}; held: sending from {current.address} awaits an administrator"
    return queue_id


def _remember(account: Account, recipients: list[str], sent: Message | None) -> None:
    """The people a client (Outlook, Thunderbird, a phone) just sent to join the address book
    as webmail sends do (mailcore.contacts; off with the account's auto-add setting): names
    from the To/Cc headers of the Sent copy, Bcc recipients by their envelope address. After
    the submission committed; a failure here is logged and never fails the 250."""
    pairs = [(str(n), str(a)) for n, a in [*sent.to_addrs, *sent.cc_addrs]] if sent else []
    pairs += [("", address) for address in recipients]
    try:
        do_remember_recipients(acting_account=account, recipients=pairs)
    except DatabaseError:
        log.exception("contacts: recipients of a submission not remembered")


async def _first_response(server: Any, args: list[str], challenge: str) -> bytes | AuthResult:
    """The client's first SASL response: the initial response on the AUTH line (RFC 4954 §4),
    else the answer to `challenge`; an AuthResult when the client cancelled or sent bad base64."""
    if len(args) == 1:
        blob = await server.challenge_auth(challenge)
        return AuthResult(success=False, handled=True) if blob is MISSING else blob
    try:
        return b64decode(args[1], validate=True)
    except binascii.Error:
        return AuthResult(success=False, handled=False, message="501 5.5.2 Cannot decode base64")
