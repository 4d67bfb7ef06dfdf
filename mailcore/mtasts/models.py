"""MTA-STS and TLS-RPT rows: the policy settings of our domains, remote policies cached (RFC
8461 §5), per-day outbound TLS session counts (RFC 8460 §4) and TLS reports received.

Written only by mailcore.mtasts.serving / remote / tlsrpt.
"""

from __future__ import annotations

from django.db import models

from mailcore.directory.models import Domain


class StsMode(models.TextChoices):
    NONE = "none", "None"
    TESTING = "testing", "Testing"
    ENFORCE = "enforce", "Enforce"


class DomainSts(models.Model):
    """The MTA-STS policy a local domain publishes (no row: mode testing, the default max_age,
    MAIL_HOSTNAME as the only mx)."""

    domain = models.OneToOneField(Domain, on_delete=models.CASCADE, related_name="sts")
    mode = models.CharField(max_length=8, choices=StsMode.choices, default=StsMode.TESTING)
    max_age = models.IntegerField(default=604800)
    # Further MX names (backup MX, "*.mx.example.net"), besides MAIL_HOSTNAME.
    extra_mx = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.domain_id}: {self.mode}"


class RemotePolicy(models.Model):
    """A remote domain's policy as last fetched, used until expires_at (fetched + max_age)."""

    domain = models.CharField(max_length=253, unique=True)
    policy_id = models.CharField(max_length=32)
    mode = models.CharField(max_length=8, choices=StsMode.choices)
    mx = models.JSONField(default=list)
    max_age = models.IntegerField()
    text = models.TextField()
    fetched_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # The last failed refresh (the cached policy stays in use meanwhile): what went wrong.
    last_error = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.domain} {self.mode} id={self.policy_id}"


class TlsSessionCount(models.Model):
    """Outbound SMTP sessions of one UTC day to one policy domain, by result (RFC 8460 §4.3:
    result_type '' = successful session; else a failure result type) and receiving MX."""

    day = models.DateField()
    policy_domain = models.CharField(max_length=253)
    policy_type = models.CharField(max_length=20, help_text="sts | no-policy-found")
    policy_id = models.CharField(max_length=32, blank=True, default="")
    result_type = models.CharField(max_length=40, blank=True, default="")
    receiving_mx = models.CharField(max_length=253, blank=True, default="")
    receiving_ip = models.CharField(max_length=45, blank=True, default="")
    count = models.IntegerField(default=0)

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=(
                    "day",
                    "policy_domain",
                    "policy_type",
                    "policy_id",
                    "result_type",
                    "receiving_mx",
                    "receiving_ip",
                ),
                name="tls_session_count_unique",
            ),
        )
        indexes = (models.Index(fields=("policy_domain", "day"), name="tls_count_domain_day"),)

    def __str__(self) -> str:
        return f"{self.day} {self.policy_domain} {self.result_type or 'success'}: {self.count}"


class TlsReport(models.Model):
    """An aggregate TLS report (RFC 8460 §4) a remote sender mailed to our rua address."""

    domain = models.CharField(max_length=253, help_text="our policy domain the report is about")
    organization = models.CharField(max_length=200)
    contact = models.CharField(max_length=200, blank=True, default="")
    report_id = models.CharField(max_length=200)
    start = models.DateTimeField()
    end = models.DateTimeField()
    successful = models.BigIntegerField()
    failed = models.BigIntegerField()
    # [{policy_type, policy_domain, mx_host, successful, failed, failures: [{result_type,
    #   sending_mta_ip, receiving_mx_hostname, receiving_ip, failed_session_count}]}]
    policies = models.JSONField(default=list)
    received_at = models.DateTimeField()
    queue_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ("-end", "-pk")
        constraints = (
            models.UniqueConstraint(
                fields=("organization", "report_id", "domain"), name="tls_report_unique"
            ),
        )
        indexes = (models.Index(fields=("domain", "end"), name="tls_report_domain_end"),)

    def __str__(self) -> str:
        return f"{self.organization} {self.report_id} ({self.domain})"
