"""Sign-in for the API: tokens for mobile apps, the session for the browser SPA.

Every password check goes through mailcore.ratelimit.authenticate, the login limiter that SMTP
AUTH, IMAP and POP3 share: failures here count against the same per-IP and per-account limits,
and a client blocked there is blocked here. Nothing here says whether an address exists. Views
only authenticate, validate and call one function.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import login, logout
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from mailcore.directory.models import Account, LoginRecord
from mailcore.directory.newdevice import (
    cookie_knows,
    deliver_notice,
    device_cookie,
    is_new_device,
    not_me_token,
)
from mailcore.directory.twofactor import (
    Challenge,
    authenticate_second_factor,
    make_challenge,
    needs_enrolment,
)
from mailcore.ratelimit import AuthAttempt, AuthStatus, authenticate
from webmail.accounts.current import current_account
from webmail.accounts.sessions import touch_token
from webmail.accounts.twofactor import ENROL_FLAG, origins, rp_id
from webmail.api.clientip import client_ip
from webmail.api.errors import (
    EnrolmentRequired,
    InvalidCredentials,
    LoginBlocked,
    WrongSecondFactor,
)
from webmail.api.serializers import (
    ErrorSerializer,
    LoginSerializer,
    SessionUserSerializer,
    TokenSerializer,
    ValidationErrorSerializer,
)
from webmail.api.throttles import SharedRateThrottle
from webmail.api.tokenauth import TrackedTokenAuthentication
from webmail.api.twofactor_serializers import (
    SecondFactorChallengeSerializer,
    SecondFactorLoginSerializer,
)

# A login body is an address and a password: a few KB at most, whoever sends it.
LOGIN_MAX_JSON_BYTES = 8192


def _login_throttles(request: Request) -> list[BaseThrottle]:
    # Only password guesses are rate limited; signing out is not.
    return [SharedRateThrottle()] if request.method == "POST" else []


def _check_credentials(request: Request, door: str) -> Account | Challenge:
    """The account, or (2단계 인증 on) the challenge for the second step."""
    serializer = LoginSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    # App passwords are for mail clients only (Gmail's rule): not for the web or API login.
    # No sleep on failure, unlike SMTP: a sleeping request holds one of a few web threads,
    # and the limiter already caps the guesses.
    attempt = authenticate(
        client_ip(request),
        serializer.validated_data["address"],
        serializer.validated_data["password"],
        door=door,
        allow_app_password=False,
        client=request.META.get("HTTP_USER_AGENT", ""),
    )
    if attempt.status is AuthStatus.SECOND_FACTOR and attempt.account is not None:
        return make_challenge(attempt.account, door, rp_id(request))
    return _settled(attempt)


def _settled(attempt: AuthAttempt, wrong: type[InvalidCredentials] = InvalidCredentials) -> Account:
    if attempt.status is AuthStatus.BLOCKED:
        raise LoginBlocked(attempt.retry_after)
    if attempt.status is not AuthStatus.OK or attempt.account is None:
        raise wrong
    return attempt.account


def _second_step(request: Request, door: str) -> Account:
    """The second step's body (challenge + code, recovery code or passkey assertion)."""
    body = SecondFactorLoginSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    v = body.validated_data
    attempt = authenticate_second_factor(
        client_ip(request),
        v["challenge"],
        door=door,
        code=v.get("code", ""),
        recovery_code=v.get("recovery_code", ""),
        credential=v.get("credential"),
        origins=origins(request),
        client=request.META.get("HTTP_USER_AGENT", ""),
    )
    return _settled(attempt, WrongSecondFactor)


def _challenge_response(challenge: Challenge) -> Response:
    return Response(
        SecondFactorChallengeSerializer(challenge).data, status=status.HTTP_202_ACCEPTED
    )


# Tokens are DRF's authtoken rows, which mailcore cannot know about (it never imports DRF).
# XXX: these two belong in a webmail.accounts actions module once that app exists.
def issue_token(account: Account) -> Token:
    token, _ = Token.objects.get_or_create(user=account)
    return token


def revoke_token(account: Account) -> None:
    Token.objects.filter(user=account).delete()


_SECOND_FACTOR = OpenApiResponse(
    SecondFactorChallengeSerializer,
    description="2단계 인증 is on: the password was right, now post the challenge with a code, "
    "a recovery code or a passkey assertion to the second-factor route",
)

_ENROL = OpenApiResponse(
    ErrorSerializer,
    description="second_factor_enrolment_required: the account's domain requires 2단계 인증 "
    "and it has none yet; enrol one in the browser first",
)

_LOGIN_ERRORS = {
    400: OpenApiResponse(
        ValidationErrorSerializer,
        description="invalid_credentials (wrong address or password) or invalid",
    ),
    429: OpenApiResponse(
        ErrorSerializer,
        description="throttled (too many requests) or too_many_failures (too many wrong "
        "passwords from this client or for this account, on any protocol; the password was "
        "not checked). Retry-After says when to try again.",
    ),
}


_STEP_ERRORS = {
    400: OpenApiResponse(
        ValidationErrorSerializer,
        description="wrong_code (wrong code, recovery code or passkey), "
        "challenge_expired (start again with the password) or invalid",
    ),
    429: _LOGIN_ERRORS[429],
}


