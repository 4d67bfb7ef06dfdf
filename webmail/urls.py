"""URL map: /api/v1/ (REST API and its OpenAPI schema), the SPA at /."""

from django.urls import include, path, re_path

from webmail.web import autoconfig, largefiles, mtasts, notme
from webmail.web import views as web

urlpatterns = [
    path("api/v1/admin/", include("webmail.adminconsole.urls")),
    path("api/v1/", include("webmail.api.urls")),
    path("healthz", web.healthz, name="healthz"),
    path("account/not-me", notme.not_me, name="not-me"),
    # 대용량 첨부 (issue 14 §4): the public link of a large file, no login.
    path("f/<str:token>", largefiles.largefile_page, name="largefile-page"),
    path("f/<str:token>/download", largefiles.largefile_download, name="largefile-download"),
    # Client autoconfiguration (issue 15 item 6): Thunderbird and Outlook ask these paths.
    path(".well-known/autoconfig/mail/config-v1.1.xml", autoconfig.thunderbird),
    path("mail/config-v1.1.xml", autoconfig.thunderbird, name="autoconfig"),
    path("autodiscover/autodiscover.xml", autoconfig.autodiscover, name="autodiscover"),
    path("Autodiscover/Autodiscover.xml", autoconfig.autodiscover),  # Outlook's own spelling
    # MTA-STS policy (issue 15 item 7), asked on mta-sts.<domain> by sending servers.
    path(".well-known/mta-sts.txt", mtasts.policy, name="mta-sts"),
    re_path(r"^(?!api/|static/).*$", web.spa, name="spa"),
]
