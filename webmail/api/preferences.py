"""Account endpoints of the API: settings, password change, sign out everywhere, trusted image
senders and app passwords.

Views parse, call one webmail.accounts or mailcore.directory action/query, and serialize.
Every id is looked up within the signed-in account, so another user's id is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from mailcore.contacts.actions import do_set_auto_add
from mailcore.contacts.queries import contact_settings
from mailcore.directory import passwords
from mailcore.directory.actions import do_create_app_password, do_revoke_app_password
from mailcore.directory.logins import login_history
from mailcore.directory.models import Account
from mailcore.directory.newdevice import browser_of
from mailcore.directory.queries import list_app_passwords, sending_addresses
from mailcore.errors import NotFoundError
from mailcore.ratelimit import record_auth_failure, release_reservation, reserve_auth_attempt
from webmail.accounts.actions import (
    do_change_password,
    do_logout_everywhere,
    do_trust_image_sender,
    do_untrust_image_sender,
    do_update_settings,
)
from webmail.accounts.current import current_account
from webmail.accounts.queries import get_preferences, list_trusted_senders
from webmail.accounts.sessions import (
    active_sessions,
    end_session,
    keep_current_session,
    revoke_tokens,
)
from webmail.adminconsole.base import keyset_page
from webmail.adminconsole.serializers import AdminLoginPageSerializer, AdminPageQuerySerializer
from webmail.api.account_serializers import (
    ActiveSessionsSerializer,
    AppPasswordCreatedSerializer,
    AppPasswordCreateSerializer,
    AppPasswordSerializer,
    ImageSenderCreateSerializer,
    ImageSenderSerializer,
    PasswordChangeSerializer,
    PasswordPolicySerializer,
    SettingsPatchSerializer,
    SettingsSerializer,
)
from webmail.api.clientip import client_ip
from webmail.api.errors import LoginBlocked
from webmail.api.serializers import ErrorSerializer, ValidationErrorSerializer
from webmail.api.throttles import SharedRateThrottle

INVALID = OpenApiResponse(ValidationErrorSerializer, description="invalid input")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="no such id (or not yours)")
CONFLICT = OpenApiResponse(ErrorSerializer, description="conflict: a limit or a duplicate name")


def _settings_data(account: Account) -> dict[str, object]:
    prefs = get_preferences(account)
    return SettingsSerializer(
        {
            "display_name": account.display_name,
            "signature_html": prefs.signature_html,
            "signature_text": prefs.signature_text,
            "language": prefs.language,
            "page_size": prefs.page_size,
            "remote_images": prefs.remote_images,
            "list_density": prefs.list_density,
            "reading_mode": prefs.reading_mode,
            "group_by_conversation": prefs.group_by_conversation,
            "contacts_auto_add": contact_settings(account).auto_add,
            "time_zone": prefs.time_zone,
            "address": account.address,
            "aliases": sending_addresses(account)[1:],
        }
    ).data


def _signed_in_by_session(request: Request) -> bool:
    return isinstance(request.successful_authenticator, SessionAuthentication)


class SettingsView(APIView):
    @extend_schema(operation_id="settings_retrieve", responses={200: SettingsSerializer})
    def get(self, request: Request) -> Response:
        return Response(_settings_data(current_account(request)))

    @extend_schema(
        operation_id="settings_partial_update",
        request=SettingsPatchSerializer,
        responses={200: SettingsSerializer, 400: INVALID},
        description="Change any subset of the settings; unknown fields are refused. "
        "signature_html is sanitized before it is stored (the response shows what was kept).",
    )
    def patch(self, request: Request) -> Response:
        data = SettingsPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "contacts_auto_add" in changes:
            do_set_auto_add(
                acting_account=current_account(request), enabled=changes.pop("contacts_auto_add")
            )
        do_update_settings(acting_account=current_account(request), changes=changes)
        return Response(_settings_data(current_account(request)))


class PasswordPolicyView(APIView):
    @extend_schema(
        operation_id="settings_password_policy",
        responses={200: PasswordPolicySerializer},
        description="The password policy a new password must meet (the form checks the length "
        "before asking; the server has the last word).",
    )
    def get(self, request: Request) -> Response:
        return Response(PasswordPolicySerializer(passwords.policy()).data)


class PasswordView(APIView):
    # Each try checks a password: limited like sign-in, against a stolen session guessing it.
    throttle_scope = "login"

    def get_throttles(self) -> list[BaseThrottle]:
        return [SharedRateThrottle()]

    @extend_schema(
        operation_id="settings_password",
        request=PasswordChangeSerializer,
        responses={
            204: OpenApiResponse(description="changed"),
            400: INVALID,
            429: OpenApiResponse(
                ErrorSerializer, description="throttled, or too_many_failures (login limiter)"
            ),
        },
        description="Change the password. Every other browser session, the API token and all "
        "app passwords are revoked; the browser session making the request stays signed in "
        "(a token client signs in again).",
    )
    def post(self, request: Request) -> Response:
        # The current password is a guess like a login's: the same limiter decides first,
        # and a wrong one counts against the client and the account (mailcore.ratelimit).
        ip, address = client_ip(request), current_account(request).address
        current = request.data.get("current_password", "") if isinstance(request.data, dict) else ""
        check = reserve_auth_attempt(ip, address, str(current))
        if not check.allowed:
            raise LoginBlocked(check.retry_after)
        data = PasswordChangeSerializer(
            data=request.data, context={"account": current_account(request)}
        )
        try:
            valid = data.is_valid()
        except BaseException:
            release_reservation(check.reservation)
            raise
        if not valid:
            if data.errors.get("current_password") == ["Wrong password."]:
                record_auth_failure(ip, address, str(current), check.reservation)
            else:
                release_reservation(check.reservation)
            raise ValidationError(data.errors)
        release_reservation(check.reservation)
        by_session = _signed_in_by_session(request)
        do_change_password(
            acting_account=current_account(request),
            new_password=data.validated_data["new_password"],
            keep_session=request.session.session_key if by_session else None,
        )
        if by_session:
            keep_current_session(request._request, current_account(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutEverywhereView(APIView):
    @extend_schema(
        operation_id="auth_logout_everywhere",
        request=None,
        responses={204: OpenApiResponse(description="every session and the API token ended")},
        description="Sign out every browser session of the account, this one included, and "
        "revoke its API token. App passwords (mail clients) stay; revoke them one by one.",
    )
    def post(self, request: Request) -> Response:
        do_logout_everywhere(acting_account=current_account(request))
        if _signed_in_by_session(request):
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageSenderListView(APIView):
    @extend_schema(
        operation_id="image_senders_list", responses={200: ImageSenderSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        senders = list_trusted_senders(current_account(request))
        return Response(ImageSenderSerializer(senders, many=True).data)

    @extend_schema(
        operation_id="image_senders_create",
        request=ImageSenderCreateSerializer,
        responses={
            201: ImageSenderSerializer,
            200: OpenApiResponse(ImageSenderSerializer, description="already trusted"),
            400: INVALID,
            409: CONFLICT,
        },
        description="Always show remote images from this sender (stored lower case, IDNA).",
    )
    def post(self, request: Request) -> Response:
        data = ImageSenderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sender, created = do_trust_image_sender(
            acting_account=current_account(request), address=data.validated_data["address"]
        )
        return Response(
            ImageSenderSerializer(sender).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ImageSenderDetailView(APIView):
    @extend_schema(
        operation_id="image_senders_destroy",
        responses={204: OpenApiResponse(description="removed"), 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        do_untrust_image_sender(acting_account=current_account(request), sender_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AppPasswordListView(APIView):
    @extend_schema(
        operation_id="app_passwords_list", responses={200: AppPasswordSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        return Response(
            AppPasswordSerializer(
                list(list_app_passwords(current_account(request))), many=True
            ).data
        )

    @extend_schema(
        operation_id="app_passwords_create",
        request=AppPasswordCreateSerializer,
        responses={201: AppPasswordCreatedSerializer, 400: INVALID, 409: CONFLICT},
        description="A new password for one mail client (IMAP, POP3, SMTP). The secret is in "
        "this response only; it is not valid for the web or API sign-in.",
    )
    def post(self, request: Request) -> Response:
        data = AppPasswordCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row, secret = do_create_app_password(current_account(request), data.validated_data["name"])
        created = {"id": row.pk, "name": row.name, "created_at": row.created_at, "password": secret}
        return Response(AppPasswordCreatedSerializer(created).data, status=status.HTTP_201_CREATED)


class AppPasswordDetailView(APIView):
    @extend_schema(
        operation_id="app_passwords_destroy",
        responses={204: OpenApiResponse(description="revoked"), 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        do_revoke_app_password(current_account(request), pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LoginHistoryView(APIView):
    @extend_schema(
        operation_id="settings_login_history",
        parameters=[AdminPageQuerySerializer],
        responses={200: AdminLoginPageSerializer},
        description="로그인 기록: this account's login attempts through every door (web, API, "
        "SMTP AUTH, IMAP, POP3; app passwords named as such), newest first, kept "
        "LOGIN_HISTORY_DAYS days. Failed attempts on the address are shown too.",
    )
    def get(self, request: Request) -> Response:
        query = AdminPageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        items, cursor = keyset_page(
            login_history(current_account(request)),
            key="id",
            descending=True,
            cursor=query.validated_data["cursor"],
            limit=query.validated_data["limit"],
        )
        return Response(AdminLoginPageSerializer({"items": items, "next_cursor": cursor}).data)


def _sessions_data(request: Request) -> dict[str, Any]:
    account = current_account(request)
    here = request.session.session_key if hasattr(request, "session") else None
    sessions = [
        {
            "id": r.pk,
            "current": r.session_key == here,
            "created_at": r.created_at,
            "last_seen_at": r.last_seen_at,
            "ip": r.ip,
            "user_agent": r.user_agent,
            "browser": browser_of(r.user_agent),
        }
        for r in active_sessions(account)
    ]
    token = Token.objects.filter(user=account).select_related("record").first()
    record = getattr(token, "record", None) if token is not None else None
    token_data = None
    if token is not None:
        agent = record.user_agent if record is not None else ""
        token_data = {
            "created_at": token.created,
            "last_seen_at": record.last_seen_at if record is not None else None,
            "ip": record.ip if record is not None else "",
            "user_agent": agent,
            "browser": browser_of(agent),
        }
    return {"sessions": sessions, "token": token_data}


class ActiveSessionsView(APIView):
    @extend_schema(
        operation_id="settings_sessions",
        responses={200: ActiveSessionsSerializer},
        description="The account's signed-in browsers (device, IP, last use) and its API "
        "token. End one with DELETE …/sessions/{id} or …/sessions/token; all with "
        "POST /api/v1/auth/logout-everywhere.",
    )
    def get(self, request: Request) -> Response:
        return Response(ActiveSessionsSerializer(_sessions_data(request)).data)


class ActiveSessionView(APIView):
    @extend_schema(
        operation_id="settings_sessions_end",
        responses={204: None, 404: ErrorSerializer},
        description="Sign that browser out (this one too, if it is the current session).",
    )
    def delete(self, request: Request, pk: int) -> Response:
        if not end_session(current_account(request), pk):
            raise NotFoundError("no such session")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiTokenSessionView(APIView):
    @extend_schema(
        operation_id="settings_sessions_end_token",
        responses={204: None},
        description="Revoke the API token: every app using it must sign in again.",
    )
    def delete(self, request: Request) -> Response:
        revoke_tokens(current_account(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
