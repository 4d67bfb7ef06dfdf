"""Input and output shapes of the compose endpoints (send, drafts, uploads, delivery state).

Validation only: addresses and header text are checked with mailcore.mime.build's own
functions, so the API refuses exactly what the builder would. Nothing here saves.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mailcore.errors import InvalidMessageError
from mailcore.mime.build import MAX_RECIPIENTS, Recipient, check_header_text, parse_recipient
from webmail.api.serializers import (
    IdField,
    MessageListItemSerializer,
    StrictBooleanField,
    StrictSerializer,
)

MAX_ATTACHMENTS = 100
PRIORITIES = ("high", "normal", "low")
COMPOSE_MODES = ("new", "reply", "reply_all", "forward")
DELIVERY_STATES = ("queued", "delivered", "deferred", "bounced")


@extend_schema_field(str)
class RecipientField(serializers.Field):
    """`alice@example.com` or `Alice Kim <alice@bücher.example>`; IDN domains become
    A-labels, UTF-8 local parts are allowed (the message then needs SMTPUTF8)."""

    def to_internal_value(self, data: Any) -> Recipient:
        if not isinstance(data, str):
            raise serializers.ValidationError("Expected an address string.")
        try:
            return parse_recipient(data)
        except InvalidMessageError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value: Recipient) -> str:
        return value.address


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that names its zone (offset or Z): a bare local time is refused, as
    the server cannot know which zone the user meant."""

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str) and not (
            value.endswith(("Z", "z")) or "+" in value[10:] or "-" in value[10:]
        ):
            raise serializers.ValidationError("Give the time with its zone (e.g. +09:00 or Z).")
        return super().to_internal_value(value)


def _recipients(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=RecipientField(), max_length=MAX_RECIPIENTS, **kwargs)


