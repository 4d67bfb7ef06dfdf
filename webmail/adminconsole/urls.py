"""Routes of /api/v1/admin/: the admin console's API (documented in the OpenAPI schema under
operation ids admin_*).

Overview for the console pages:
- Roles: a superadmin (Account.is_staff) may do everything; a domain admin (DomainAdmin rows,
  `manage.py account admin-of`) only their domains: anything of another domain answers 404,
  superadmin-only operations 403. Plain users get 403 on every route, anonymous callers 401
  (token) / 403 (session). GET /api/v1/auth/session says "is_superadmin" and "admin_domains".
- Errors: {"error": code, "detail": text[, "fields": {...}]}; 400 invalid input, 403 forbidden
  (also "forbidden" when the target outranks a domain admin), 404 not_found, 409 conflict
  (loops, existing names, refusals such as a domain with accounts or a wide network).
- Lists: {"items": [...], "next_cursor": str|null}; pass ?cursor=…&limit=1..200 (default 50).
- Every change writes an audit row (GET audit-log).

  GET    dashboard?days=14                     traffic per day, queue size, storage
  GET    domains?q=   POST domains {name}      (POST: superadmin)
  GET    domains/{name}  PATCH {is_active}  DELETE ?force=true   (PATCH/DELETE: superadmin)
  PUT    domains/{name}/catchall {targets}   DELETE domains/{name}/catchall
  GET    domains/{name}/policy  PATCH {recall_enabled?, forward_outside?}  (null = default)
  GET    domains/{name}/dkim   POST {algorithm: rsa|ed25519}     keys + TXT records
  POST   domains/{name}/dkim/{selector}/activate {force?}        pending key signs from now on
  GET    domains/{name}/dns                    MX/SPF/DKIM/DMARC: ok|missing|wrong|error
  GET    domains/{name}/mta-sts  PUT {mode, max_age, extra_mx}   MTA-STS policy + records
  GET    domains/{name}/tls-reports            TLS-RPT reports received (latest 100)
  GET    tls-sessions?days=&domain=            our outbound TLS outcomes per day (superadmin)
  PUT    domains/{name}/second-factor {require_second_factor}  2단계 인증 required of its users
  DELETE accounts/{id}/second-factor           reset the account's factors (a lost phone)
  GET    accounts?domain=&q=&active=   POST accounts {address, password?, …}
  GET    accounts/{id}  PATCH {display_name, quota_bytes, is_active, is_superadmin,
                               admin_domains}  DELETE
  POST   accounts/{id}/password {password?}    set, or reset (generated, returned once)
  GET    accounts/{id}/app-passwords  POST {name}  DELETE accounts/{id}/app-passwords/{ap}
  GET    accounts/{id}/aliases  POST {source}  aliases delivering to the account
  GET    aliases?domain=&q=  POST aliases {source, targets}
  GET    aliases/{id}  PUT {targets}  DELETE
  GET    relay-rules  POST {network, action, sender_domain, recipient_domain, comment, force}
  DELETE relay-rules/{id}                      (relay rules: superadmin)
  GET    queue?state=&direction=&sender=&recipient=&queue_id=&message_id=&since=&until=
  GET    queue/{queue_id}  DELETE  POST queue/{queue_id}/retry  POST queue/{queue_id}/bounce
  POST   queue/flush                           (superadmin)
  GET    delivery-log?…                        same filters, every state
  GET    audit-log?actor=&action=&target=&domain=
  GET    login-history?address=&ip=&door=&result=   every login attempt (로그인 기록)
  GET    sending-holds?domain=                 held senders (containment) and their paused mail
  POST   sending-holds/{account_id}/release    held mail goes out, counters reset (not your own)
  POST   sending-holds/{account_id}/delete {queue_ids?}   held mail deleted, audited per message
  POST   accounts/{id}/hold {detail?}          hold an account's sending now
  GET    accounts/{id}/sending-policy  PUT {exempt, burst_limit, daily_limit}  DELETE
  GET    domains/{name}/sending-policy  PUT …  DELETE       (PUT/DELETE: superadmin)
"""

from __future__ import annotations

from django.urls import path

from webmail.adminconsole import (
    accounts,
    aliases,
    containment,
    domains,
    mtasts,
    operations,
    pop3,
    twofactor,
)

app_name = "adminconsole"

