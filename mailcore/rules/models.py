"""A user's mail rules: the active Sieve script (and the rule list it was generated from),
blocked senders, auto-forwarding, the vacation reply and whom it answered, the domain policy
on forwarding outside, and "apply to existing mail" jobs. Written only by
mailcore.rules.actions (and the jobs by mailcore.rules.tasks)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RuleSet(models.Model):
    """One active script per account. `rules` is the UI's list; `script` is what runs. When
    `custom` the user edited the text and the list no longer describes it."""

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ruleset"
    )
    rules = models.JSONField(default=list, blank=True)
    script = models.TextField(blank=True, default="")
    custom = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rules of {self.account_id}"


class BlockedSender(models.Model):
    """수신차단: an address (`a@b.c`) or a whole domain (`b.c`), stored lower case."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocked_senders"
    )
    value = models.CharField(max_length=320)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("account", "value")
        constraints = (
            models.UniqueConstraint(fields=("account", "value"), name="blocked_sender_unique"),
        )

    def __str__(self) -> str:
        return self.value


class Forwarding(models.Model):
    """자동전달: every arriving message also goes to `address`; without `keep_copy` the
    mailbox keeps nothing."""

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forwarding"
    )
    enabled = models.BooleanField(default=False)
    address = models.CharField(max_length=320, blank=True, default="")
    keep_copy = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.address or "off"


class Vacation(models.Model):
    """부재중 자동응답: on between `start` and `end` (dates in the server's zone, both
    optional), one reply per sender per `days`."""

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vacation"
    )
    enabled = models.BooleanField(default=False)
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField(blank=True, default="")
    days = models.PositiveSmallIntegerField(default=7)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "on" if self.enabled else "off"


class VacationReply(models.Model):
    """Who was answered and when (RFC 5230 §4.2 "response tracking"), per handle."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vacation_replies"
    )
    sender = models.CharField(max_length=320)
    handle = models.CharField(max_length=64, default="", blank=True)
    replied_at = models.DateTimeField()

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=("account", "sender", "handle"), name="vacation_reply_unique"
            ),
        )

    def __str__(self) -> str:
        return self.sender


class DomainRulesPolicy(models.Model):
    """Per-domain admin choice: may accounts forward (redirect) outside the domain?"""

    domain = models.OneToOneField(
        "directory.Domain", on_delete=models.CASCADE, related_name="rules_policy"
    )
    forward_outside = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"policy of domain {self.domain_id}"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RuleJob(models.Model):
    """ "Apply to existing mail" over one folder: progress counters for the UI."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rule_jobs"
    )
    folder = models.ForeignKey("store.Folder", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    total = models.IntegerField(default=0)
    done = models.IntegerField(default=0)
    changed = models.IntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"job {self.pk} ({self.state})"
