"""Reads of external accounts: every lookup is within the asking account (another user's id
is "not found", as everywhere)."""

from __future__ import annotations

from django.db.models import QuerySet

from mailcore.directory.models import Account
from mailcore.errors import NotFoundError
from mailcore.fetching.models import ExternalAccount


def list_external_accounts(account: Account) -> QuerySet[ExternalAccount]:
    return ExternalAccount.objects.filter(account=account).order_by("pk")


def access_external_account(account: Account, external_id: int) -> ExternalAccount:
    try:
        return ExternalAccount.objects.get(pk=external_id, account=account)
    except (ExternalAccount.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFoundError("external account not found") from exc
