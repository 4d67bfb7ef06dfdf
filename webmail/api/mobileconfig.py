"""POST /api/v1/settings/mobileconfig (issue 15 item 6): an Apple configuration profile for
iPhone, iPad and Mac Mail, with an app password made for it (its name says so, it can be
revoked alone like any other). A POST, not a GET: each download creates a password."""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from mailcore import autoconfig
from mailcore.directory.actions import do_create_app_password
from webmail.accounts.current import current_account
from webmail.api.preferences import CONFLICT

PROFILE_TYPE = "application/x-apple-aspen-config"


class MobileconfigView(APIView):
    @extend_schema(
        operation_id="settings_mobileconfig_create",
        request=None,
        responses={
            (200, PROFILE_TYPE): OpenApiResponse(
                OpenApiTypes.BINARY, description="the .mobileconfig file (an XML plist)"
            ),
            409: CONFLICT,
        },
        description="Makes an app password named 'Apple Mail <date time>' and answers a "
        "configuration profile that sets up IMAP (POP3 when IMAP is off) and SMTP with it. "
        "Open the file on the device (Settings → Profile Downloaded → Install).",
    )
    def post(self, request: Request) -> HttpResponse:
        account = current_account(request)
        stamp = dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        _, secret = do_create_app_password(account, f"Apple Mail {stamp} UTC")
        body = autoconfig.mobileconfig(
            account.address,
            account.display_name or account.address,
            secret,
            autoconfig.endpoints_from_settings(),
            identifier=".".join(reversed(account.address.split("@")[1].split("."))) + ".mailroom",
        )
        response = HttpResponse(body, content_type=PROFILE_TYPE)
        filename = account.address.replace("@", "_at_") + ".mobileconfig"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "no-store"  # it holds a password
        return response
