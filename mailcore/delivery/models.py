"""The mail queue of record: one entry per accepted message, one row per envelope recipient,
one row per delivery attempt (written before the attempt is made).

The spool file holds the bytes; `size` and `sha256` here are its trailer: a file that does not
match them is never delivered.
"""

from __future__ import annotations

from django.db import models

from mailcore.directory.models import Account, Domain


class EntryState(models.TextChoices):
    QUEUED = "queued", "Queued"  # waiting for (another) attempt at next_attempt_at
    DONE = "done", "Done"  # every recipient is final
    HELD = "held", "Held"  # quarantined after too many crashes; needs an admin
    # Its sending account is held (mailcore.delivery.containment): never claimed, flushed or
    # swept out; an admin releases it (back to queued) or deletes it.
    PAUSED = "paused", "Paused"


class RecipientState(models.TextChoices):
    PENDING = "pending", "Pending"
    DEFERRED = "deferred", "Deferred"
    DELIVERED = "delivered", "Delivered"
    BOUNCED = "bounced", "Bounced"


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"


class QueueEntry(models.Model):
    # Unique by a constraint, not unique=True, and message_id indexed by a Meta index: only
    # exact look-ups, so without the varchar_pattern_ops ("_like") copies Django adds for the
    # field options. Every index here is written at each insert and each non-HOT update.
    queue_id = models.CharField(max_length=32)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.INBOUND)
    sender = models.CharField(max_length=320, blank=True, default="", help_text="'' = null sender")
    spool_name = models.CharField(max_length=64)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    client_helo = models.CharField(max_length=255, blank=True, default="")
    authenticated_as = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # queue_sender_recent leads with it
    )
    smtputf8 = models.BooleanField(default=False)
    state = models.CharField(max_length=8, choices=EntryState.choices, default=EntryState.QUEUED)
    received_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # The Sent-folder copy of a submitted message: its sender's view of where the mail went.
    sent_copy = models.ForeignKey(
        "store.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What created this entry when it was not SMTP (e.g. 'fwd:<queue id>:<rcpt>' for a forward).
    origin = models.CharField(max_length=100, blank=True, default="", db_index=True)
    # The Message-ID header without <>, for the delivery log search ('' when absent).
    message_id = models.CharField(max_length=998, blank=True, default="")
    # DSN (RFC 3461) of MAIL FROM: RET (FULL | HDRS, '' = not given) and ENVID (decoded).
    dsn_ret = models.CharField(max_length=4, blank=True, default="")
    dsn_envid = models.CharField(max_length=100, blank=True, default="")
    # mailcore.inbound's Verdict (JSON), kept by the first attempt: every retry stores the same
    # header block, so the copy's size (part of its Maildir key) and its filing stay the same.
    verdict = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = (
            models.Index(fields=("state", "next_attempt_at"), name="queue_due"),
            # What an account submitted lately: the daily limit and containment's window.
            models.Index(fields=("authenticated_as", "received_at"), name="queue_sender_recent"),
            models.Index(fields=("message_id",), name="queue_message_id"),
        )
        constraints = (models.UniqueConstraint(fields=("queue_id",), name="queue_id_unique"),)
        verbose_name_plural = "queue entries"

    def __str__(self) -> str:
        return self.queue_id


class QueueRecipient(models.Model):
    # No index of its own: queue_recipient_unique leads with it.
    entry = models.ForeignKey(
        QueueEntry, on_delete=models.CASCADE, related_name="recipients", db_index=False
    )
    address = models.CharField(max_length=320, help_text="canonical envelope recipient")
    state = models.CharField(
        max_length=10, choices=RecipientState.choices, default=RecipientState.PENDING
    )
    last_reply = models.TextField(blank=True, default="")
    # DSN (RFC 3461) of RCPT TO: NOTIFY ('' = not given, NEVER, or a subset of
    # SUCCESS,DELAY,FAILURE) and ORCPT as "addr-type;address" (decoded).
    dsn_notify = models.CharField(max_length=24, blank=True, default="")
    dsn_orcpt = models.CharField(max_length=500, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("entry", "address"), name="queue_recipient_unique"),
        )

    def __str__(self) -> str:
        return f"{self.entry_id}:{self.address}"


class DeliveryAttempt(models.Model):
    # No index of its own: attempt_unique_number leads with it.
    entry = models.ForeignKey(
        QueueEntry, on_delete=models.CASCADE, related_name="attempt_log", db_index=False
    )
    number = models.IntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="")
    result = models.CharField(max_length=20, blank=True, default="", help_text="'' = in progress")
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ("entry", "number")
        constraints = (
            models.UniqueConstraint(fields=("entry", "number"), name="attempt_unique_number"),
        )

    def __str__(self) -> str:
        return f"{self.entry_id}#{self.number} {self.result or 'in progress'}"


