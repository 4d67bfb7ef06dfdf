"""The API's token authentication: DRF's token check, plus the token's "last used" (IP and
app) for Settings → sessions. A module of its own: DRF imports authentication classes while
it loads its views, so this must not import any view."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from mailcore.directory.models import Account
from webmail.accounts.sessions import touch_token
from webmail.api.clientip import client_ip


class TrackedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request: Request) -> tuple[Account, Token] | None:
        found = super().authenticate(request)
        if found is not None:
            touch_token(found[1], client_ip(request), request.META.get("HTTP_USER_AGENT", ""))
        return found
