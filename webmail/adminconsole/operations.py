"""Server operations: relay-access rules (superadmin), the mail queue and delivery log (scoped
to a domain admin's domains), the dashboard and the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mailcore.delivery import queueops
from mailcore.delivery.models import QueueEntry
from mailcore.directory.actions import do_add_relay_rule, do_remove_relay_rule
from mailcore.directory.models import AuditLog, LoginRecord, RelayRule
from mailcore.directory.reports import (
    EntryFilter,
    access_entry,
    attempts_of,
    check_may_act_on_entry,
    list_audit_log,
    list_login_history,
    queue_size,
    search_entries,
    storage_per_domain,
    top_accounts_by_storage,
    traffic_per_day,
    unrouted_role_addresses,
    visible_recipients,
)
from mailcore.directory.roles import (
    AdminScope,
    access_relay_rule,
    list_domains,
    list_relay_rules,
)
from mailcore.tls import certificates_from_settings
from webmail.adminconsole import serializers as s
from webmail.adminconsole.base import AdminListView, AdminView

FORBIDDEN = OpenApiResponse(
    s.AdminDetailSerializer, description="not an administrator (or not allowed for this entry)"
)
INVALID = OpenApiResponse(s.AdminDetailSerializer, description="invalid input")
CONFLICT = OpenApiResponse(s.AdminDetailSerializer, description="refused (see detail)")
NOT_FOUND = OpenApiResponse(s.AdminDetailSerializer, description="not found (or not yours)")


# --- relay access rules --------------------------------------------------------------------------


class RelayRuleListView(AdminListView):
    superadmin_only = True
    query_serializer = s.AdminPageQuerySerializer
    page_serializer = s.AdminRelayRulePageSerializer
    page_key = "id"

    def rows(self, v: dict[str, Any]) -> QuerySet[RelayRule]:
        return list_relay_rules()

    @extend_schema(
        operation_id="admin_relay_rules_list",
        parameters=[s.AdminPageQuerySerializer],
        responses={200: s.AdminRelayRulePageSerializer, 403: FORBIDDEN},
        description="Superadmin only (sendmail's /etc/mail/access).",
    )
    def get(self, request: Request) -> Response:
        return self.list_page()

    @extend_schema(
        operation_id="admin_relay_rules_create",
        request=s.AdminRelayRuleCreateSerializer,
        responses={200: s.AdminRelayRuleSerializer, 400: INVALID, 403: FORBIDDEN, 409: CONFLICT},
        description="Adds a rule, or changes the action of the rule with the same network and "
        "domains. Networks wider than /24 (IPv4) or /56 (IPv6) need force=true (409 "
        "otherwise), exactly as `manage.py access add --force`.",
    )
    def post(self, request: Request) -> Response:
        v = self.body(s.AdminRelayRuleCreateSerializer)
        rule = do_add_relay_rule(
            v["network"],
            v["action"],
            sender_domain=v["sender_domain"],
            recipient_domain=v["recipient_domain"],
            comment=v["comment"],
            force=v["force"],
        )
        self.audit(
            "relay_rule.set",
            str(rule),
            network=rule.network,
            action=rule.action,
            sender_domain=rule.sender_domain,
            recipient_domain=rule.recipient_domain,
            force=v["force"],
        )
        return self.answer(s.AdminRelayRuleSerializer, rule)


class RelayRuleDetailView(AdminView):
    superadmin_only = True

    @extend_schema(
        operation_id="admin_relay_rules_destroy",
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        rule = access_relay_rule(pk)
        do_remove_relay_rule(
            rule.network, sender_domain=rule.sender_domain, recipient_domain=rule.recipient_domain
        )
        return self.done("relay_rule.remove", str(rule), network=rule.network, action=rule.action)


# --- queue and delivery log ----------------------------------------------------------------------


def _entries_data(scope: AdminScope, entries: list[QueueEntry]) -> list[dict[str, Any]]:
    attempts = attempts_of(entries)
    now = timezone.now()
    return [
        {
            "queue_id": e.queue_id,
            "direction": e.direction,
            "state": e.state,
            "sender": e.sender,
            "size": e.size,
            "received_at": e.received_at,
            "next_attempt_at": e.next_attempt_at,
            "scheduled": e.state == "queued" and e.attempts == 0 and e.next_attempt_at > now,
            "attempts": e.attempts,
            "last_error": e.last_error,
            "client_ip": e.client_ip,
            "message_id": e.message_id or (e.sent_copy.message_id if e.sent_copy else ""),
            "origin": e.origin,
            "recipients": visible_recipients(scope, e),
            "attempt_log": attempts[e.pk],
        }
        for e in entries
    ]


def _filter(v: dict[str, Any], *, default_state: str) -> EntryFilter:
    return EntryFilter(
        queue_id=v["queue_id"],
        message_id=v["message_id"],
        sender=v["sender"],
        recipient=v["recipient"],
        state=v["state"] or default_state,
        direction=v["direction"],
        since=v["since"],
        until=v["until"],
    )


class _EntryListView(AdminListView):
    # Queue entries, newest first, matching the search; `default_state` when none is asked.

    query_serializer = s.AdminQueueQuerySerializer
    page_serializer = s.AdminQueuePageSerializer
    page_key = "id"
    newest_first = True
    default_state: ClassVar[str]

    def rows(self, v: dict[str, Any]) -> QuerySet[QueueEntry]:
        found = search_entries(self.scope, _filter(v, default_state=self.default_state))
        return found.prefetch_related("recipients")

    def on_page(self, items: list[Any]) -> list[Any]:
        return _entries_data(self.scope, items)


def _acted_on(view: AdminView, queue_id: str) -> QueueEntry:
    """The entry if visible to the admin (else 404) and theirs to act on (else 403)."""
    entry = access_entry(view.scope, queue_id)
    check_may_act_on_entry(view.scope, entry)
    return entry


def _entry_response(view: AdminView, queue_id: str) -> Response:
    """The entry as it is now in the database, with its recipients and attempts."""
    entry = access_entry(view.scope, queue_id)
    return view.answer(s.AdminQueueEntrySerializer, _entries_data(view.scope, [entry])[0])


class QueueListView(_EntryListView):
    default_state = "pending"

    @extend_schema(
        operation_id="admin_queue_list",
        parameters=[s.AdminQueueQuerySerializer],
        responses={200: s.AdminQueuePageSerializer, 403: FORBIDDEN},
        description="Entries still in the queue (state queued or held; state= to change), "
        "newest first, with each recipient's state and last reply and every attempt.",
    )
    def get(self, request: Request) -> Response:
        return self.list_page()


class DeliveryLogView(_EntryListView):
    default_state = ""

    @extend_schema(
        operation_id="admin_delivery_log",
        parameters=[s.AdminQueueQuerySerializer],
        responses={200: s.AdminQueuePageSerializer, 403: FORBIDDEN},
        description="Every accepted message, delivered or not, newest first; search by "
        "queue_id, message_id, sender, recipient (substrings) and a received_at range.",
    )
    def get(self, request: Request) -> Response:
        return self.list_page()


class QueueEntryView(AdminView):
    @extend_schema(
        operation_id="admin_queue_retrieve",
        responses={200: s.AdminQueueEntrySerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, queue_id: str) -> Response:
        return _entry_response(self, queue_id)

    @extend_schema(
        operation_id="admin_queue_destroy",
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
        description="Removes the entry and its spool file without a bounce (postsuper -d).",
    )
    def delete(self, request: Request, queue_id: str) -> Response:
        entry = _acted_on(self, queue_id)
        domain = _entry_domain(self.scope, entry)  # before the recipients rows go
        queueops.do_delete_entry(entry.queue_id)
        return self.done("queue.delete", entry.queue_id, domain=domain, sender=entry.sender)


def _entry_domain(scope: AdminScope, entry: QueueEntry) -> str:
    """The local domain an audit row about `entry` belongs to: the sender's if it is one of
    the admin's domains, else the first such recipient's ('' if none)."""
    candidates = [a.rpartition("@")[2].lower() for a in (entry.sender, *entry_addresses(entry))]
    ours = set(list_domains(scope).filter(name__in=candidates).values_list("name", flat=True))
    return next((d for d in candidates if d in ours), "")


def entry_addresses(entry: QueueEntry) -> list[str]:
    return [r.address for r in entry.recipients.all()]


class QueueRetryView(AdminView):
    @extend_schema(
        operation_id="admin_queue_retry",
        request=None,
        responses={200: s.AdminQueueEntrySerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
        description="Makes a queued or held entry due now (409 when already done or being "
        "delivered at this moment).",
    )
    def post(self, request: Request, queue_id: str) -> Response:
        entry = _acted_on(self, queue_id)
        queueops.do_retry_entry(entry.queue_id)
        self.audit("queue.retry", entry.queue_id, domain=_entry_domain(self.scope, entry))
        return _entry_response(self, queue_id)


class QueueBounceView(AdminView):
    @extend_schema(
        operation_id="admin_queue_bounce",
        request=None,
        responses={
            200: s.AdminBounceResultSerializer,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
        description="Bounces every pending recipient with one DSN to the sender.",
    )
    def post(self, request: Request, queue_id: str) -> Response:
        entry = _acted_on(self, queue_id)
        n = queueops.do_bounce_entry(entry.queue_id)
        self.audit(
            "queue.bounce", entry.queue_id, domain=_entry_domain(self.scope, entry), bounced=n
        )
        return self.answer(s.AdminBounceResultSerializer, {"bounced": n})


class QueueFlushView(AdminView):
    superadmin_only = True

    @extend_schema(
        operation_id="admin_queue_flush",
        request=None,
        responses={200: s.AdminFlushResultSerializer, 403: FORBIDDEN},
        description="Superadmin only: every queued or held entry becomes due now (postqueue -f).",
    )
    def post(self, request: Request) -> Response:
        n = queueops.do_flush_queue()
        self.audit("queue.flush", "*", flushed=n)
        return self.answer(s.AdminFlushResultSerializer, {"flushed": n})


# --- dashboard and audit log ---------------------------------------------------------------------


class DashboardView(AdminView):
    @extend_schema(
        operation_id="admin_dashboard",
        parameters=[s.AdminDashboardQuerySerializer],
        responses={200: s.AdminDashboardSerializer, 403: FORBIDDEN},
        description="Messages in/out per UTC day (from the queue of record), the queue size, "
        "storage per domain, the 20 largest accounts and warnings (postmaster@ or abuse@ "
        "with nowhere to go); all within your domains.",
    )
    def get(self, request: Request) -> Response:
        days = self.query(s.AdminDashboardQuerySerializer)["days"]
        data = {
            "traffic": traffic_per_day(self.scope, days),
            "queue": queue_size(self.scope),
            "domains": storage_per_domain(self.scope),
            "top_accounts": top_accounts_by_storage(self.scope),
            "warnings": [
                {
                    "code": f"{gap.local}_unrouted",
                    "address": gap.address,
                    "domain": gap.domain,
                    "detail": gap.advice,
                }
                for gap in unrouted_role_addresses(self.scope)
            ]
            + (certificate_warnings() if self.scope.is_superadmin else []),
        }
        return self.answer(s.AdminDashboardSerializer, data)


def certificate_warnings() -> list[dict[str, str]]:
    """The listeners' TLS certificates that end within TLS_EXPIRY_WARNING_DAYS (issue 15 item
    2): server-wide, so shown to superadmins only."""
    days = settings.TLS_EXPIRY_WARNING_DAYS
    out = []
    for info in certificates_from_settings():
        left = info.days_left()
        if left >= days:
            continue
        out.append(
            {
                "code": "tls_expired" if left < 0 else "tls_expiring",
                "address": ", ".join(info.names),
                "domain": info.names[0] if info.names else info.label,
                "detail": f"{max(0, int(left))} days left; expires {info.not_after:%Y-%m-%d} "
                f"({info.cert_file})",
                "expires": info.not_after.isoformat(),
            }
        )
    return out


class AuditLogView(AdminListView):
    query_serializer = s.AdminAuditQuerySerializer
    page_serializer = s.AdminAuditPageSerializer
    page_key = "id"
    newest_first = True

    def rows(self, v: dict[str, Any]) -> QuerySet[AuditLog]:
        qs = list_audit_log(self.scope)
        if v["actor"]:
            qs = qs.filter(actor__icontains=v["actor"].strip())
        if v["action"]:
            qs = qs.filter(action__startswith=v["action"].strip())
        if v["target"]:
            qs = qs.filter(target__icontains=v["target"].strip())
        if v["domain"]:
            qs = qs.filter(domain=v["domain"].strip().lower())
        return qs

    @extend_schema(
        operation_id="admin_audit_log",
        parameters=[s.AdminAuditQuerySerializer],
        responses={200: s.AdminAuditPageSerializer, 403: FORBIDDEN},
        description="Newest first. A domain admin sees the entries of its domains only.",
    )
    def get(self, request: Request) -> Response:
        return self.list_page()


class LoginHistoryView(AdminListView):
    query_serializer = s.AdminLoginQuerySerializer
    page_serializer = s.AdminLoginPageSerializer
    page_key = "id"
    newest_first = True

    def rows(self, v: dict[str, Any]) -> QuerySet[LoginRecord]:
        qs = list_login_history(self.scope)
        if v["address"]:
            qs = qs.filter(address__icontains=v["address"].strip())
        if v["ip"]:
            qs = qs.filter(ip=v["ip"].strip())
        if v["door"]:
            qs = qs.filter(door=v["door"])
        if v["result"]:
            qs = qs.filter(result=v["result"])
        return qs

    @extend_schema(
        operation_id="admin_login_history",
        parameters=[s.AdminLoginQuerySerializer],
        responses={200: s.AdminLoginPageSerializer, 403: FORBIDDEN},
        description="로그인 기록: every login attempt through every door (web, API, SMTP AUTH, "
        "IMAP, POP3), newest first, kept LOGIN_HISTORY_DAYS. A domain admin sees its domains'.",
    )
    def get(self, request: Request) -> Response:
        return self.list_page()