class DkimAlgorithm(models.TextChoices):
    RSA = "rsa-sha256", "RSA-SHA256"
    ED25519 = "ed25519-sha256", "Ed25519-SHA256"


class DkimKeyState(models.TextChoices):
    # A new key of a domain that signs already: its record may not be in DNS yet, so the old
    # key keeps signing until an admin activates this one (after the DNS check sees it).
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"  # signs (the newest active key per algorithm)
    RETIRED = "retired", "Retired"  # replaced; its DNS record can go once mail in flight landed


class DkimKey(models.Model):
    """A DKIM signing key of one sending domain (RFC 6376; ed25519 per RFC 8463).

    The private key lives in this row, not in a file: every worker on every host signs with the
    same key through the one database, and a database backup restores signing with the mail.
    Nothing outside mailcore.delivery.dkim reads `private_key`.
    """

    domain = models.CharField(max_length=253, help_text="IDNA A-label, lower case")
    selector = models.CharField(max_length=63)
    algorithm = models.CharField(max_length=16, choices=DkimAlgorithm.choices)
    private_key = models.TextField(help_text="PEM (RSA) or base64 seed (ed25519)")
    public_key = models.TextField(help_text="base64 value of the DNS p= tag")
    state = models.CharField(
        max_length=8, choices=DkimKeyState.choices, default=DkimKeyState.ACTIVE
    )
    created_at = models.DateTimeField()
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("domain", "selector"), name="dkim_key_selector_unique"),
        )
        indexes = (models.Index(fields=("domain", "state"), name="dkim_key_domain_state"),)

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain} ({self.algorithm}, {self.state})"

    @property
    def is_active(self) -> bool:
        return self.state == DkimKeyState.ACTIVE


class DeliveryWorker(models.Model):
    """A running delivery worker process (mailcore.delivery.workers): its heartbeat says it is
    alive, so the entries it leased wait for it; once it is gone they are taken at once."""

    name = models.CharField(max_length=200, unique=True, help_text="host:pid:random")
    host = models.CharField(max_length=200)
    host_key = models.CharField(
        max_length=100, blank=True, default="", help_text="boot id + pid namespace"
    )
    pid = models.IntegerField()
    pid_started = models.BigIntegerField(default=0, help_text="process start, ticks after boot")
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class HoldReason(models.TextChoices):
    BURST = "burst", "Sudden burst above the account's norm"
    BOUNCES = "bounces", "High hard-bounce rate"
    SPAM = "spam", "Refused as spam by remote servers"
    ADMIN = "admin", "Held by an administrator"


class SendingOverride(models.Model):
    """An administrator's change to the containment policy for one account or one domain
    (exactly one of the two): exempt from it, or other limits than the settings' defaults.
    An account's override wins over its domain's; both win over the settings."""

    account = models.OneToOneField(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    domain = models.OneToOneField(
        Domain, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    exempt = models.BooleanField(default=False, help_text="never held, no daily limit")
    burst_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="messages per burst window; empty = adaptive"
    )
    daily_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="messages per 24 hours; empty = the setting, 0 = none"
    )
    updated_at = models.DateTimeField()
    updated_by = models.CharField(max_length=320, blank=True, default="")

    class Meta:
        constraints = (
            models.CheckConstraint(
                condition=(models.Q(account__isnull=True) & models.Q(domain__isnull=False))
                | (models.Q(account__isnull=False) & models.Q(domain__isnull=True)),
                name="sending_override_one_target",
            ),
        )

    def __str__(self) -> str:
        return f"override {self.account_id or self.domain_id}"


class SendingState(models.Model):
    """Containment state of one account that has sent mail: whether it is held (and why), and
    since when its counters count (a release starts them again). Its row lock serializes the
    account's submissions, so a burst cannot slip past the threshold in parallel."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="+")
    counted_since = models.DateTimeField(null=True, blank=True)
    held_at = models.DateTimeField(null=True, blank=True, help_text="empty = not held")
    reason = models.CharField(max_length=16, choices=HoldReason.choices, blank=True, default="")
    detail = models.TextField(blank=True, default="")
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=320, blank=True, default="")

    class Meta:
        indexes = (models.Index(fields=("held_at",), name="sending_state_held"),)

    def __str__(self) -> str:
        return f"{self.account_id} {'held' if self.held_at else 'ok'}"


class SendingHour(models.Model):
    """Messages and recipients an account submitted in one clock hour: its sending history,
    from which its norm (busiest recent hour) is read."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    messages = models.IntegerField(default=0)
    recipients = models.IntegerField(default=0)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("account", "hour"), name="sending_hour_unique"),
        )

    def __str__(self) -> str:
        return f"{self.account_id} {self.hour:%Y-%m-%d %H}: {self.messages}"
