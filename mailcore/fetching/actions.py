"""External accounts (issue 11 §7–10): add, change and remove them (each after a connection
test), and fetch one: download what is new, store it through the store's delivery action
(quota, change notices), record what was taken, and only then delete it on the remote server.

Exactly once: a fetched message's Maildir key is derived from (external account, UIDVALIDITY,
UID/UIDL), so storing it again after a crash finds the first copy (store.actions.do_deliver_many
is idempotent per key); the remote copy is deleted only after the local one is committed, and
deletions that a crash interrupted are redone at the next run. One run per account at a time:
a lease on its row (running_until), taken with one conditional UPDATE.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import idna
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mailcore.directory.models import Account
from mailcore.errors import ConflictError, FetchError, MailcoreError, NotFoundError, UserError
from mailcore.faults import fault_point
from mailcore.fetching import remote, secrets
from mailcore.fetching.models import ExternalAccount, FetchedId, Protocol, Security
from mailcore.mime import parse_message
from mailcore.mime.authresults import without_forged
from mailcore.store.actions import Arrival, Delivered, do_deliver_many
from mailcore.store.models import Folder, Message, Source, SpecialUse
from mailcore.store.queries import access_folder
from mailcore.store.quota import usage, warn_if_nearly_full

log = logging.getLogger("mailroom")

BATCH_MESSAGES = 20  # downloaded, then stored in one do_deliver_many
BATCH_BYTES = 8 << 20
MAX_PASSWORD = 1024
_HOST_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# What a requested run is handed to (the fetch_external task's delay), connected by
# FetchingConfig.ready so that this module never imports the tasks (layers: tasks → actions).
_dispatch: Callable[[int], object] | None = None


def connect_dispatcher(dispatch: Callable[[int], object]) -> None:
    global _dispatch
    _dispatch = dispatch


def _ring(external_id: int) -> None:
    if _dispatch is None:
        return
    try:
        _dispatch(external_id)
    except Exception:  # the broker is only a doorbell: the beat sweep runs it later
        log.warning("fetch %s: could not queue the run; the sweep will", external_id, exc_info=True)


# --- input --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExternalInput:
    """What the user gives for an external account; password "" on a change keeps the old."""

    protocol: str
    host: str
    port: int
    security: str
    username: str
    password: str
    folder_id: int | None = None
    keep: bool = True
    interval_minutes: int = 10
    enabled: bool = True
    allow_self_signed: bool = False


def policy() -> remote.Policy:
    return remote.Policy(
        allow_private=settings.FETCH_ALLOW_PRIVATE_TARGETS,
        allow_plaintext=settings.FETCH_ALLOW_PLAINTEXT,
        timeout=float(settings.FETCH_TIMEOUT_SECONDS),
        max_message_bytes=settings.FETCH_MAX_MESSAGE_BYTES,
        ca_file=settings.FETCH_CA_FILE,
    )


def normal_host(host: str) -> str:
    """The host as it is looked up: an IP literal, or an ASCII (IDNA) name of valid labels."""
    host = host.strip().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise UserError(f"{host!r} is not a valid server name.") from exc
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise UserError(f"{host!r} is not a valid server name.")
    return ascii_host


def _check_input(data: ExternalInput) -> None:
    if data.protocol not in Protocol.values:
        raise UserError("Choose POP3 or IMAP.")
    if data.security not in Security.values:
        raise UserError("Choose TLS, STARTTLS or none.")
    if not 1 <= data.port <= 65535:
        raise UserError("The port must be between 1 and 65535.")
    if not data.username or len(data.username) > 255 or _CONTROL.search(data.username):
        raise UserError("Enter the user name of the other account (at most 255 characters).")
    if len(data.password) > MAX_PASSWORD or _CONTROL.search(data.password):
        raise UserError("The password is too long or contains control characters.")
    low, high = settings.FETCH_MIN_INTERVAL_MINUTES, 24 * 60
    if not low <= data.interval_minutes <= high:
        raise UserError(f"The interval must be between {low} and {high} minutes.")
    if data.security == Security.NONE and not settings.FETCH_ALLOW_PLAINTEXT:
        raise FetchError(
            "plaintext",
            "The password would cross the network unencrypted; choose TLS or STARTTLS.",
        )


def _target(ext: ExternalAccount, password: str) -> remote.Target:
    return remote.Target(
        protocol=ext.protocol,
        host=ext.host,
        port=ext.port,
        security=ext.security,
        username=ext.username,
        password=password,
        allow_self_signed=ext.allow_self_signed,
        cert_sha256=ext.cert_sha256,
    )


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    messages: int  # how many messages the remote INBOX holds
    cert_sha256: str


def check_connection(target: remote.Target) -> ConnectionCheck:
    """Connect, log in, look at INBOX and leave (changing nothing there): the test a user's
    settings pass before they are saved. FetchError says what failed, in plain words."""
    session = remote.open_session(target, policy(), writable=False)
    try:
        count = session.count()
        session.finish()
    except BaseException:
        session.abort()
        raise
    return ConnectionCheck(count, session.fingerprint)


def do_test_external_account(
    *, acting_account: Account, data: ExternalInput, external: ExternalAccount | None = None
) -> ConnectionCheck:
    """The connection test on its own (the settings form's "test" button). With `external`
    and an empty password, the saved password is used."""
    _check_input(data)
    password = data.password
    if not password and external is not None:
        password = secrets.decrypt(external.password_encrypted)
    if not password:
        raise UserError("Enter the password of the other account.")
    return check_connection(
        remote.Target(
            protocol=data.protocol,
            host=normal_host(data.host),
            port=data.port,
            security=data.security,
            username=data.username,
            password=password,
            allow_self_signed=data.allow_self_signed,
        )
    )


def _folder(acting_account: Account, folder_id: int | None) -> Folder | None:
    return None if folder_id is None else access_folder(acting_account, folder_id)


def do_create_external_account(*, acting_account: Account, data: ExternalInput) -> ExternalAccount:
    """Test the connection, then save the account (password encrypted, the certificate pinned
    when self-signed ones are allowed); its first run is due at once."""
    if not data.password:
        raise UserError("Enter the password of the other account.")
    limit = settings.FETCH_MAX_ACCOUNTS
    if ExternalAccount.objects.filter(account=acting_account).count() >= limit:
        raise ConflictError(f"At most {limit} external accounts can be added.")
    folder = _folder(acting_account, data.folder_id)
    check = do_test_external_account(acting_account=acting_account, data=data)
    ext = ExternalAccount.objects.create(
        account=acting_account,
        protocol=data.protocol,
        host=normal_host(data.host),
        port=data.port,
        security=data.security,
        username=data.username,
        password_encrypted=secrets.encrypt(data.password),
        folder=folder,
        keep=data.keep,
        interval_minutes=data.interval_minutes,
        enabled=data.enabled,
        allow_self_signed=data.allow_self_signed,
        cert_sha256=check.cert_sha256 if data.allow_self_signed else "",
        next_run_at=timezone.now(),
    )
    if ext.enabled:
        transaction.on_commit(lambda: _ring(ext.pk))
    return ext


_CONNECTION_FIELDS = ("protocol", "host", "port", "security", "username", "allow_self_signed")


def do_update_external_account(
    *, acting_account: Account, external: ExternalAccount, data: ExternalInput
) -> ExternalAccount:
    """Change an account. A change to where or how it connects (or a new password) is tested
    first; pointing it at another mailbox (protocol, host or user) forgets what was taken
    from the old one."""
    if external.account_id != acting_account.pk:
        raise NotFoundError("external account not found")
    folder = _folder(acting_account, data.folder_id)
    host = normal_host(data.host)
    new = {
        "protocol": data.protocol,
        "host": host,
        "port": data.port,
        "security": data.security,
        "username": data.username,
        "allow_self_signed": data.allow_self_signed,
    }
    reconnect = bool(data.password) or any(getattr(external, k) != v for k, v in new.items())
    _check_input(data)
    if reconnect:
        check = do_test_external_account(
            acting_account=acting_account, data=data, external=external
        )
        external.cert_sha256 = check.cert_sha256 if data.allow_self_signed else ""
    other_mailbox = any(getattr(external, k) != new[k] for k in ("protocol", "host", "username"))
    with transaction.atomic():
        for name, value in new.items():
            setattr(external, name, value)
        if data.password:
            external.password_encrypted = secrets.encrypt(data.password)
        external.folder = folder
        external.keep = data.keep
        external.interval_minutes = data.interval_minutes
        external.enabled = data.enabled
        if other_mailbox:
            external.uidvalidity, external.last_uid = None, 0
            FetchedId.objects.filter(external=external).delete()
        fields = [*new, "password_encrypted", "folder", "keep", "interval_minutes", "enabled"]
        fields.append("cert_sha256")
        if other_mailbox:
            fields += ["uidvalidity", "last_uid"]
        if reconnect:
            external.last_error_code = external.last_error_detail = ""
            fields += ["last_error_code", "last_error_detail"]
        # Only these: a run going on meanwhile keeps its own columns (lease, last UID, counts).
        external.save(update_fields=fields)
    return external


def do_delete_external_account(*, acting_account: Account, external: ExternalAccount) -> None:
    """Forget the account (what was fetched stays in the mailbox)."""
    if external.account_id != acting_account.pk:
        raise NotFoundError("external account not found")
    external.delete()


def do_request_fetch(*, acting_account: Account, external: ExternalAccount) -> ExternalAccount:
    """ "Fetch now": queue a run (a run already going is not doubled: the lease)."""
    if external.account_id != acting_account.pk:
        raise NotFoundError("external account not found")
    if not external.enabled:
        raise UserError("This account is switched off; switch it on to fetch.")
    _mark_dispatched([external.pk])
    transaction.on_commit(lambda: _ring(external.pk))
    return external


def _mark_dispatched(ids: list[int]) -> None:
    # A queued run that never happens (a lost broker message) is queued again by the sweep
    # after this; a run that happens sets the next time itself.
    later = timezone.now() + timedelta(seconds=settings.FETCH_REDISPATCH_SECONDS)
    ExternalAccount.objects.filter(pk__in=ids).update(next_run_at=later)


def do_dispatch_due(limit: int = 500) -> int:
    """The beat task's body: queue a run of every enabled account whose time has come."""
    now = timezone.now()
    ids = list(
        ExternalAccount.objects.filter(enabled=True, next_run_at__lte=now)
        .filter(Q(running_until__isnull=True) | Q(running_until__lt=now))
        .order_by("next_run_at")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        _mark_dispatched(ids)
        for pk in ids:
            _ring(pk)
    return len(ids)


# --- one run ------------------------------------------------------------------------------------


@dataclass(slots=True)
class FetchRun:
    ran: bool = False
    fetched: int = 0  # new messages stored here
    deleted: int = 0  # removed on the remote server
    left_large: int = 0  # larger than FETCH_MAX_MESSAGE_BYTES: left on the server
    more: bool = False  # the per-run limit stopped it; the next run comes soon
    error: FetchError | None = None


def _claim(external_id: int) -> ExternalAccount | None:
    now = timezone.now()
    taken = (
        ExternalAccount.objects.filter(pk=external_id, enabled=True)
        .filter(Q(running_until__isnull=True) | Q(running_until__lt=now))
        .update(running_until=now + timedelta(seconds=settings.FETCH_RUN_LEASE_SECONDS))
    )
    if not taken:
        return None
    return ExternalAccount.objects.select_related("account", "folder").get(pk=external_id)


def do_fetch(external_id: int) -> FetchRun:
    """One run of one external account, unless one is going already (then ran=False).

    Records the outcome on the row: last run, how many came in, the last error in words (its
    reason code for the UI's translation), and when the next run is due."""
    ext = _claim(external_id)
    if ext is None:
        return FetchRun()
    run = FetchRun(ran=True)
    try:
        _run(ext, run)
    except FetchError as exc:
        run.error = exc
    except MailcoreError as exc:
        run.error = FetchError("storage", f"Storing the fetched mail failed: {exc}")
    except Exception:
        log.exception("fetch %s: run failed", ext.pk)
        run.error = FetchError("internal", "An internal error stopped the run; it is retried.")
    _finish(ext, run)
    return run


def _finish(ext: ExternalAccount, run: FetchRun) -> None:
    now = timezone.now()
    if run.error is not None:
        code, detail = run.error.reason, str(run.error)
    elif run.left_large:
        mb = settings.FETCH_MAX_MESSAGE_BYTES / 1048576
        code = "too_large"
        detail = f"{run.left_large} message(s) larger than {mb:.0f} MB were left on the server."
    else:
        code, detail = "", ""
    soon = run.more and run.error is None
    ExternalAccount.objects.filter(pk=ext.pk).update(
        running_until=None,
        last_run_at=now,
        last_fetched=run.fetched,
        total_fetched=F("total_fetched") + run.fetched,
        last_error_code=code,
        last_error_detail=detail[:500],
        next_run_at=now + (timedelta(0) if soon else timedelta(minutes=ext.interval_minutes)),
    )
    level = logging.WARNING if run.error else logging.INFO
    log.log(
        level,
        "fetch %s (%s): %d new, %d deleted; %s",
        ext.pk,
        ext,
        run.fetched,
        run.deleted,
        detail or "ok",
    )


def fetch_key(ext: ExternalAccount, uidvalidity: int, remote_id: str) -> str:
    """The Maildir key of a fetched message: the same on every attempt (the idempotency key).
    The remote mailbox (protocol, host, user) is part of it: an account pointed at another
    mailbox must not take that one's "1" for the old one's "1"."""
    mailbox = f"{ext.protocol}|{ext.host}|{ext.username}"
    digest = hashlib.sha256(f"{mailbox}|{uidvalidity}:{remote_id}".encode()).hexdigest()[:32]
    return f"fetch-{ext.pk}-{digest}"


def _received(ext: ExternalAccount, protocol: str, remote_id: str, when: datetime) -> bytes:
    """A trace header, as fetchmail adds one; fixed-width date, so a retried copy has the size
    of the first (its file name carries the size)."""
    safe_id = re.sub(r"[^A-Za-z0-9._@-]", "", remote_id)[:70] or "-"
    user = re.sub(r"[^A-Za-z0-9._@+-]", "", ext.username)[:64] or "-"
    return (
        f"Received: from {ext.host} (user {user})\r\n"
        f"\tby {settings.MAIL_HOSTNAME} with {protocol.upper()} (Mailroom fetch)\r\n"
        f"\tid {safe_id}; {format_datetime(when.astimezone(UTC))}\r\n"
    ).encode()


class _Store:
    """Stores downloaded messages of one run into the target folder, with the quota checked
    against usage read once per run and counted up (as the delivery queue's _QuotaRoom)."""

    def __init__(self, ext: ExternalAccount, folder: Folder, started: datetime) -> None:
        self.ext, self.folder, self.started = ext, folder, started
        self.account = ext.account
        self.before = usage(self.account)
        self.added = 0

    def put(
        self, uidvalidity: int, items: list[tuple[remote.RemoteMessage, bytes]]
    ) -> tuple[list[tuple[remote.RemoteMessage, bool]], FetchError | None]:
        """(the messages now durable here with created-or-found, the error that stopped)."""
        arrivals: list[Arrival] = []
        stopped: FetchError | None = None
        for msg, data in items:
            key = fetch_key(self.ext, uidvalidity, msg.remote_id)
            # Mail from another server is examined nowhere here: an Authentication-Results or
            # X-Spam-* it carries in our name is a forgery, and would show as our verdict.
            clean = without_forged(data, settings.MAIL_HOSTNAME)
            copy = _received(self.ext, self.ext.protocol, msg.remote_id, self.started) + clean
            limit = self.before.limit
            full = limit and self.before.used + self.added + len(copy) > limit
            if full and not Message.objects.filter(account=self.account, maildir_key=key).exists():
                stopped = FetchError(
                    "over_quota",
                    "Your mailbox is full: fetching stopped, and what was not stored is "
                    "still on the other server.",
                )
                break
            self.added += len(copy)
            arrivals.append(
                Arrival(
                    account=self.account,
                    folder=self.folder,
                    data=copy,
                    key=key,
                    parsed=parse_message(copy),
                    internal_date=timezone.now(),
                    source=Source.IMPORT,
                )
            )
        results = do_deliver_many(arrivals) if arrivals else []
        done: list[tuple[remote.RemoteMessage, bool]] = []
        created_bytes = 0
        for (msg, _), result in zip(items, results, strict=False):
            if not isinstance(result, Delivered):
                stopped = FetchError("storage", f"Storing a fetched message failed: {result}")
                break
            done.append((msg, result.created))
            if result.created:
                created_bytes += result.message.size
        if created_bytes:
            warn_if_nearly_full(self.account, self.before, created_bytes)
        return done, stopped


def _target_folder(ext: ExternalAccount) -> Folder:
    if ext.folder is not None:
        return ext.folder
    folder = Folder.objects.filter(account=ext.account, special_use=SpecialUse.INBOX).first()
    if folder is None:
        raise FetchError("storage", "Your mailbox has no INBOX to fetch into.")
    return folder


def _batches(
    msgs: list[remote.RemoteMessage],
) -> list[list[remote.RemoteMessage]]:
    out: list[list[remote.RemoteMessage]] = []
    size = 0
    for msg in msgs:
        if not out or len(out[-1]) >= BATCH_MESSAGES or size + msg.size > BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(msg)
        size += msg.size
    return out


def _run(ext: ExternalAccount, run: FetchRun) -> None:
    target = _target(ext, secrets.decrypt(ext.password_encrypted))
    store = _Store(ext, _target_folder(ext), timezone.now())
    session = remote.open_session(target, policy(), writable=not ext.keep)
    try:
        if isinstance(session, remote.Pop3Session):
            _run_pop3(ext, session, store, run)
        else:
            _run_imap(ext, session, store, run)
    except BaseException:
        session.abort()
        raise


def _take(msgs: list[remote.RemoteMessage], run: FetchRun) -> list[remote.RemoteMessage]:
    """What this run downloads: not too large, at most FETCH_MAX_MESSAGES_PER_RUN."""
    small = [m for m in msgs if m.size <= settings.FETCH_MAX_MESSAGE_BYTES]
    run.left_large = len(msgs) - len(small)
    limit = settings.FETCH_MAX_MESSAGES_PER_RUN
    run.more = len(small) > limit
    return small[:limit]


@dataclass(slots=True)
class _Downloaded:
    items: list[tuple[remote.RemoteMessage, bytes]]
    gone: set[int]  # refs expunged on the server meanwhile: nothing to take
    complete: bool  # False: the run's time ran out before the end of the batch


def _download(
    session: remote.Pop3Session | remote.ImapSession,
    batch: list[remote.RemoteMessage],
    deadline: float,
    run: FetchRun,
) -> _Downloaded:
    got = _Downloaded([], set(), True)
    for msg in batch:
        if time.monotonic() > deadline:
            run.more = True
            got.complete = False
            break
        try:
            got.items.append((msg, session.retrieve(msg)))
        except FetchError as exc:
            if exc.reason != "gone":
                raise
            got.gone.add(msg.ref)
    return got


def _run_pop3(
    ext: ExternalAccount, session: remote.Pop3Session, store: _Store, run: FetchRun
) -> None:
    listing = session.listing()
    on_server = {m.remote_id for m in listing}
    known = set(FetchedId.objects.filter(external=ext).values_list("remote_id", flat=True))
    # Taken by an earlier run whose QUIT never came (a crash, a dropped line): delete now.
    to_delete = [] if ext.keep else [m for m in listing if m.remote_id in known]
    deadline = time.monotonic() + settings.FETCH_RUN_SECONDS
    for batch in _batches(_take([m for m in listing if m.remote_id not in known], run)):
        got = _download(session, batch, deadline, run)
        done, stopped = store.put(0, got.items)
        fault_point("fetch.after_store")
        FetchedId.objects.bulk_create(
            [FetchedId(external=ext, remote_id=m.remote_id) for m, _ in done],
            ignore_conflicts=True,
        )
        run.fetched += sum(1 for _, created in done if created)
        if not ext.keep:
            to_delete.extend(m for m, _ in done)
        if stopped is not None:
            run.error = stopped
            break
        if not got.complete:
            break
    if to_delete:
        session.delete(to_delete)
        fault_point("fetch.before_quit")
    session.finish()  # QUIT: the deletions take effect now (RFC 1939 §6)
    run.deleted = len(to_delete)
    # Forget ids the server no longer lists (and those it just deleted): the table stays as
    # small as the remote mailbox.
    still = on_server - {m.remote_id for m in to_delete}
    stale = [
        r
        for r in FetchedId.objects.filter(external=ext).values_list("remote_id", flat=True)
        if r not in still
    ]
    for i in range(0, len(stale), 500):
        FetchedId.objects.filter(external=ext, remote_id__in=stale[i : i + 500]).delete()


def _run_imap(
    ext: ExternalAccount, session: remote.ImapSession, store: _Store, run: FetchRun
) -> None:
    uidvalidity = session.uidvalidity
    if ext.uidvalidity != uidvalidity:
        # First run, or the server renumbered INBOX (RFC 9051 §2.3.1.1): every message is
        # new under the new UIDVALIDITY; ids kept for the old one mean nothing now.
        with transaction.atomic():
            FetchedId.objects.filter(external=ext).delete()
            ext.uidvalidity, ext.last_uid = uidvalidity, 0
            ExternalAccount.objects.filter(pk=ext.pk).update(uidvalidity=uidvalidity, last_uid=0)
    prefix = f"{uidvalidity}:"
    if not ext.keep:
        # Taken by an earlier run that did not get to delete them (a crash): delete now.
        pending = [
            int(r[len(prefix) :])
            for r in FetchedId.objects.filter(
                external=ext, remote_id__startswith=prefix
            ).values_list("remote_id", flat=True)
        ]
        if pending:
            present = session.present(pending)
            session.delete(present)
            run.deleted += len(present)
            FetchedId.objects.filter(external=ext).delete()
    new = session.new_since(ext.last_uid)
    take = _take(new, run)
    # Too large: left on the server and passed over (reported in this run's status).
    handled = {m.ref for m in new if m.size > settings.FETCH_MAX_MESSAGE_BYTES}
    deadline = time.monotonic() + settings.FETCH_RUN_SECONDS
    for batch in _batches(take):
        got = _download(session, batch, deadline, run)
        done, stopped = store.put(uidvalidity, got.items)
        fault_point("fetch.after_store")
        handled.update(m.ref for m, _ in done)
        handled.update(got.gone)
        last = ext.last_uid
        for m in new:  # in UID order: advance over what is handled, up to the first gap
            if m.ref not in handled:
                break
            last = m.ref
        with transaction.atomic():
            if not ext.keep:
                FetchedId.objects.bulk_create(
                    [FetchedId(external=ext, remote_id=f"{prefix}{m.ref}") for m, _ in done],
                    ignore_conflicts=True,
                )
            ExternalAccount.objects.filter(pk=ext.pk).update(last_uid=last)
            ext.last_uid = last
        run.fetched += sum(1 for _, created in done if created)
        if not ext.keep and done:
            uids = [m.ref for m, _ in done]
            fault_point("fetch.before_expunge")
            session.delete(uids)
            run.deleted += len(uids)
            FetchedId.objects.filter(
                external=ext, remote_id__in=[f"{prefix}{u}" for u in uids]
            ).delete()
        if stopped is not None:
            run.error = stopped
            break
        if not got.complete:
            break
    session.finish()


def do_reencrypt_passwords() -> tuple[int, int]:
    """Every saved password under the primary key (after a rotation): (done, unreadable)."""
    done = unreadable = 0
    for ext in ExternalAccount.objects.only("pk", "password_encrypted").iterator():
        try:
            token = secrets.reencrypt(ext.password_encrypted)
        except FetchError:
            unreadable += 1
            continue
        ExternalAccount.objects.filter(pk=ext.pk).update(password_encrypted=token)
        done += 1
    return done, unreadable