class TokenView(APIView):
    """POST exchanges an address and password for an API token; DELETE revokes it."""

    authentication_classes = [TrackedTokenAuthentication]
    throttle_scope = "login"
    max_json_bytes = LOGIN_MAX_JSON_BYTES

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_throttles(self) -> list[BaseThrottle]:
        return _login_throttles(self.request)

    @extend_schema(
        operation_id="auth_token_create",
        request=LoginSerializer,
        responses={200: TokenSerializer, 202: _SECOND_FACTOR, **_LOGIN_ERRORS, 403: _ENROL},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        found = _check_credentials(request, "api")
        if isinstance(found, Challenge):
            return _challenge_response(found)
        return _token_answer(request, found)

    @extend_schema(
        operation_id="auth_token_destroy", request=None, responses={204: None, 401: ErrorSerializer}
    )
    def delete(self, request: Request) -> Response:
        revoke_token(current_account(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class SessionView(APIView):
    """The browser's sign-in: GET says who is signed in (and hands out the CSRF cookie the SPA
    needs for everything else), POST signs in, DELETE signs out."""

    authentication_classes = [SessionAuthentication]
    throttle_scope = "login"
    max_json_bytes = LOGIN_MAX_JSON_BYTES

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # DRF's SessionAuthentication checks CSRF only once somebody is signed in, which
        # leaves sign-in itself open to login CSRF (W10): a third-party page signing the
        # victim into the attacker's mailbox. Here the check runs for everyone.
        SessionAuthentication().enforce_csrf(request)
        super().initial(request, *args, **kwargs)

    def get_permissions(self) -> list[BasePermission]:
        return [IsAuthenticated()] if self.request.method == "GET" else [AllowAny()]

    def get_throttles(self) -> list[BaseThrottle]:
        return _login_throttles(self.request)

    @extend_schema(
        operation_id="auth_session_retrieve",
        responses={
            200: SessionUserSerializer,
            403: OpenApiResponse(ErrorSerializer, description="not signed in"),
        },
    )
    def get(self, request: Request) -> Response:
        account = current_account(request)
        return Response(SessionUserSerializer(account, context={"request": request}).data)

    @extend_schema(
        operation_id="auth_session_create",
        request=LoginSerializer,
        responses={
            200: SessionUserSerializer,
            202: _SECOND_FACTOR,
            **_LOGIN_ERRORS,
            403: OpenApiResponse(ErrorSerializer, description="CSRF failed"),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        found = _check_credentials(request, "web")
        if isinstance(found, Challenge):
            return _challenge_response(found)
        return _session_answer(request, found)

    @extend_schema(operation_id="auth_session_destroy", request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _token_answer(request: Request, account: Account) -> Response:
    if needs_enrolment(account):
        # The domain requires a second factor: it is enrolled in the browser first.
        raise EnrolmentRequired
    # One token per account (authtoken's model): signing in on a second device hands out
    # the same key, and DELETE signs out all of them.
    token = issue_token(account)
    agent = request.META.get("HTTP_USER_AGENT", "")
    touch_token(token, client_ip(request), agent, force=True)
    return Response(TokenSerializer({"token": token.key}).data)


def _session_answer(request: Request, account: Account) -> Response:
    # login() gives the session a new key and a new CSRF token, so an id planted before
    # sign-in is worthless afterwards (session fixation, W10).
    login(request._request, account)
    if needs_enrolment(account):
        request.session[ENROL_FLAG] = True
    _alert_if_new_device(request, account)
    response = Response(SessionUserSerializer(account, context={"request": request}).data)
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie(account),
        max_age=2 * 365 * 86400,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return response


DEVICE_COOKIE = "mr_device"


def _alert_if_new_device(request: Request, account: Account) -> None:
    """A notice mail with a "this was not me" link when this browser is new to the account
    (mailcore.directory.newdevice says what counts as new)."""
    if cookie_knows(account, request.COOKIES.get(DEVICE_COOKIE)):
        return
    ip, agent = client_ip(request), request.META.get("HTTP_USER_AGENT", "")
    current = (
        LoginRecord.objects.filter(account=account, door=LoginRecord.Door.WEB)
        .order_by("-id")
        .values_list("pk", flat=True)
        .first()
    )
    if is_new_device(account, ip, agent, current):
        link = request.build_absolute_uri(
            "/account/not-me?" + urlencode({"t": not_me_token(account)})
        )
        deliver_notice(account, ip=ip, user_agent=agent, link=link)


class TokenSecondFactorView(APIView):
    """The API token login's second step: the challenge of POST auth/token's 202 answer and
    a TOTP code, a recovery code or a passkey assertion."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_scope = "login"
    max_json_bytes = LOGIN_MAX_JSON_BYTES * 4

    def get_throttles(self) -> list[BaseThrottle]:
        return _login_throttles(self.request)

    @extend_schema(
        operation_id="auth_token_second_factor",
        request=SecondFactorLoginSerializer,
        responses={200: TokenSerializer, **_STEP_ERRORS, 403: _ENROL},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        return _token_answer(request, _second_step(request, "api"))


@method_decorator(ensure_csrf_cookie, name="dispatch")
class SessionSecondFactorView(APIView):
    """The browser sign-in's second step (see TokenSecondFactorView); CSRF checked as for the
    first."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]
    throttle_scope = "login"
    max_json_bytes = LOGIN_MAX_JSON_BYTES * 4

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        SessionAuthentication().enforce_csrf(request)
        super().initial(request, *args, **kwargs)

    def get_throttles(self) -> list[BaseThrottle]:
        return _login_throttles(self.request)

    @extend_schema(
        operation_id="auth_session_second_factor",
        request=SecondFactorLoginSerializer,
        responses={
            200: SessionUserSerializer,
            **_STEP_ERRORS,
            403: OpenApiResponse(ErrorSerializer, description="CSRF failed"),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        return _session_answer(request, _second_step(request, "web"))
