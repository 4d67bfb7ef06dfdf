"""The browser shell: the single-page app's index.html for every non-API path, and health.

The built app (frontend/dist/index.html, `make frontend`) when present, else a placeholder page
that says how to build it. No inline script or style is allowed by the CSP sent here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

# The app's own policy (issue 4 §9): scripts and styles only from /static/ on this origin.
SPA_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def spa(request: HttpRequest) -> HttpResponse:
    built = settings.FRONTEND_DIR / "dist" / "index.html"
    index = built if built.is_file() else settings.FRONTEND_DIR / "placeholder.html"
    response = HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = SPA_CSP
    # index.html names the current hashed bundles: always revalidate it after a deploy.
    response["Cache-Control"] = "no-cache"
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
