"""Rows of webmail.accounts. Written only by webmail.accounts.actions and .sessions."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LanguageChoice(models.TextChoices):
    BROWSER = "", "Follow the browser"
    KOREAN = "ko", "한국어"
    ENGLISH = "en", "English"


class RemoteImages(models.TextChoices):
    ASK = "ask", "Ask (show for trusted senders)"
    ALWAYS = "always", "Always show"
    NEVER = "never", "Never show automatically"


class ListDensity(models.TextChoices):
    COMPACT = "compact", "Compact: one line per message (Naver's default)"
    COMFORTABLE = "comfortable", "Comfortable: sender, subject and preview"


class ReadingMode(models.TextChoices):
    SPLIT = "split", "List and message side by side"
    LIST = "list", "List only: a message opens full width"


PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50


class Preferences(models.Model):
    """One per account, created on the first change; until then the defaults apply."""

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="web_preferences"
    )
    signature_html = models.TextField(blank=True, default="", help_text="sanitized on save")
    signature_text = models.TextField(blank=True, default="")
    language = models.CharField(
        max_length=8, blank=True, default=LanguageChoice.BROWSER, choices=LanguageChoice.choices
    )
    page_size = models.PositiveSmallIntegerField(
        default=DEFAULT_PAGE_SIZE, choices=[(n, str(n)) for n in PAGE_SIZES]
    )
    remote_images = models.CharField(
        max_length=8, default=RemoteImages.ASK, choices=RemoteImages.choices
    )
    list_density = models.CharField(
        max_length=12, default=ListDensity.COMPACT, choices=ListDensity.choices
    )
    reading_mode = models.CharField(
        max_length=8, default=ReadingMode.SPLIT, choices=ReadingMode.choices
    )
    group_by_conversation = models.BooleanField(
        default=False, help_text="message lists show one row per conversation"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        default="",
        help_text='an IANA zone such as "Asia/Seoul" for the times the webmail shows and the '
        'scheduled-send picker; "" follows the browser',
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of account {self.account_id}"


class TrustedImageSender(models.Model):
    """A sender whose remote images always load ("always show images from this sender")."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trusted_image_senders"
    )
    address = models.CharField(max_length=320, help_text="canonical (mailcore.addresses)")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("address",)
        constraints = (
            models.UniqueConstraint(
                fields=("account", "address"), name="trusted_image_sender_unique"
            ),
        )

    def __str__(self) -> str:
        return self.address


class SessionRecord(models.Model):
    """A browser session key of an account, so its sessions can be ended without scanning
    every session of the server. Stale rows (session already gone) are harmless and pruned."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="session_records"
    )
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Where it signed in from and when it was last used (to the nearest TOUCH_SECONDS), for
    # the list of active sessions in Settings.
    ip = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.CharField(max_length=300, blank=True, default="")
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = (models.Index(fields=("account", "created_at"), name="session_record_account"),)

    def __str__(self) -> str:
        return f"session of account {self.account_id}"


class TokenRecord(models.Model):
    """Where the account's API token (DRF authtoken: one per account) was issued to and last
    used from; goes with the token."""

    token = models.OneToOneField(
        "authtoken.Token", on_delete=models.CASCADE, primary_key=True, related_name="record"
    )
    ip = models.CharField(max_length=45, blank=True, default="")
    user_agent = models.CharField(max_length=300, blank=True, default="")
    last_seen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token record {self.pk}"


class RateCounter(models.Model):
    """Requests counted in one fixed window for one (scope, client), for the API throttles when
    there is no Redis (the embedded default): every web process reads and writes the same
    rows. Written only by webmail.accounts.ratecounters; rows past their window are pruned."""

    key = models.CharField(max_length=200, help_text="scope:client")
    window = models.BigIntegerField(help_text="window number: unix time // period")
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("key", "window"), name="rate_counter_unique"),
        )
        indexes = (models.Index(fields=("expires_at",), name="rate_counter_expiry"),)

    def __str__(self) -> str:
        return f"{self.key} #{self.window}: {self.count}"
