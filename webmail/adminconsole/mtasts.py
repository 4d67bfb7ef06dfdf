"""MTA-STS and TLS reporting in the console (issue 15 item 7): a domain's published policy
(mode, further MX, max_age, and the records to publish), the TLS reports other senders
mailed about it, and (superadmin) our own outbound TLS session counts."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from mailcore.directory.roles import access_domain
from mailcore.mtasts.queries import list_session_counts, list_tls_reports
from mailcore.mtasts.serving import do_set_domain_sts, served_policy
from webmail.adminconsole import serializers as s
from webmail.adminconsole.base import AdminView

NOT_FOUND = OpenApiResponse(s.AdminDetailSerializer, description="no such domain (or not yours)")
INVALID = OpenApiResponse(s.AdminDetailSerializer, description="invalid input")
MODES = ("none", "testing", "enforce")


class AdminMtaStsSerializer(serializers.Serializer):
    domain = serializers.CharField()
    mode = serializers.ChoiceField(choices=MODES)
    max_age = serializers.IntegerField(help_text="seconds senders cache the policy")
    extra_mx = serializers.ListField(
        child=serializers.CharField(), help_text="MX names besides this server's host name"
    )
    mx = serializers.ListField(child=serializers.CharField(), help_text="the mx lines served")
    text = serializers.CharField(help_text="the policy file served on mta-sts.<domain>")
    policy_id = serializers.CharField()
    sts_record = serializers.CharField(help_text="TXT value of _mta-sts.<domain>")
    tlsrpt_record = serializers.CharField(help_text="TXT value of _smtp._tls.<domain>")


class AdminMtaStsUpdateSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=MODES)
    max_age = serializers.IntegerField(min_value=0, max_value=31_557_600, default=604800)
    extra_mx = serializers.ListField(
        child=serializers.CharField(max_length=253), max_length=20, default=list
    )


class AdminTlsFailureSerializer(serializers.Serializer):
    result_type = serializers.CharField()
    sending_mta_ip = serializers.CharField()
    receiving_mx_hostname = serializers.CharField()
    receiving_ip = serializers.CharField()
    failed_session_count = serializers.IntegerField()
    additional_information = serializers.CharField()
    failure_reason_code = serializers.CharField()


class AdminTlsPolicySerializer(serializers.Serializer):
    policy_type = serializers.CharField()
    policy_domain = serializers.CharField()
    mx_host = serializers.ListField(child=serializers.CharField())
    successful = serializers.IntegerField()
    failed = serializers.IntegerField()
    failures = AdminTlsFailureSerializer(many=True)


class AdminTlsReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    organization = serializers.CharField(help_text="the reporting sender")
    contact = serializers.CharField()
    report_id = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    successful = serializers.IntegerField()
    failed = serializers.IntegerField()
    policies = AdminTlsPolicySerializer(many=True)
    received_at = serializers.DateTimeField()


class AdminTlsReportListSerializer(serializers.Serializer):
    items = AdminTlsReportSerializer(many=True)


class AdminTlsSessionQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=90, default=7)
    domain = serializers.CharField(required=False, allow_blank=True, max_length=253, default="")


class AdminTlsSessionCountSerializer(serializers.Serializer):
    day = serializers.DateField()
    policy_domain = serializers.CharField()
    policy_type = serializers.CharField(help_text="sts | no-policy-found")
    policy_id = serializers.CharField()
    result_type = serializers.CharField(help_text="'' = successful sessions")
    receiving_mx = serializers.CharField()
    receiving_ip = serializers.CharField()
    count = serializers.IntegerField()


class AdminTlsSessionListSerializer(serializers.Serializer):
    items = AdminTlsSessionCountSerializer(many=True)


class MtaStsView(AdminView):
    @extend_schema(
        operation_id="admin_domains_mta_sts_retrieve",
        responses={200: AdminMtaStsSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        return self.answer(AdminMtaStsSerializer, served_policy(domain))

    @extend_schema(
        operation_id="admin_domains_mta_sts_update",
        request=AdminMtaStsUpdateSerializer,
        responses={200: AdminMtaStsSerializer, 400: INVALID, 404: NOT_FOUND},
        description="Changes the policy served; its id (the _mta-sts TXT record) changes too: "
        "publish the new record.",
    )
    def put(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        v = self.body(AdminMtaStsUpdateSerializer)
        served = do_set_domain_sts(
            domain, mode=v["mode"], max_age=v["max_age"], extra_mx=v["extra_mx"]
        )
        self.audit(
            "domain.mta_sts",
            domain.name,
            domain=domain.name,
            mode=served.mode,
            max_age=served.max_age,
            extra_mx=served.extra_mx,
        )
        return self.answer(AdminMtaStsSerializer, served)


class TlsReportListView(AdminView):
    @extend_schema(
        operation_id="admin_domains_tls_reports_list",
        responses={200: AdminTlsReportListSerializer, 404: NOT_FOUND},
        description="The latest 100 TLS reports (RFC 8460) other senders mailed about the "
        "domain: period, reporter, successful and failed sessions, failure details.",
    )
    def get(self, request: Request, name: str) -> Response:
        domain = access_domain(self.scope, name)
        return self.answer(AdminTlsReportListSerializer, {"items": list_tls_reports(domain.name)})


class TlsSessionListView(AdminView):
    superadmin_only = True

    @extend_schema(
        operation_id="admin_tls_sessions_list",
        parameters=[AdminTlsSessionQuerySerializer],
        responses={200: AdminTlsSessionListSerializer},
        description="Superadmin: our outbound SMTP sessions' TLS outcomes per day and "
        "destination (what our TLS-RPT reports would say), at most 1000 rows.",
    )
    def get(self, request: Request) -> Response:
        v = self.query(AdminTlsSessionQuerySerializer)
        since = timezone.now().date() - dt.timedelta(days=v["days"] - 1)
        rows = list(list_session_counts(since, v["domain"].strip().lower())[:1000])
        return self.answer(AdminTlsSessionListSerializer, {"items": rows})
