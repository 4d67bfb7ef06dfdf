"""Request validation and response shapes of the API (and so of its OpenAPI schema).

Serializers here never save: no create()/update(), no queries. Views pass validated data to a
mailcore action and hand the result back to an output serializer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mailcore.directory.models import Account
from mailcore.inbound.queries import SenderTrust
from mailcore.store.models import Message, SpecialUse
from mailcore.store.queries import ConversationSummary, MessageFilters

MAX_BULK_IDS = 1000
_MAX_DB_INT = 2**63 - 1  # bigint: larger ids cannot exist, and PostgreSQL would refuse them
FLAG_NAMES = ("seen", "answered", "flagged", "deleted", "draft")


# --- strict input fields ----------------------------------------------------------------------


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only: DRF's BooleanField also takes "yes", "0", 1, which a public
    contract should not promise to keep accepting."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class IdField(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", _MAX_DB_INT)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        # bool is an int in Python; {"folder": true} must not mean folder 1.
        if isinstance(data, bool):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class IdListField(serializers.ListField):
    """A non-empty list of at most MAX_BULK_IDS ids, length checked before any item is."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=IdField(), allow_empty=False, max_length=MAX_BULK_IDS, **kwargs)

    def to_internal_value(self, data: Any) -> list[int]:
        # ListField validates every item before max_length; a 10^6-item body would be walked
        # in full first (security.md W15).
        if isinstance(data, list) and len(data) > MAX_BULK_IDS:
            self.fail("max_length", max_length=MAX_BULK_IDS)
        return list(dict.fromkeys(super().to_internal_value(data)))


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not declare: a typo ("flaged") must not silently do nothing."""

    def validate(self, attrs: Any) -> Any:
        if isinstance(self.initial_data, Mapping):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


# --- errors -----------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="machine-readable code, e.g. not_found")
    detail = serializers.CharField(
        help_text="explanation in English, for logs and scripts; clients show their own "
        "text for `error`"
    )
    limit = serializers.IntegerField(
        required=False,
        help_text="the limit that was reached: messages a day (daily_limit), recipients "
        "(too_many_recipients) or bytes (message_too_large, attachments_too_large)",
    )
    size = serializers.IntegerField(
        required=False,
        help_text="bytes the message or its attachments would take (message_too_large, "
        "attachments_too_large)",
    )


class ValidationErrorSerializer(ErrorSerializer):
    # Declared fields are popped off the class by DRF's metaclass, so this does not shadow
    # Serializer.fields. Values are lists of messages, or nested objects for list items.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        required=False,
        help_text='messages per field, e.g. {"name": ["This field is required."]}',
    )
    field_codes = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text='the same tree with stable codes, e.g. {"new_password": ["password_too_common"]}',
    )


# --- auth -------------------------------------------------------------------------------------


class LoginSerializer(StrictSerializer):
    address = serializers.CharField(max_length=320)
    # Passwords are compared as typed: no trimming. verify_credentials caps the length.
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class SessionUserSerializer(serializers.Serializer):
    address = serializers.CharField()
    display_name = serializers.CharField()
    # For the app to show the admin console link (webmail.adminconsole enforces the roles).
    is_superadmin = serializers.BooleanField(source="is_staff")
    admin_domains = serializers.SerializerMethodField()
    addresses = serializers.SerializerMethodField(
        help_text="the addresses this account sends as: its own first, then its aliases"
    )
    second_factor_enrolment_required = serializers.SerializerMethodField(
        help_text="this browser must enrol a second factor (its domain requires one) before "
        "anything but Settings → 2단계 인증 answers"
    )

    def get_second_factor_enrolment_required(self, account: Account) -> bool:
        from webmail.accounts.twofactor import enrolment_required

        request = self.context.get("request")
        return request is not None and enrolment_required(request)

    def get_admin_domains(self, account: Account) -> list[str]:
        from mailcore.directory.queries import list_admin_domains

        return list_admin_domains(account)

    def get_addresses(self, account: Account) -> list[str]:
        from mailcore.directory.queries import sending_addresses

        return sending_addresses(account)


# --- folders ----------------------------------------------------------------------------------


class FolderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    special_use = serializers.ChoiceField(choices=SpecialUse.choices)
    uidvalidity = serializers.IntegerField()
    uidnext = serializers.IntegerField()


class FolderWithCountsSerializer(FolderSerializer):
    total = serializers.IntegerField(help_text="messages in the folder")
    unread = serializers.IntegerField(help_text="messages without the seen flag")


class FolderListSerializer(serializers.Serializer):
    results = FolderWithCountsSerializer(many=True)


class FolderNameSerializer(StrictSerializer):
    name = serializers.CharField(max_length=500, help_text="'/' separates levels")


# --- messages: output -------------------------------------------------------------------------


class AddressSerializer(serializers.Serializer):
    name = serializers.CharField()
    address = serializers.CharField()


@extend_schema_field(AddressSerializer(many=True))
class AddressPairsField(serializers.ReadOnlyField):
    """The index stores recipients as [[name, addr], …]; clients get objects."""

    def to_representation(self, value: Any) -> list[dict[str, str]]:
        return [{"name": str(name), "address": str(addr)} for name, addr in value]


@extend_schema_field(AddressSerializer)
class FromField(serializers.ReadOnlyField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", **kwargs)

    def to_representation(self, value: Message) -> dict[str, str]:
        return {"name": value.from_name, "address": value.from_addr}


@extend_schema_field(OpenApiTypes.DATETIME)
class DisplayDateField(serializers.ReadOnlyField):
    """The Date: header when it parsed, else the arrival time: what a list should sort by."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", **kwargs)

    def to_representation(self, value: Message) -> str:
        when = value.sent_date or value.internal_date
        return str(serializers.DateTimeField().to_representation(when))


