"""Settings → 2단계 인증: the authenticator app (TOTP), passkeys, recovery codes and turning it
all off. Views validate, call one mailcore.directory.twofactor function and answer; anything
that could lock the owner out or hand out new codes asks for the password again (counted by
the login limiter, like PasswordView)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from mailcore.directory import twofactor as tf
from mailcore.directory.models import Account
from mailcore.ratelimit import record_auth_failure, release_reservation, reserve_auth_attempt
from webmail.accounts.current import current_account
from webmail.accounts.twofactor import ENROL_FLAG, enrolment_required, origins, rp_id
from webmail.api import twofactor_serializers as s
from webmail.api.clientip import client_ip
from webmail.api.errors import LoginBlocked
from webmail.api.serializers import ErrorSerializer, ValidationErrorSerializer
from webmail.api.throttles import SharedRateThrottle

INVALID = OpenApiResponse(
    ValidationErrorSerializer,
    description="invalid input, wrong password (field password) or a refusal: wrong_code, "
    "totp_already_on, totp_not_started, passkey_refused, passkey_exists, challenge_expired, "
    "domain_requires_second_factor, second_factor_off",
)
BLOCKED = OpenApiResponse(ErrorSerializer, description="too_many_failures (login limiter)")


def _confirm_password(request: Request, password: str) -> Account:
    """The signed-in account if `password` is its password; a wrong one counts as a failed
    login for this client and account."""
    account = current_account(request)
    ip = client_ip(request)
    check = reserve_auth_attempt(ip, account.address, password)
    if not check.allowed:
        raise LoginBlocked(check.retry_after)
    if not account.check_password(password):
        record_auth_failure(ip, account.address, password, check.reservation)
        raise ValidationError({"password": ["Wrong password."]})
    release_reservation(check.reservation)
    return account


def _enrolled(request: Request) -> None:
    """A factor is in force: this browser may reach mail again."""
    if hasattr(request, "session"):
        request.session.pop(ENROL_FLAG, None)


def _status(request: Request) -> Response:
    account = current_account(request)
    account.refresh_from_db(fields=["second_factor_on"])
    st = tf.get_status(account)
    data = {
        "on": st.on,
        "totp": st.totp,
        "passkeys": st.passkeys,
        "recovery_codes_left": st.recovery_codes_left,
        "required_by_domain": st.required_by_domain,
        "enrolment_required": enrolment_required(request._request),
    }
    return Response(s.TwoFactorStatusSerializer(data).data)


class _Guarded(APIView):
    # Password and code checks here are guesses like a login's: limited the same way.
    throttle_scope = "login"

    def get_throttles(self) -> list[BaseThrottle]:
        return [SharedRateThrottle()] if self.request.method != "GET" else []


class TwoFactorView(_Guarded):
    @extend_schema(operation_id="settings_two_factor", responses={200: s.TwoFactorStatusSerializer})
    def get(self, request: Request) -> Response:
        return _status(request)

    @extend_schema(
        operation_id="settings_two_factor_off",
        request=s.TurnOffSerializer,
        responses={200: s.TwoFactorStatusSerializer, 400: INVALID, 429: BLOCKED},
        description="Turn 2단계 인증 off: the app, every passkey and the recovery codes go. "
        "Needs the password and a current TOTP or recovery code.",
    )
    def delete(self, request: Request) -> Response:
        body = s.TurnOffSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        account = _confirm_password(request, body.validated_data["password"])
        tf.do_turn_off(account, body.validated_data["code"])
        return _status(request)


class TotpView(_Guarded):
    @extend_schema(
        operation_id="settings_two_factor_totp_start",
        request=None,
        responses={201: s.TotpEnrolmentSerializer, 400: INVALID},
        description="Start setting up an authenticator app: a new secret and its QR code, in "
        "force only once PUT confirms it with a first code.",
    )
    def post(self, request: Request) -> Response:
        enrolment = tf.do_begin_totp(current_account(request))
        return Response(s.TotpEnrolmentSerializer(enrolment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="settings_two_factor_totp_confirm",
        request=s.CodeSerializer,
        responses={200: s.RecoveryCodesSerializer, 400: INVALID},
    )
    def put(self, request: Request) -> Response:
        body = s.CodeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        codes = tf.do_confirm_totp(current_account(request), body.validated_data["code"])
        _enrolled(request)
        return Response(s.RecoveryCodesSerializer({"recovery_codes": codes}).data)

    @extend_schema(
        operation_id="settings_two_factor_totp_remove",
        request=s.PasswordSerializer,
        responses={200: s.TwoFactorStatusSerializer, 400: INVALID, 429: BLOCKED},
    )
    def delete(self, request: Request) -> Response:
        body = s.PasswordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tf.do_remove_totp(_confirm_password(request, body.validated_data["password"]))
        return _status(request)


class PasskeyOptionsView(_Guarded):
    @extend_schema(
        operation_id="settings_two_factor_passkey_options",
        request=None,
        responses={200: s.PasskeyOptionsSerializer},
        description="Options for navigator.credentials.create (the registration ceremony) "
        "and a signed state to post back with its answer within 5 minutes.",
    )
    def post(self, request: Request) -> Response:
        options, state = tf.passkey_registration_options(current_account(request), rp_id(request))
        return Response(s.PasskeyOptionsSerializer({"options": options, "state": state}).data)


class PasskeyListView(_Guarded):
    @extend_schema(
        operation_id="settings_two_factor_passkey_add",
        request=s.PasskeyAddSerializer,
        responses={201: s.PasskeyAddedSerializer, 400: INVALID},
    )
    def post(self, request: Request) -> Response:
        body = s.PasskeyAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        passkey, codes = tf.do_add_passkey(
            current_account(request),
            name=v["name"],
            credential=v["credential"],
            state=v["state"],
            origins=origins(request),
        )
        _enrolled(request)
        return Response(
            s.PasskeyAddedSerializer({"passkey": passkey, "recovery_codes": codes}).data,
            status=status.HTTP_201_CREATED,
        )


class PasskeyDetailView(_Guarded):
    @extend_schema(
        operation_id="settings_two_factor_passkey_rename",
        request=s.PasskeyRenameSerializer,
        responses={200: s.PasskeySerializer, 400: INVALID},
    )
    def patch(self, request: Request, pk: int) -> Response:
        body = s.PasskeyRenameSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        passkey = tf.do_rename_passkey(current_account(request), pk, body.validated_data["name"])
        return Response(s.PasskeySerializer(passkey).data)

    @extend_schema(
        operation_id="settings_two_factor_passkey_remove",
        request=s.PasswordSerializer,
        responses={200: s.TwoFactorStatusSerializer, 400: INVALID, 429: BLOCKED},
        description="Remove a passkey (the password again: a borrowed session must not strip "
        "the account's factors).",
    )
    def delete(self, request: Request, pk: int) -> Response:
        body = s.PasswordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        tf.do_remove_passkey(_confirm_password(request, body.validated_data["password"]), pk)
        return _status(request)


class RecoveryCodesView(_Guarded):
    @extend_schema(
        operation_id="settings_two_factor_recovery_codes",
        request=s.PasswordSerializer,
        responses={200: s.RecoveryCodesSerializer, 400: INVALID, 429: BLOCKED},
        description="Ten new recovery codes, shown this once; the old ones stop working.",
    )
    def post(self, request: Request) -> Response:
        body = s.PasswordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        account = _confirm_password(request, body.validated_data["password"])
        with transaction.atomic():
            codes = tf.do_regenerate_recovery_codes(account)
        return Response(s.RecoveryCodesSerializer({"recovery_codes": codes}).data)
