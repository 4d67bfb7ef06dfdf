"""The MTA-STS policy file (RFC 8461 §3.3) of a local domain, served on
`https://mta-sts.<domain>/.well-known/mta-sts.txt` with no sign-in; 404 for any other host."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.views.decorators.http import require_http_methods

from mailcore.directory.models import Domain
from mailcore.mtasts.serving import served_policy
from webmail.web.autoconfig import _local_domain


@require_http_methods(["GET", "HEAD"])
def policy(request: HttpRequest) -> HttpResponse:
    host = request.get_host().rsplit(":", 1)[0].lower().rstrip(".")
    domain = _local_domain(host.removeprefix("mta-sts.")) if host.startswith("mta-sts.") else None
    if domain is None:
        return HttpResponseNotFound("no MTA-STS policy here", content_type="text/plain")
    served = served_policy(Domain.objects.get(name=domain))
    response = HttpResponse(served.text, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
