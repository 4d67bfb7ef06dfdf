"""The web side of 2단계 인증 that is not a view: where passkeys live (RP ID and origins from
the host the web is served on), and the gate that keeps a browser whose domain requires a
second factor on the enrolment page until it has one."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

# Session key: this browser signed in without a factor its domain requires (set at login,
# cleared when a factor is enrolled).
ENROL_FLAG = "mr_enrol_second_factor"

# While the flag is up, only these API paths answer: signing in and out, who am I, and the
# enrolment itself.
_OPEN_PREFIXES = ("/api/v1/auth/", "/api/v1/settings/two-factor")


def rp_id(request: HttpRequest) -> str:
    """The passkeys' relying-party ID: WEBAUTHN_RP_ID, else the request's host (no port)."""
    if settings.WEBAUTHN_RP_ID:
        return str(settings.WEBAUTHN_RP_ID)
    host = request.get_host()  # validated against ALLOWED_HOSTS
    if host.startswith("["):
        return host[1 : host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def origins(request: HttpRequest) -> list[str]:
    """The origins a WebAuthn ceremony may come from: WEBAUTHN_ORIGINS, else this request's."""
    if settings.WEBAUTHN_ORIGINS:
        return list(settings.WEBAUTHN_ORIGINS)
    return [f"{request.scheme}://{request.get_host()}"]


def enrolment_required(request: HttpRequest) -> bool:
    return bool(hasattr(request, "session") and request.session.get(ENROL_FLAG))


class EnrolmentRequiredMiddleware:
    """403 second_factor_enrolment_required for the API (mail, settings, everything but the
    sign-in and enrolment routes) while this browser's session still has to enrol."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path.startswith("/api/")
            and not request.path.startswith(_OPEN_PREFIXES)
            and enrolment_required(request)
        ):
            return JsonResponse(
                {
                    "error": "second_factor_enrolment_required",
                    "detail": "Your domain requires two-step verification: set it up first.",
                },
                status=403,
            )
        return self.get_response(request)
