"""Shapes of the 2단계 인증 API (webmail.api.twofactor and the login's second step): input
validation and output only."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webmail.api.serializers import StrictSerializer


class SecondFactorChallengeSerializer(serializers.Serializer):
    second_factor_required = serializers.SerializerMethodField()
    challenge = serializers.CharField(source="token", help_text="signed, valid 5 minutes")
    methods = serializers.ListField(
        child=serializers.ChoiceField(choices=["totp", "passkey", "recovery"])
    )
    passkey_options = serializers.JSONField(
        allow_null=True,
        help_text="PublicKeyCredentialRequestOptions (JSON, base64url) for "
        "navigator.credentials.get, when the account has passkeys",
    )

    def get_second_factor_required(self, _: Any) -> bool:
        return True


class SecondFactorLoginSerializer(StrictSerializer):
    """Exactly one of code, recovery_code, credential."""

    challenge = serializers.CharField(max_length=4096)
    code = serializers.CharField(max_length=16, required=False, help_text="6 digits")
    recovery_code = serializers.CharField(max_length=40, required=False)
    credential = serializers.JSONField(
        required=False, help_text="the PublicKeyCredential of navigator.credentials.get, as JSON"
    )

    def validate(self, attrs: Any) -> Any:
        attrs = super().validate(attrs)
        given = [k for k in ("code", "recovery_code", "credential") if attrs.get(k)]
        if len(given) != 1:
            raise serializers.ValidationError(
                "Give exactly one of code, recovery_code, credential."
            )
        if "credential" in attrs and not isinstance(attrs["credential"], dict):
            raise serializers.ValidationError({"credential": ["Expected an object."]})
        return attrs


class PasskeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    attestation_format = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class TwoFactorStatusSerializer(serializers.Serializer):
    on = serializers.BooleanField()
    totp = serializers.BooleanField()
    passkeys = PasskeySerializer(many=True)
    recovery_codes_left = serializers.IntegerField()
    required_by_domain = serializers.BooleanField()
    enrolment_required = serializers.BooleanField(
        help_text="this browser must enrol a factor before reaching mail"
    )


class TotpEnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="base32, for apps that cannot scan")
    uri = serializers.CharField(help_text="otpauth://totp/…")
    qr_svg = serializers.CharField(help_text="the QR code of uri, inline SVG")


class CodeSerializer(StrictSerializer):
    code = serializers.CharField(max_length=16)


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(),
        help_text="shown once: new codes when this enrolment turned 2단계 인증 on, else empty",
    )


class PasswordSerializer(StrictSerializer):
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class TurnOffSerializer(PasswordSerializer):
    code = serializers.CharField(max_length=40, help_text="a current TOTP or recovery code")


class PasskeyOptionsSerializer(serializers.Serializer):
    options = serializers.JSONField(help_text="PublicKeyCredentialCreationOptions (JSON)")
    state = serializers.CharField(help_text="signed; send back with the credential")


class PasskeyAddSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, allow_blank=True)
    state = serializers.CharField(max_length=4096)
    credential = serializers.JSONField(help_text="the PublicKeyCredential of create(), as JSON")

    def validate_credential(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected an object.")
        return value


class PasskeyAddedSerializer(RecoveryCodesSerializer):
    passkey = PasskeySerializer()


class PasskeyRenameSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
