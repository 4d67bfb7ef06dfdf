"""Fixtures of the API tests: fresh login throttles, token clients for alice and bob."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from tests.api.helpers import token_client
from webmail.accounts.ratecounters import clear


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    # Throttles count in Redis or the database (webmail.accounts.ratecounters), shared by
    # every process; tests must not share counts. Database rows go with each test's
    # transaction (or flush); Redis keys are removed here.
    clear(database=False)
    yield
    clear(database=False)


@pytest.fixture
def alice_api(alice: Account) -> APIClient:
    return token_client(alice)


@pytest.fixture
def bob_api(bob: Account) -> APIClient:
    return token_client(bob)
