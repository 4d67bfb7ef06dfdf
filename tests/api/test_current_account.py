"""current_account(request): the typed accessor every API view uses instead of request.user."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from mailcore.directory.models import Account
from webmail.accounts.current import current_account


def _request(user: Account | AnonymousUser) -> Request:
    raw = APIRequestFactory().get("/api/v1/quota")
    force_authenticate(raw, user=user)
    return APIView().initialize_request(raw)


def test_signed_in_request_gives_its_account(alice: Account) -> None:
    assert current_account(_request(alice)) == alice


def test_anonymous_request_is_not_authenticated(db: None) -> None:
    with pytest.raises(NotAuthenticated):
        current_account(_request(AnonymousUser()))