urlpatterns = [
    path("dashboard", operations.DashboardView.as_view(), name="dashboard"),
    path("domains", domains.DomainListView.as_view(), name="domain-list"),
    path("domains/<str:name>", domains.DomainDetailView.as_view(), name="domain-detail"),
    path("domains/<str:name>/catchall", domains.CatchallView.as_view(), name="domain-catchall"),
    path("domains/<str:name>/policy", domains.DomainPolicyView.as_view(), name="domain-policy"),
    path("domains/<str:name>/dkim", domains.DkimView.as_view(), name="domain-dkim"),
    path(
        "domains/<str:name>/dkim/<str:selector>/activate",
        domains.DkimActivateView.as_view(),
        name="domain-dkim-activate",
    ),
    path("domains/<str:name>/dns", domains.DnsCheckView.as_view(), name="domain-dns"),
    path("domains/<str:name>/mta-sts", mtasts.MtaStsView.as_view(), name="domain-mta-sts"),
    path(
        "domains/<str:name>/tls-reports",
        mtasts.TlsReportListView.as_view(),
        name="domain-tls-reports",
    ),
    path("tls-sessions", mtasts.TlsSessionListView.as_view(), name="tls-sessions"),
    path(
        "domains/<str:name>/second-factor",
        twofactor.DomainSecondFactorView.as_view(),
        name="domain-second-factor",
    ),
    path(
        "accounts/<int:pk>/second-factor",
        twofactor.AccountSecondFactorView.as_view(),
        name="account-second-factor",
    ),
    path("accounts", accounts.AccountListView.as_view(), name="account-list"),
    path("accounts/<int:pk>", accounts.AccountDetailView.as_view(), name="account-detail"),
    path("accounts/<int:pk>/pop3", pop3.AdminPop3SettingsView.as_view(), name="account-pop3"),
    path(
        "accounts/<int:pk>/password",
        accounts.AccountPasswordView.as_view(),
        name="account-password",
    ),
    path(
        "accounts/<int:pk>/app-passwords",
        accounts.AppPasswordListView.as_view(),
        name="account-app-passwords",
    ),
    path(
        "accounts/<int:pk>/app-passwords/<int:app_password_id>",
        accounts.AppPasswordDetailView.as_view(),
        name="account-app-password",
    ),
    path(
        "accounts/<int:pk>/aliases", accounts.AccountAliasesView.as_view(), name="account-aliases"
    ),
    path("aliases", aliases.AliasListView.as_view(), name="alias-list"),
    path("aliases/<int:pk>", aliases.AliasDetailView.as_view(), name="alias-detail"),
    path("relay-rules", operations.RelayRuleListView.as_view(), name="relay-rule-list"),
    path(
        "relay-rules/<int:pk>", operations.RelayRuleDetailView.as_view(), name="relay-rule-detail"
    ),
    path("queue", operations.QueueListView.as_view(), name="queue-list"),
    path("queue/flush", operations.QueueFlushView.as_view(), name="queue-flush"),
    path("queue/<str:queue_id>", operations.QueueEntryView.as_view(), name="queue-entry"),
    path("queue/<str:queue_id>/retry", operations.QueueRetryView.as_view(), name="queue-retry"),
    path("queue/<str:queue_id>/bounce", operations.QueueBounceView.as_view(), name="queue-bounce"),
    path("delivery-log", operations.DeliveryLogView.as_view(), name="delivery-log"),
    path("audit-log", operations.AuditLogView.as_view(), name="audit-log"),
    path("login-history", operations.LoginHistoryView.as_view(), name="login-history"),
    path("sending-holds", containment.HeldSenderListView.as_view(), name="sending-holds"),
    path(
        "sending-holds/<int:pk>/release",
        containment.HeldReleaseView.as_view(),
        name="sending-hold-release",
    ),
    path(
        "sending-holds/<int:pk>/delete",
        containment.HeldDeleteView.as_view(),
        name="sending-hold-delete",
    ),
    path("accounts/<int:pk>/hold", containment.AccountHoldView.as_view(), name="account-hold"),
    path(
        "accounts/<int:pk>/sending-policy",
        containment.AccountPolicyView.as_view(),
        name="account-sending-policy",
    ),
    path(
        "domains/<str:name>/sending-policy",
        containment.DomainPolicyView.as_view(),
        name="domain-sending-policy",
    ),
]
