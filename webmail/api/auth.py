"""Sign-in for the API: tokens for mobile apps, the session for the browser SPA.

Every password check goes through mailcore.auth.verify_credentials; nothing here says whether
an address exists. Views only authenticate, validate and call one function.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login, logout
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle
from rest_framework.views import APIView

from mailcore.auth import verify_credentials
from mailcore.directory.models import Account
from webmail.api.errors import InvalidCredentials
from webmail.api.serializers import (
    ErrorSerializer,
    LoginSerializer,
    SessionUserSerializer,
    TokenSerializer,
    ValidationErrorSerializer,
)


def _login_throttles(request: Request) -> list[BaseThrottle]:
    # Only password guesses are rate limited; signing out is not.
    return [ScopedRateThrottle()] if request.method == "POST" else []


def _check_credentials(request: Request) -> Account:
    serializer = LoginSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    # App passwords are for mail clients only (Gmail's rule): not for the web or API login.
    account = verify_credentials(
        serializer.validated_data["address"],
        serializer.validated_data["password"],
        allow_app_password=False,
    )
    if account is None:
        raise InvalidCredentials
    return account


# Tokens are DRF's authtoken rows, which mailcore cannot know about (it never imports DRF).
# XXX: these two belong in a webmail.accounts actions module once that app exists.
def issue_token(account: Account) -> Token:
    token, _ = Token.objects.get_or_create(user=account)
    return token


def revoke_token(account: Account) -> None:
    Token.objects.filter(user=account).delete()


_LOGIN_ERRORS = {
    400: OpenApiResponse(
        ValidationErrorSerializer,
        description="invalid_credentials (wrong address or password) or invalid",
    ),
    429: OpenApiResponse(ErrorSerializer, description="throttled"),
}


class TokenView(APIView):
    """POST exchanges an address and password for an API token; DELETE revokes it."""

    authentication_classes = [TokenAuthentication]
    throttle_scope = "login"

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_throttles(self) -> list[BaseThrottle]:
        return _login_throttles(self.request)

    @extend_schema(
        operation_id="auth_token_create",
        request=LoginSerializer,
        responses={200: TokenSerializer, **_LOGIN_ERRORS},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        # One token per account (authtoken's model): signing in on a second device hands out
        # the same key, and DELETE signs out all of them.
        token = issue_token(_check_credentials(request))
        return Response(TokenSerializer({"token": token.key}).data)

    @extend_schema(
        operation_id="auth_token_destroy", request=None, responses={204: None, 401: ErrorSerializer}
    )
    def delete(self, request: Request) -> Response:
        revoke_token(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class SessionView(APIView):
    """The browser's sign-in: GET says who is signed in (and hands out the CSRF cookie the SPA
    needs for everything else), POST signs in, DELETE signs out."""

    authentication_classes = [SessionAuthentication]
    throttle_scope = "login"

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
        return Response(SessionUserSerializer(request.user).data)

    @extend_schema(
        operation_id="auth_session_create",
        request=LoginSerializer,
        responses={
            200: SessionUserSerializer,
            **_LOGIN_ERRORS,
            403: OpenApiResponse(ErrorSerializer, description="CSRF failed"),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        account = _check_credentials(request)
        # login() gives the session a new key and a new CSRF token, so an id planted before
        # sign-in is worthless afterwards (session fixation, W10).
        login(request._request, account)
        return Response(SessionUserSerializer(account).data)

    @extend_schema(operation_id="auth_session_destroy", request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
