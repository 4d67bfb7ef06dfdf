"""Fixtures of the API tests: fresh login throttles, token clients for alice and bob."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from tests.api.helpers import token_client


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    # Login throttling counts in the (process-wide, locmem) cache; tests must not share counts.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice_api(alice: Account) -> APIClient:
    return token_client(alice)


@pytest.fixture
def bob_api(bob: Account) -> APIClient:
    return token_client(bob)
