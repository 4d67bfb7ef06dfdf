"""Input validation and output shapes of the admin API. No side effects: views call
mailcore actions with what these validate."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mailcore.addresses import unicode_domain
from mailcore.delivery.models import Direction, EntryState, RecipientState
from mailcore.directory.models import LoginRecord, RelayAction

SYSTEM_LOCAL_PARTS = frozenset(
    ("root", "postmaster", "abuse", "hostmaster", "webmaster", "mailer-daemon", "noc", "security")
)
MAX_TARGETS = 100

# --- generic -------------------------------------------------------------------------------------


class AdminPageQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=1400, default="")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)


class AdminDetailSerializer(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()


# --- domains -------------------------------------------------------------------------------------


class AdminDomainQuerySerializer(AdminPageQuerySerializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=253, default="")


class AdminDomainSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="IDNA A-label")
    unicode_name = serializers.SerializerMethodField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    accounts = serializers.IntegerField(source="account_count")
    aliases = serializers.IntegerField(source="alias_count")
    catchall = serializers.SerializerMethodField(help_text="targets of @domain, or null")
    require_second_factor = serializers.BooleanField()

    def get_unicode_name(self, domain: Any) -> str:
        return unicode_domain(domain.name)

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), allow_null=True))
    def get_catchall(self, domain: Any) -> list[str] | None:
        return getattr(domain, "catchall_targets", None)


class AdminDomainPageSerializer(serializers.Serializer):
    items = AdminDomainSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class AdminDomainCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=253)


class AdminDomainUpdateSerializer(serializers.Serializer):
    is_active = serializers.BooleanField()


class AdminDomainPolicySerializer(serializers.Serializer):
    recall_enabled = serializers.BooleanField(
        allow_null=True,
        help_text="발송취소: may the domain's senders recall unread local copies; null = the "
        "server default (recall_default)",
    )
    recall_default = serializers.BooleanField(help_text="OUTBOX_RECALL_ENABLED (read only)")
    forward_outside = serializers.BooleanField(
        allow_null=True,
        help_text="자동전달: may the domain's accounts forward or redirect mail outside it; null "
        "= the server default (forward_outside_default)",
    )
    forward_outside_default = serializers.BooleanField(
        help_text="RULES_FORWARD_OUTSIDE (read only)"
    )


class AdminDomainPolicyUpdateSerializer(serializers.Serializer):
    recall_enabled = serializers.BooleanField(required=False, allow_null=True)
    forward_outside = serializers.BooleanField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Give recall_enabled or forward_outside.")
        return attrs


class AdminDomainDeleteQuerySerializer(serializers.Serializer):
    force = serializers.BooleanField(required=False, default=False)


class AdminTargetsSerializer(serializers.Serializer):
    targets = serializers.ListField(
        child=serializers.CharField(max_length=320), min_length=1, max_length=MAX_TARGETS
    )


class AdminCatchallSerializer(serializers.Serializer):
    # A declared field called "source"; the stubs see Field.source (a str) being replaced.
    source = serializers.CharField()  # type: ignore[assignment]
    targets = serializers.ListField(child=serializers.CharField())


class AdminDkimKeySerializer(serializers.Serializer):
    selector = serializers.CharField()
    algorithm = serializers.CharField()
    state = serializers.ChoiceField(
        choices=("pending", "active", "retired"),
        help_text="pending: published beside the active key, not signing until activated; "
        "active: signs; retired: replaced (its record can go once mail in flight landed)",
    )
    is_active = serializers.BooleanField(help_text="state == active")
    created_at = serializers.DateTimeField()
    activated_at = serializers.DateTimeField(allow_null=True)
    dns_name = serializers.CharField(help_text="where to publish the TXT record")
    dns_value = serializers.CharField(help_text="the TXT record's value")
    dns_record = serializers.CharField(help_text="the same as a zone-file line")


class AdminDkimListSerializer(serializers.Serializer):
    keys = AdminDkimKeySerializer(many=True)


class AdminDkimCreateSerializer(serializers.Serializer):
    algorithm = serializers.ChoiceField(choices=("rsa", "ed25519"), default="rsa")


class AdminDkimActivateSerializer(serializers.Serializer):
    force = serializers.BooleanField(
        default=False,
        help_text="activate although the DNS check does not see the record (mail may fail DKIM)",
    )


class AdminDkimActivationSerializer(serializers.Serializer):
    key = AdminDkimKeySerializer()
    retired = serializers.ListField(
        child=serializers.CharField(), help_text="selectors that stopped signing"
    )
    forced = serializers.BooleanField()


class AdminDnsCheckSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=("mx", "spf", "dkim", "dmarc", "srv", "mta-sts", "tlsrpt")
    )
    status = serializers.ChoiceField(choices=("ok", "missing", "wrong", "error"))
    name = serializers.CharField()
    found = serializers.ListField(child=serializers.CharField())
    expected = serializers.CharField(help_text="what to publish, when not ok")
    detail = serializers.CharField(help_text="what is wrong, in English")
    reason = serializers.CharField(
        help_text="a stable code for detail (mx_missing, spf_duplicate, lookup_failed…), "
        "for clients to say it in the user's language; '' when there is no detail"
    )


class AdminDnsReportSerializer(serializers.Serializer):
    domain = serializers.CharField()
    hostname = serializers.CharField(help_text="this server's MAIL_HOSTNAME")
    ok = serializers.BooleanField(help_text="every check but srv (advisory) is ok")
    checks = AdminDnsCheckSerializer(many=True)


# --- accounts ------------------------------------------------------------------------------------


class AdminAccountQuerySerializer(AdminPageQuerySerializer):
    domain = serializers.CharField(required=False, allow_blank=True, max_length=253, default="")
    q = serializers.CharField(required=False, allow_blank=True, max_length=320, default="")
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class AdminAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    address = serializers.CharField()
    domain = serializers.CharField(source="domain.name")
    display_name = serializers.CharField()
    quota_bytes = serializers.IntegerField(help_text="0 = unlimited")
    used_bytes = serializers.IntegerField()
    is_active = serializers.BooleanField()
    is_superadmin = serializers.BooleanField(source="is_staff")
    admin_domains = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)
    second_factor_on = serializers.BooleanField()


class AdminAccountPageSerializer(serializers.Serializer):
    items = AdminAccountSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class AdminAccountCreateSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=320)
    password = serializers.CharField(
        required=False,
        min_length=8,
        max_length=1024,
        trim_whitespace=False,
        help_text="omit to have one generated (returned once in the response)",
    )
    display_name = serializers.CharField(
        required=False, allow_blank=True, max_length=200, default=""
    )
    quota_bytes = serializers.IntegerField(required=False, min_value=0, allow_null=True)
    is_active = serializers.BooleanField(required=False, default=True)


class AdminAccountCreatedSerializer(AdminAccountSerializer):
    password = serializers.CharField(
        allow_null=True, help_text="the generated password (only when none was given)"
    )


class AdminAccountUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    quota_bytes = serializers.IntegerField(required=False, min_value=0)
    is_active = serializers.BooleanField(required=False)
    is_superadmin = serializers.BooleanField(required=False, help_text="superadmin only")
    admin_domains = serializers.ListField(
        child=serializers.CharField(max_length=253),
        required=False,
        max_length=1000,
        help_text="superadmin only: exactly the domains this account administers",
    )


class AdminPasswordSetSerializer(serializers.Serializer):
    password = serializers.CharField(
        required=False,
        min_length=8,
        max_length=1024,
        trim_whitespace=False,
        help_text="the new password; omit to have one generated (reset)",
    )


class AdminPasswordResultSerializer(serializers.Serializer):
    password = serializers.CharField(
        allow_null=True, help_text="the generated password, or null when one was given"
    )


class AdminAppPasswordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_used_ip = serializers.CharField()


class AdminAppPasswordCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class AdminAppPasswordCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    password = serializers.CharField(help_text="'abcd efgh ijkl mnop': shown only this once")


class AdminAccountAliasCreateSerializer(serializers.Serializer):
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=320, help_text="the alias address to create"
    )


# --- aliases -------------------------------------------------------------------------------------


class AdminAliasQuerySerializer(AdminPageQuerySerializer):
    domain = serializers.CharField(required=False, allow_blank=True, max_length=253, default="")
    q = serializers.CharField(required=False, allow_blank=True, max_length=320, default="")


class AdminAliasSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField(help_text="'@domain' is the catch-all")  # type: ignore[assignment]
    domain = serializers.CharField(source="domain.name")
    targets = serializers.ListField(child=serializers.CharField())
    is_catchall = serializers.BooleanField()
    is_system = serializers.SerializerMethodField(help_text="root@, postmaster@, abuse@ …")
    external_targets = serializers.SerializerMethodField(help_text="targets outside our domains")
    created_at = serializers.DateTimeField()

    def get_is_system(self, alias: Any) -> bool:
        return bool(alias.source.partition("@")[0] in SYSTEM_LOCAL_PARTS)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_external_targets(self, alias: Any) -> list[str]:
        local = self.context.get("local_domains", set())
        return [t for t in alias.targets if t.rpartition("@")[2] not in local]


class AdminAliasPageSerializer(serializers.Serializer):
    items = AdminAliasSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class AdminAliasListSerializer(serializers.Serializer):
    items = AdminAliasSerializer(many=True)


class AdminAliasCreateSerializer(AdminTargetsSerializer):
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=320, help_text="address, or '@domain' (catch-all)"
    )


# --- relay rules ---------------------------------------------------------------------------------


class AdminRelayRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    network = serializers.CharField()
    sender_domain = serializers.CharField()
    recipient_domain = serializers.CharField()
    action = serializers.ChoiceField(choices=RelayAction.choices)
    comment = serializers.CharField()
    created_at = serializers.DateTimeField()


class AdminRelayRulePageSerializer(serializers.Serializer):
    items = AdminRelayRuleSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class AdminRelayRuleCreateSerializer(serializers.Serializer):
    network = serializers.CharField(max_length=50)
    action = serializers.ChoiceField(
        choices=[*RelayAction.values, *(a.lower() for a in RelayAction.values)]
    )
    sender_domain = serializers.CharField(
        required=False, allow_blank=True, max_length=254, default=""
    )
    recipient_domain = serializers.CharField(
        required=False, allow_blank=True, max_length=254, default=""
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    force = serializers.BooleanField(
        required=False, default=False, help_text="allow wider than /24 (IPv4) or /56 (IPv6)"
    )


# --- queue and delivery log ----------------------------------------------------------------------


class AdminQueueQuerySerializer(AdminPageQuerySerializer):
    queue_id = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    message_id = serializers.CharField(required=False, allow_blank=True, max_length=998, default="")
    sender = serializers.CharField(required=False, allow_blank=True, max_length=320, default="")
    recipient = serializers.CharField(required=False, allow_blank=True, max_length=320, default="")
    state = serializers.ChoiceField(
        choices=("", "pending", *EntryState.values), required=False, default=""
    )
    direction = serializers.ChoiceField(choices=("", *Direction.values), required=False, default="")
    since = serializers.DateTimeField(required=False, allow_null=True, default=None)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)


class AdminQueueRecipientSerializer(serializers.Serializer):
    address = serializers.CharField()
    state = serializers.ChoiceField(choices=RecipientState.choices)
    last_reply = serializers.CharField()
    updated_at = serializers.DateTimeField()


class AdminAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    result = serializers.CharField(help_text="'' while in progress")
    detail = serializers.CharField(help_text="the reply or error of this attempt")


class AdminQueueEntrySerializer(serializers.Serializer):
    queue_id = serializers.CharField()
    direction = serializers.ChoiceField(choices=Direction.choices)
    state = serializers.ChoiceField(choices=EntryState.choices)
    sender = serializers.CharField(help_text="'' = null sender (a bounce)")
    size = serializers.IntegerField()
    received_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField()
    scheduled = serializers.BooleanField(
        help_text="never tried and due later: a user's scheduled send or undo window "
        "(next_attempt_at is its time), not a deferral"
    )
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()
    client_ip = serializers.CharField(allow_null=True)
    message_id = serializers.CharField(help_text="the Message-ID header; '' when absent")
    origin = serializers.CharField()
    recipients = AdminQueueRecipientSerializer(many=True)
    attempt_log = AdminAttemptSerializer(many=True)


class AdminQueuePageSerializer(serializers.Serializer):
    items = AdminQueueEntrySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class AdminBounceResultSerializer(serializers.Serializer):
    bounced = serializers.IntegerField()


class AdminFlushResultSerializer(serializers.Serializer):
    flushed = serializers.IntegerField()


# --- dashboard and audit log ---------------------------------------------------------------------


class AdminDashboardQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(required=False, min_value=1, max_value=90, default=14)


class AdminDayTrafficSerializer(serializers.Serializer):
    date = serializers.DateField()
    inbound = serializers.IntegerField()
    outbound = serializers.IntegerField()


class AdminQueueSizeSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    held = serializers.IntegerField()
    deferred_recipients = serializers.IntegerField()
    paused = serializers.IntegerField(
        help_text="messages of held senders (containment), waiting for an administrator"
    )


class AdminDomainUsageSerializer(serializers.Serializer):
    name = serializers.CharField()
    accounts = serializers.IntegerField()
    used_bytes = serializers.IntegerField()


class AdminAccountUsageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    address = serializers.CharField()
    used_bytes = serializers.IntegerField()
    quota_bytes = serializers.IntegerField()


class AdminWarningSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=["postmaster_unrouted", "abuse_unrouted", "tls_expiring", "tls_expired"],
        help_text="postmaster_unrouted: postmaster@ is accepted (RFC 5321) but reaches nobody "
        "and waits in the queue; abuse_unrouted: mail to abuse@ is refused; tls_expiring / "
        "tls_expired: a listener's certificate ends within TLS_EXPIRY_WARNING_DAYS or has "
        "ended (superadmins only; `address` holds its names)",
    )
    address = serializers.CharField()
    domain = serializers.CharField()
    detail = serializers.CharField(help_text="what to do, in English")
    expires = serializers.DateTimeField(
        required=False, help_text="tls_*: when the certificate ends"
    )


class AdminDashboardSerializer(serializers.Serializer):
    traffic = AdminDayTrafficSerializer(many=True)
    queue = AdminQueueSizeSerializer()
    domains = AdminDomainUsageSerializer(many=True)
    top_accounts = AdminAccountUsageSerializer(many=True)
    warnings = AdminWarningSerializer(many=True)


class AdminAuditQuerySerializer(AdminPageQuerySerializer):
    actor = serializers.CharField(required=False, allow_blank=True, max_length=320, default="")
    action = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    target = serializers.CharField(required=False, allow_blank=True, max_length=400, default="")
    domain = serializers.CharField(required=False, allow_blank=True, max_length=253, default="")


class AdminAuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField()
    target = serializers.CharField()
    domain = serializers.CharField()
    ip = serializers.CharField()
    detail = serializers.DictField()


class AdminAuditPageSerializer(serializers.Serializer):
    items = AdminAuditEntrySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


# --- login history (로그인 기록) --------------------------------------------------------------


class AdminLoginQuerySerializer(AdminPageQuerySerializer):
    address = serializers.CharField(required=False, allow_blank=True, max_length=320, default="")
    ip = serializers.CharField(required=False, allow_blank=True, max_length=45, default="")
    door = serializers.ChoiceField(
        choices=["", *LoginRecord.Door.values], required=False, default=""
    )
    result = serializers.ChoiceField(
        choices=["", *LoginRecord.Result.values], required=False, default=""
    )


class LoginRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    address = serializers.CharField(help_text="the account, or the address tried if none")
    ip = serializers.CharField()
    door = serializers.ChoiceField(choices=LoginRecord.Door.choices)
    method = serializers.CharField(
        help_text="password, app_password, totp, passkey, recovery, or '' when not signed in"
    )
    result = serializers.ChoiceField(choices=LoginRecord.Result.choices)
    client = serializers.CharField(help_text="user agent, IMAP ID or EHLO name, as sent")
    reason = serializers.CharField(
        help_text="why a failure failed when not a wrong password: app_password_required (a "
        "mail door refusing the account password while 2단계 인증 is on), wrong_totp, "
        "wrong_passkey, wrong_recovery; else ''"
    )


class AdminLoginPageSerializer(serializers.Serializer):
    items = LoginRecordSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
