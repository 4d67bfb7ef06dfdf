"""Client autoconfiguration over HTTP (issue 15 item 6), no sign-in needed: Thunderbird's
autoconfig (`/.well-known/autoconfig/mail/config-v1.1.xml` on the domain, and
`/mail/config-v1.1.xml` on `autoconfig.<domain>`), Outlook's Autodiscover POX
(`/autodiscover/autodiscover.xml`, usually on `autodiscover.<domain>`). They tell where the
servers are for a local domain; they never say whether an account exists (like mailcow's)."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mailcore import autoconfig
from mailcore.addresses import canonical_domain, split_address
from mailcore.directory.queries import is_local_domain
from mailcore.errors import InvalidAddressError

AUTODISCOVER_MAX_BYTES = 16 * 1024
_EMAIL = re.compile(rb"<EMailAddress>\s*([^<\s]{3,320})\s*</EMailAddress>", re.IGNORECASE)
XML = "application/xml; charset=utf-8"


def _local_domain(candidate: str) -> str | None:
    try:
        alabel = canonical_domain(candidate)
    except InvalidAddressError:
        return None
    return alabel if is_local_domain(alabel) else None


def _domain_of(address: str) -> str | None:
    try:
        return _local_domain(split_address(address)[1])
    except InvalidAddressError:
        return None


def _domain_from_host(request: HttpRequest, prefix: str) -> str | None:
    host = request.get_host().rsplit(":", 1)[0].lower()
    if host.startswith(prefix + "."):
        return _local_domain(host.removeprefix(prefix + "."))
    return _local_domain(host)


@require_http_methods(["GET", "HEAD"])
def thunderbird(request: HttpRequest) -> HttpResponse:
    """config-v1.1 for the domain of `?emailaddress=` (Thunderbird sends it), else for the
    host name the request came to (autoconfig.<domain> or the domain itself)."""
    address = request.GET.get("emailaddress", "")
    domain = _domain_of(address) if address else _domain_from_host(request, "autoconfig")
    if domain is None:
        return HttpResponseNotFound("not a local domain", content_type="text/plain")
    body = autoconfig.thunderbird_xml(domain, domain, autoconfig.endpoints_from_settings())
    return HttpResponse(body, content_type=XML)


@csrf_exempt  # Outlook POSTs a plain XML request and holds no cookie; nothing is changed
@require_http_methods(["GET", "POST"])
def autodiscover(request: HttpRequest) -> HttpResponse:
    """The POX answer for the <EMailAddress> of the request (or `?email=` on a GET)."""
    address = request.GET.get("email", "")
    if request.method == "POST":
        if len(request.body) > AUTODISCOVER_MAX_BYTES:
            return HttpResponse("request too large", status=413, content_type="text/plain")
        found = _EMAIL.search(request.body)
        address = found.group(1).decode("utf-8", "replace") if found else ""
    domain = _domain_of(address) if address else None
    if domain is None:
        return HttpResponseNotFound("not a local domain", content_type="text/plain")
    body = autoconfig.autodiscover_xml(address, address, autoconfig.endpoints_from_settings())
    return HttpResponse(body, content_type=XML)