class HeaderTextField(serializers.CharField):
    """Text that goes into a header: CR, LF and other controls are refused (security.md W11)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 998)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data))
        try:
            return check_header_text(value, self.field_name or "")
        except InvalidMessageError as exc:
            raise serializers.ValidationError(str(exc)) from exc


def _body(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False, **kwargs
    )


def _indexes(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=10000),
        required=False,
        max_length=MAX_ATTACHMENTS,
        help_text=help_text,
    )


class DraftInputSerializer(StrictSerializer):
    from_address = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=320,
        help_text="send as this address: one of GET /api/v1/auth/session `addresses` (your "
        "own or an alias that delivers to you); omitted: your own address",
    )
    to = _recipients(
        required=False,
        help_text="omit on a reply to answer the original's "
        "sender (reply_all: and its other recipients)",
    )
    cc = _recipients(required=False)
    bcc = _recipients(
        required=False,
        default=list,
        help_text="kept in your Sent copy, never shown to other recipients",
    )
    reply_to = _recipients(required=False, default=list)
    to_groups = serializers.ListField(
        child=IdField(),
        required=False,
        default=list,
        max_length=50,
        help_text="ids of your contact groups, expanded to their members' first addresses",
    )
    cc_groups = serializers.ListField(child=IdField(), required=False, default=list, max_length=50)
    bcc_groups = serializers.ListField(child=IdField(), required=False, default=list, max_length=50)
    subject = HeaderTextField(
        required=False,
        help_text="omit on a reply or forward for 'Re: …' / 'Fwd: …' of the original subject",
    )
    text = _body(help_text="text/plain body")
    html = _body(
        help_text="HTML body; sent as multipart/alternative with text (derived "
        "from the HTML when text is empty)"
    )
    attachments = serializers.ListField(
        child=IdField(),
        required=False,
        default=list,
        max_length=MAX_ATTACHMENTS,
        help_text="ids from POST /api/v1/uploads",
    )
    draft_attachments = _indexes(
        "attachments of the draft (draft_id, or the draft being "
        "replaced) to keep, by index; omitted: all of them"
    )
    forward_attachments = _indexes(
        "attachments of the original to forward, by index; omitted: all of them (mode forward)"
    )
    priority = serializers.ChoiceField(choices=PRIORITIES, required=False, default="normal")
    mode = serializers.ChoiceField(choices=COMPOSE_MODES, required=False, default="new")
    in_reply_to_message = IdField(
        required=False, allow_null=True, help_text="id of the stored message answered or forwarded"
    )
    quote = StrictBooleanField(
        required=False,
        default=False,
        help_text="append the quoted original (reply) or the "
        "forwarded text (forward) below your text",
    )
    request_receipt = StrictBooleanField(
        required=False,
        default=False,
        help_text="ask for a read receipt (MDN, RFC 8098 Disposition-Notification-To): "
        "remote recipients' mail programs may answer; local read times are known anyway",
    )


class SendInputSerializer(DraftInputSerializer):
    draft_id = IdField(
        required=False,
        allow_null=True,
        help_text="the draft this message was written in: removed once sent",
    )
    to_me = StrictBooleanField(
        required=False,
        default=False,
        help_text='"write to myself": stored only in the To me folder, nothing is sent',
    )
    send_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="예약발송: an absolute time with its zone (ISO 8601). The Sent copy is stored "
        "now; the message goes at that time (GET /api/v1/outbox lists what waits). At most "
        "OUTBOX_MAX_SCHEDULE_DAYS ahead and OUTBOX_MAX_SCHEDULED waiting per account.",
    )
    large_files = serializers.ListField(
        child=serializers.RegexField(r"^[0-9a-f]{32}$"),
        required=False,
        default=list,
        max_length=MAX_ATTACHMENTS,
        help_text="대용량 첨부: upload ids of finished large files (POST /api/v1/largefiles/"
        "uploads …/finish). The message carries a link block (name, size, expiry, link) in its "
        "text and HTML parts instead of the bytes; the files become this message's.",
    )
    undo = StrictBooleanField(
        required=False,
        default=False,
        help_text="hold the message for your undo window (GET /api/v1/outbox/settings "
        "undo_seconds) so that DELETE /api/v1/outbox/{id} can still take it back; the webmail "
        "sets it, apps that show no undo button leave it off",
    )


class OutboxRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="the outbox item: GET/PATCH/DELETE /api/v1/outbox/{id}")
    send_at = serializers.DateTimeField(
        help_text="when it goes: the scheduled time, or the end of the undo window"
    )
    scheduled = serializers.BooleanField()


class UploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="the attachment (multipart/form-data)")


class UploadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()


class ComposeLimitsSerializer(serializers.Serializer):
    max_upload_bytes = serializers.IntegerField(help_text="one file; larger uploads get 413")
    max_attachments_bytes = serializers.IntegerField(
        help_text="all attachments of one message together (their own size): what fits in "
        "max_message_bytes after base64; more is refused with 400 (field attachments)"
    )
    max_message_bytes = serializers.IntegerField(
        help_text="the whole message after MIME encoding (SMTP_MAX_MESSAGE_BYTES by default)"
    )


class SendResultSerializer(serializers.Serializer):
    message = MessageListItemSerializer(help_text="your Sent copy (or the To me message)")
    queue_ids = serializers.ListField(
        child=serializers.CharField(), help_text="queue entries created (empty for to_me)"
    )
    outbox = OutboxRefSerializer(allow_null=True, help_text="null for to_me")
    held = serializers.SerializerMethodField(
        help_text="your sending is held (containment): accepted and kept, but it leaves only "
        "once an administrator releases your account (GET sending-status)"
    )

    def get_held(self, obj: Any) -> bool:
        from mailcore.delivery.containment import any_paused

        return any_paused(list(obj.queue_ids))


class DraftAttachmentSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()


class DraftFieldsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_address = serializers.CharField(help_text="the address the draft is written from")
    to = serializers.ListField(child=serializers.CharField())
    cc = serializers.ListField(child=serializers.CharField())
    bcc = serializers.ListField(child=serializers.CharField())
    reply_to = serializers.ListField(child=serializers.CharField())
    subject = serializers.CharField()
    text = serializers.CharField()
    html = serializers.CharField(allow_null=True, help_text="sanitized HTML")
    priority = serializers.ChoiceField(choices=PRIORITIES)
    mode = serializers.ChoiceField(choices=COMPOSE_MODES)
    in_reply_to_message = serializers.IntegerField(allow_null=True)
    draft_attachments = DraftAttachmentSerializer(many=True)
    request_receipt = serializers.BooleanField(help_text="the draft asks for a read receipt")


class RecipientDeliverySerializer(serializers.Serializer):
    address = serializers.CharField()
    state = serializers.ChoiceField(choices=DELIVERY_STATES)
    last_reply = serializers.CharField(help_text="the last SMTP reply or delivery note")
    updated_at = serializers.DateTimeField()


class DeliveryReportSerializer(serializers.Serializer):
    recipients = RecipientDeliverySerializer(many=True)