class FlagsSerializer(serializers.Serializer):
    seen = serializers.BooleanField()
    answered = serializers.BooleanField()
    flagged = serializers.BooleanField()
    deleted = serializers.BooleanField()
    draft = serializers.BooleanField()


class ConversationSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    count = serializers.IntegerField(help_text="messages in every folder but Trash and Junk")
    unread = serializers.IntegerField()
    newest_date = serializers.DateTimeField(help_text="the latest arrival among them")


_DATETIME = serializers.DateTimeField()


class ConversationField(serializers.ReadOnlyField):
    """The summary a grouped listing put on the row (attribute conversation_summary), else
    null."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", allow_null=True, **kwargs)

    def to_representation(self, value: Message) -> dict[str, Any] | None:
        return _conversation(value)


def _conversation(value: Message) -> dict[str, Any] | None:
    summary: ConversationSummary | None = getattr(value, "conversation_summary", None)
    if summary is None:
        return None
    # Built by hand: a serializer instance per row costs more than the row's query did.
    return {
        "id": summary.id,
        "count": summary.count,
        "unread": summary.unread,
        "newest_date": _DATETIME.to_representation(summary.newest_date),
    }


class MessageListItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    folder = serializers.IntegerField(source="folder_id")
    uid = serializers.IntegerField()
    subject = serializers.CharField()
    from_ = FromField()
    to = AddressPairsField(source="to_addrs")
    cc = AddressPairsField(source="cc_addrs")
    date = DisplayDateField()
    internal_date = serializers.DateTimeField()
    size = serializers.IntegerField()
    snippet = serializers.CharField()
    has_attachments = serializers.BooleanField()
    flags = FlagsSerializer(source="*")
    keywords = serializers.ListField(child=serializers.CharField())
    conversation_id = serializers.IntegerField(help_text="GET conversations/{conversation_id}")
    conversation = extend_schema_field(ConversationSummarySerializer(allow_null=True))(
        ConversationField
    )(help_text="only in lists asked with group=conversation; null elsewhere")

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword, so the field is declared as from_ and renamed here,
        # keeping its place in the output order.
        return {
            ("from" if name == "from_" else name): field
            for name, field in super().get_fields().items()
        }


def message_list_item(m: Message) -> dict[str, Any]:
    """MessageListItemSerializer(m).data built by hand, for the folder listing: the same keys
    in the same order and the same values (tests/api check it against the serializer), at
    a fraction of the cost of a field object per value of 50 rows (issue 17 item 4)."""

    def pairs(value: Any) -> list[dict[str, str]] | None:
        if value is None:
            return None
        return [{"name": str(name), "address": str(addr)} for name, addr in value]

    return {
        "id": m.pk,
        "folder": m.folder_id,
        "uid": m.uid,
        "subject": m.subject,
        "from": {"name": m.from_name, "address": m.from_addr},
        "to": pairs(m.to_addrs),
        "cc": pairs(m.cc_addrs),
        "date": str(_DATETIME.to_representation(m.sent_date or m.internal_date)),
        "internal_date": _DATETIME.to_representation(m.internal_date),
        "size": m.size,
        "snippet": m.snippet,
        "has_attachments": m.has_attachments,
        "flags": {
            "seen": m.seen,
            "answered": m.answered,
            "flagged": m.flagged,
            "deleted": m.deleted,
            "draft": m.draft,
        },
        "keywords": None
        if m.keywords is None
        else [None if k is None else str(k) for k in m.keywords],
        "conversation_id": m.conversation_id,
        "conversation": _conversation(m),
    }


class MessagePageSerializer(serializers.Serializer):
    results = MessageListItemSerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="pass as ?cursor= for the next page; null at the end"
    )


class MessageResultsSerializer(serializers.Serializer):
    results = MessageListItemSerializer(many=True)


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    index: int
    filename: str
    content_type: str
    size: int
    inline: bool
    content_id: str
    url: str


class AttachmentSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    filename = serializers.CharField(help_text="display name; bidi and control characters removed")
    content_type = serializers.CharField()
    size = serializers.IntegerField(help_text="decoded size in bytes")
    inline = serializers.BooleanField()
    content_id = serializers.CharField()
    url = serializers.CharField(help_text="download path on this server")


@dataclass(frozen=True, slots=True)
class MessageDetail:
    """One message as the detail endpoint shows it: the index row plus the parsed body.

    Attribute lookups it does not define fall through to the row, so the listing fields of
    MessageDetailSerializer read exactly as they do for a Message; subject, sender and
    recipients come whole from the parsed file (the row's copies are cut to their columns).
    """

    message: Message
    subject: str
    from_name: str
    from_addr: str
    to_addrs: list[list[str]]
    cc_addrs: list[list[str]]
    reply_to: list[list[str]]
    text: str
    html: str | None
    remote_images_blocked: int
    attachments: list[AttachmentInfo]
    body_url: str = ""
    remote_images_allowed: bool = False
    trust: SenderTrust | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.message, name)


class SenderTrustSerializer(serializers.Serializer):
    spf = serializers.CharField(help_text="SPF result at delivery; '' = not examined")
    dkim = serializers.CharField(
        help_text="best DKIM result over all signatures; '' = not examined"
    )
    dmarc = serializers.CharField(help_text="DMARC result for the From domain; '' = not examined")
    spam_score = serializers.FloatField(
        allow_null=True, help_text="rspamd score; null = not scanned"
    )
    spam_unscanned = serializers.BooleanField(help_text="the spam filter did not answer")
    verified = serializers.BooleanField(help_text="DMARC pass: show the verified-sender mark")
    lookalike = serializers.CharField(help_text="our domain the From domain imitates, or ''")
    warnings = serializers.ListField(
        child=serializers.ChoiceField(
            choices=["dmarc_fail", "lookalike_domain", "display_name_address", "spam_unscanned"]
        )
    )


class MessageDetailSerializer(MessageListItemSerializer):
    message_id = serializers.CharField()
    in_reply_to = serializers.CharField()
    references = serializers.SerializerMethodField()
    reply_to = AddressPairsField()
    text = serializers.CharField(help_text="the text/plain body (or text derived from HTML)")
    html = serializers.CharField(
        allow_null=True, help_text="sanitized HTML; show it in a sandboxed iframe"
    )
    remote_images_blocked = serializers.IntegerField(
        help_text="remote images removed from html; ask again with ?remote_images=1 to load them"
    )
    attachments = AttachmentSerializer(many=True)
    body_url = serializers.CharField(
        help_text="the body as a sanitized HTML document for a sandboxed iframe"
    )
    remote_images_allowed = serializers.BooleanField(
        help_text="remote images load without asking (policy 'always', or a trusted sender)"
    )
    trust = SenderTrustSerializer(help_text="sender authentication and spam verdict (issue 13)")

    def get_references(self, obj: MessageDetail) -> list[str]:
        return obj.message.references.split()


# --- messages: input --------------------------------------------------------------------------


class MessageListQuerySerializer(serializers.Serializer):
    # Query strings stay lenient about extra keys (cache busters, ?format=); bodies do not.
    limit = serializers.IntegerField(
        required=False, min_value=1, help_text="page size; larger values are capped"
    )
    cursor = serializers.CharField(
        required=False,
        max_length=64,
        trim_whitespace=False,
        help_text="next_cursor of the previous page",
    )
    group = serializers.ChoiceField(
        choices=["conversation"],
        required=False,
        help_text="conversation: one row per conversation (its newest message in the folder)",
    )

    unread = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only unread messages; false: only read ones",
    )
    flagged = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only starred (flagged) messages; false: only unstarred ones",
    )
    has_attachments = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only messages with attachments; false: only those without",
    )

    def validate_limit(self, value: int) -> int:
        # Capped rather than refused: a client asking for "as many as you allow" gets a page.
        return min(value, settings.API_MAX_PAGE_SIZE)


def message_filters(data: Mapping[str, Any]) -> MessageFilters:
    """The unread/flagged/has_attachments narrowing of validated list or search parameters."""
    return MessageFilters(
        unread=data.get("unread"),
        flagged=data.get("flagged"),
        has_attachments=data.get("has_attachments"),
    )


class MessageDetailQuerySerializer(serializers.Serializer):
    # A query string has no JSON booleans: "1"/"true" are what a link can carry.
    remote_images = serializers.BooleanField(
        required=False, default=False, help_text="1 loads remote images in html"
    )


class MessagePatchSerializer(StrictSerializer):
    seen = StrictBooleanField(required=False)
    answered = StrictBooleanField(required=False)
    flagged = StrictBooleanField(required=False)
    draft = StrictBooleanField(required=False)
    folder = IdField(required=False, help_text="move the message into this folder")


class BulkIdsSerializer(StrictSerializer):
    ids = IdListField(help_text=f"message ids, at most {MAX_BULK_IDS}")


class BulkMoveSerializer(BulkIdsSerializer):
    folder = IdField()


class FlagNameField(serializers.ChoiceField):
    # Schema: one enum component "FlagNameEnum" (SPECTACULAR_SETTINGS.ENUM_NAME_OVERRIDES)
    # instead of AddEnum and RemoveEnum for the same set.
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=FLAG_NAMES, **kwargs)


class BulkFlagsSerializer(BulkIdsSerializer):
    add = serializers.ListField(
        child=FlagNameField(), required=False, default=list, max_length=len(FLAG_NAMES)
    )
    remove = serializers.ListField(
        child=FlagNameField(), required=False, default=list, max_length=len(FLAG_NAMES)
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        both = set(attrs["add"]) & set(attrs["remove"])
        if both:
            raise serializers.ValidationError(
                f"flag(s) both added and removed: {', '.join(sorted(both))}"
            )
        return attrs


class DeleteResultSerializer(serializers.Serializer):
    trashed = serializers.IntegerField(help_text="moved to Trash")
    expunged = serializers.IntegerField(help_text="removed for good (they were in Trash)")
