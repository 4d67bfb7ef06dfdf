"""Shapes of the account endpoints (settings, password, trusted image senders, app passwords).

Validation and shape only: no saving, no queries. The password serializer checks the current
password against the account it is given (a hash comparison, not a query).
"""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.fields import get_error_detail

from mailcore.directory import passwords
from webmail.accounts.models import (
    PAGE_SIZES,
    LanguageChoice,
    ListDensity,
    ReadingMode,
    RemoteImages,
)
from webmail.api.serializers import StrictBooleanField, StrictSerializer

MAX_SIGNATURE_CHARS = 10_000  # Gmail's signature limit
MAX_DISPLAY_NAME_CHARS = 200
MAX_PASSWORD_CHARS = passwords.MAX_PASSWORD_CHARS  # verify_credentials refuses longer ones


@functools.cache
def known_time_zones() -> frozenset[str]:
    """The IANA names this Python knows (the system's tzdata, else the tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


class SettingsSerializer(serializers.Serializer):
    display_name = serializers.CharField(help_text="shown in From: of mail you send")
    signature_html = serializers.CharField(help_text="sanitized HTML")
    signature_text = serializers.CharField()
    language = serializers.ChoiceField(
        choices=LanguageChoice.values, help_text='"" follows the browser'
    )
    page_size = serializers.ChoiceField(choices=PAGE_SIZES)
    remote_images = serializers.ChoiceField(
        choices=RemoteImages.values,
        help_text="ask: only trusted senders' remote images load by themselves; always: every "
        "message's; never: none by themselves (?images=1 still loads them on request)",
    )
    list_density = serializers.ChoiceField(
        choices=ListDensity.values,
        help_text="compact: one line per message; comfortable: sender, subject and preview",
    )
    reading_mode = serializers.ChoiceField(
        choices=ReadingMode.values,
        help_text="split: the list beside the open message; list: a message opens full width",
    )
    group_by_conversation = serializers.BooleanField(
        help_text="lists show one row per conversation (folders/{id}/messages?group=conversation)"
    )
    contacts_auto_add = serializers.BooleanField(
        help_text="people you write to (and reply to) are added to the address book"
    )
    time_zone = serializers.CharField(
        help_text="IANA time zone for the times shown and the scheduled-send picker, e.g. "
        '"Asia/Seoul"; "" follows the browser'
    )
    address = serializers.CharField(help_text="your address (read only)")
    aliases = serializers.ListField(
        child=serializers.CharField(),
        help_text="the aliases that deliver to you, which you may also send from (read only; "
        "an administrator manages them)",
    )


class SettingsPatchSerializer(StrictSerializer):
    display_name = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_DISPLAY_NAME_CHARS
    )
    signature_html = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_SIGNATURE_CHARS, trim_whitespace=False
    )
    signature_text = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_SIGNATURE_CHARS, trim_whitespace=False
    )
    language = serializers.ChoiceField(required=False, choices=LanguageChoice.values)
    page_size = serializers.ChoiceField(required=False, choices=PAGE_SIZES)
    remote_images = serializers.ChoiceField(required=False, choices=RemoteImages.values)
    list_density = serializers.ChoiceField(required=False, choices=ListDensity.values)
    reading_mode = serializers.ChoiceField(required=False, choices=ReadingMode.values)
    group_by_conversation = StrictBooleanField(required=False)
    contacts_auto_add = StrictBooleanField(required=False)
    time_zone = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def validate_time_zone(self, value: str) -> str:
        if value and value not in known_time_zones():
            raise serializers.ValidationError(
                "Not a known time zone (an IANA name such as Asia/Seoul)."
            )
        return value

    def validate_page_size(self, value: Any) -> int:
        # ChoiceField would also take "25" or 25.0; the stored value is an int either way.
        return int(value)


class PasswordChangeSerializer(StrictSerializer):
    current_password = serializers.CharField(max_length=MAX_PASSWORD_CHARS, trim_whitespace=False)
    new_password = serializers.CharField(max_length=MAX_PASSWORD_CHARS, trim_whitespace=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        account = self.context["account"]
        if not account.check_password(attrs["current_password"]):
            raise serializers.ValidationError({"current_password": ["Wrong password."]})
        try:
            password_validation.validate_password(attrs["new_password"], user=account)
        except DjangoValidationError as exc:
            # With each message's code (password_too_common…), for forms that show their own text.
            raise serializers.ValidationError({"new_password": get_error_detail(exc)}) from exc
        return attrs


class ImageSenderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    address = serializers.CharField()


class ImageSenderCreateSerializer(StrictSerializer):
    address = serializers.CharField(max_length=320)


class _EmptyAsNullField(serializers.CharField):
    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) if value else None


class AppPasswordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="null: never used")
    last_used_ip = _EmptyAsNullField(allow_null=True, help_text="null: never used")


class AppPasswordCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)


class AppPasswordCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    password = serializers.CharField(
        help_text="the secret, shown only now; spaces in it are optional when signing in"
    )


class PasswordPolicySerializer(serializers.Serializer):
    min_length = serializers.IntegerField()
    max_length = serializers.IntegerField()
    common_list = serializers.BooleanField(help_text="common passwords are refused")
    breached_list_entries = serializers.IntegerField(
        help_text="size of the admin's breached-password list (0: none imported)"
    )


class ActiveSessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    current = serializers.BooleanField(help_text="the session making this request")
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True, help_text="to about 5 minutes")
    ip = serializers.CharField()
    user_agent = serializers.CharField()
    browser = serializers.CharField(help_text="e.g. 'Chrome on Windows'")


class ApiTokenSessionSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    ip = serializers.CharField()
    user_agent = serializers.CharField()
    browser = serializers.CharField()


class ActiveSessionsSerializer(serializers.Serializer):
    sessions = ActiveSessionSerializer(many=True)
    token = ApiTokenSessionSerializer(
        allow_null=True, help_text="the account's API token (one, shared by its apps), if any"
    )
