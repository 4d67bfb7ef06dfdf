"""App config of webmail.accounts; connects the session bookkeeping to Django's login/logout."""

from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "webmail.accounts"
    label = "accounts"
    verbose_name = "Mailroom web accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from webmail.accounts import sessions

        # Django's own auth signals, not domain behaviour: every login() (the API's session
        # sign-in and any later one) records its session key, so no login path can forget to.
        user_logged_in.connect(sessions.on_logged_in, dispatch_uid="mailroom-session-record")
        user_logged_out.connect(sessions.on_logged_out, dispatch_uid="mailroom-session-forget")

        from mailcore.directory.twofactor import factors_reset

        # An admin's reset of the second factor (console or `account reset-2fa`): the lost
        # phone's holder may be signed in, so every session and the token end.
        factors_reset.connect(sessions.on_factors_reset, dispatch_uid="mailroom-factors-reset")
