"""The signed-in account of a request, typed.

`request.user` is `Account | AnonymousUser` to the type checker, and every view behind
IsAuthenticated knows it is an Account. `current_account(request)` says so once, with a real check
instead of a cast: a view that forgot its permission class answers 401, never acts as nobody."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from mailcore.directory.models import Account


def current_account(request: Request | HttpRequest) -> Account:
    """The account signed in on `request`; NotAuthenticated (401/403) when nobody is."""
    user = request.user
    if not isinstance(user, Account):
        raise NotAuthenticated
    return user
