"""An account's POP3 policy, set by an admin (issue 11 §3): the same choices the user has in
Settings (webmail/api/pop3.py), within the admin's scope, audited."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mailcore.directory.roles import access_account, check_may_manage_account
from mailcore.pop3.actions import do_set_pop3_settings, get_pop3_settings
from webmail.adminconsole.accounts import FORBIDDEN, INVALID, NOT_FOUND
from webmail.adminconsole.base import AdminView
from webmail.api.pop3 import Pop3SettingsPatchSerializer, Pop3SettingsSerializer


class AdminPop3SettingsView(AdminView):
    @extend_schema(
        operation_id="admin_accounts_pop3_retrieve",
        responses={200: Pop3SettingsSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        account = access_account(self.scope, pk)
        return self.answer(Pop3SettingsSerializer, get_pop3_settings(account))

    @extend_schema(
        operation_id="admin_accounts_pop3_update",
        request=Pop3SettingsPatchSerializer,
        responses={200: Pop3SettingsSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
        description="Any subset of the account's POP3 choices.",
    )
    def patch(self, request: Request, pk: int) -> Response:
        account = access_account(self.scope, pk)
        check_may_manage_account(self.scope, account)
        v = self.body(Pop3SettingsPatchSerializer)
        row = do_set_pop3_settings(
            account, on_delete=v.get("on_delete"), only_new=v.get("only_new")
        )
        self.audit("account.pop3", account.address, domain=account.domain.name, **v)
        return self.answer(Pop3SettingsSerializer, row)
