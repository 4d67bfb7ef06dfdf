"""Mail rule endpoints under settings/: the rule list (메일 필터), the Sieve script behind it,
blocked senders (수신차단), forwarding (자동전달), the vacation reply (부재중 자동응답) and
"apply to existing mail" jobs. Parse -> one mailcore.rules action/query -> serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.rules.actions import (
    ScriptError,
    do_block_sender,
    do_save_rules,
    do_save_script,
    do_set_forwarding,
    do_set_vacation,
    do_start_rule_job,
    do_unblock_sender,
)
from mailcore.rules.models import BlockedSender, RuleJob
from mailcore.rules.queries import (
    access_job,
    get_forwarding,
    get_ruleset,
    get_vacation,
    list_blocked,
    vacation_on,
)
from mailcore.store.queries import access_folder
from webmail.accounts.current import current_account
from webmail.api.errors import error_response
from webmail.api.serializers import ErrorSerializer, ValidationErrorSerializer

INVALID = OpenApiResponse(ValidationErrorSerializer, description="invalid input")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="no such id (or not yours)")


class ConditionSerializer(serializers.Serializer[Any]):
    field = serializers.ChoiceField(
        choices=[
            "from",
            "to",
            "subject",
            "body",
            "header",
            "size",
            "attachment",
            "dmarc",
            "spam_score",
        ]
    )
    op = serializers.CharField(required=False, default="contains", max_length=20)
    value = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)
    header = serializers.CharField(required=False, default="", allow_blank=True, max_length=100)


class ActionSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(
        choices=["move", "star", "read", "keyword", "forward", "delete", "reject", "stop"]
    )
    value = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)


class RuleSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)
    enabled = serializers.BooleanField(required=False, default=True)
    match = serializers.ChoiceField(choices=["all", "any"], required=False, default="all")
    conditions = ConditionSerializer(many=True)
    actions = ActionSerializer(many=True)


class RulesSerializer(serializers.Serializer[Any]):
    rules = RuleSerializer(many=True)
    custom = serializers.BooleanField(read_only=True)
    script = serializers.CharField(read_only=True)


class ScriptSerializer(serializers.Serializer[Any]):
    script = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=70_000)
    custom = serializers.BooleanField(read_only=True)


class ScriptErrorSerializer(serializers.Serializer[Any]):
    error = serializers.CharField()
    detail = serializers.CharField()
    line = serializers.IntegerField()
    column = serializers.IntegerField()


class BlockedSenderSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    value = serializers.CharField(max_length=320)
    created_at = serializers.DateTimeField(read_only=True)


class ForwardingSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField()
    address = serializers.CharField(allow_blank=True, max_length=320)
    keep_copy = serializers.BooleanField()


class VacationSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField()
    start = serializers.DateField(allow_null=True, required=False, default=None)
    end = serializers.DateField(allow_null=True, required=False, default=None)
    subject = serializers.CharField(allow_blank=True, max_length=200, required=False, default="")
    body = serializers.CharField(
        allow_blank=True, max_length=10_000, required=False, default="", trim_whitespace=False
    )
    days = serializers.IntegerField(min_value=1, max_value=30, required=False, default=7)
    active = serializers.BooleanField(read_only=True, help_text="on today (the webmail banner)")


class RuleJobCreateSerializer(serializers.Serializer[Any]):
    folder = serializers.IntegerField()


class RuleJobSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    folder = serializers.IntegerField(source="folder_id")
    state = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    changed = serializers.IntegerField()
    error = serializers.CharField()


def _rules_data(request: Request) -> dict[str, Any]:
    ruleset = get_ruleset(current_account(request))
    return dict(
        RulesSerializer(
            {"rules": ruleset.rules, "custom": ruleset.custom, "script": ruleset.script}
        ).data
    )


class RulesView(APIView):
    @extend_schema(operation_id="rules_retrieve", responses={200: RulesSerializer})
    def get(self, request: Request) -> Response:
        return Response(_rules_data(request))

    @extend_schema(
        operation_id="rules_update",
        request=RulesSerializer,
        responses={200: RulesSerializer, 400: INVALID},
        description="Replace the rule list; the Sieve script is generated from it, in order.",
    )
    def put(self, request: Request) -> Response:
        data = RulesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        do_save_rules(acting_account=current_account(request), rules=data.validated_data["rules"])
        return Response(_rules_data(request))


class ScriptView(APIView):
    @extend_schema(operation_id="rules_script_retrieve", responses={200: ScriptSerializer})
    def get(self, request: Request) -> Response:
        ruleset = get_ruleset(current_account(request))
        return Response(ScriptSerializer({"script": ruleset.script, "custom": ruleset.custom}).data)

    @extend_schema(
        operation_id="rules_script_update",
        request=ScriptSerializer,
        responses={200: ScriptSerializer, 400: ScriptErrorSerializer},
        description="Store a hand-written Sieve script (RFC 5228 and the extensions listed in "
        "the README); it is checked first and an error names its line and column.",
    )
    def put(self, request: Request) -> Response:
        data = ScriptSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            ruleset = do_save_script(
                acting_account=current_account(request), script=data.validated_data["script"]
            )
        except ScriptError as exc:
            return error_response(
                exc.code, str(exc), status.HTTP_400_BAD_REQUEST, line=exc.line, column=exc.column
            )
        return Response(ScriptSerializer({"script": ruleset.script, "custom": ruleset.custom}).data)


class BlockedSendersView(APIView):
    @extend_schema(
        operation_id="blocked_senders_list", responses={200: BlockedSenderSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        rows = list_blocked(current_account(request))
        return Response(BlockedSenderSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="blocked_senders_create",
        request=BlockedSenderSerializer,
        responses={201: BlockedSenderSerializer, 400: INVALID},
        description="Block an address (a@b.c) or a domain (b.c, subdomains included).",
    )
    def post(self, request: Request) -> Response:
        data = BlockedSenderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = do_block_sender(
            acting_account=current_account(request), value=data.validated_data["value"]
        )
        return Response(BlockedSenderSerializer(row).data, status=status.HTTP_201_CREATED)


class BlockedSenderDetailView(APIView):
    @extend_schema(operation_id="blocked_senders_destroy", responses={204: None, 404: NOT_FOUND})
    def delete(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        row = BlockedSender.objects.filter(account=account, pk=pk).first()
        if row is None or not do_unblock_sender(acting_account=account, value=row.value):
            return error_response("not_found", "Not found.", status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ForwardingView(APIView):
    @extend_schema(operation_id="forwarding_retrieve", responses={200: ForwardingSerializer})
    def get(self, request: Request) -> Response:
        return Response(ForwardingSerializer(get_forwarding(current_account(request))).data)

    @extend_schema(
        operation_id="forwarding_update",
        request=ForwardingSerializer,
        responses={200: ForwardingSerializer, 400: INVALID},
    )
    def put(self, request: Request) -> Response:
        data = ForwardingSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = do_set_forwarding(acting_account=current_account(request), **data.validated_data)
        return Response(ForwardingSerializer(row).data)


def _vacation_data(request: Request) -> dict[str, Any]:
    row = get_vacation(current_account(request))
    out = dict(VacationSerializer(row).data)
    out["active"] = vacation_on(row)
    return out


class VacationView(APIView):
    @extend_schema(operation_id="vacation_retrieve", responses={200: VacationSerializer})
    def get(self, request: Request) -> Response:
        return Response(_vacation_data(request))

    @extend_schema(
        operation_id="vacation_update",
        request=VacationSerializer,
        responses={200: VacationSerializer, 400: INVALID},
    )
    def put(self, request: Request) -> Response:
        data = VacationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        do_set_vacation(acting_account=current_account(request), **data.validated_data)
        return Response(_vacation_data(request))


class RuleJobsView(APIView):
    @extend_schema(
        operation_id="rule_jobs_create",
        request=RuleJobCreateSerializer,
        responses={202: RuleJobSerializer, 404: NOT_FOUND},
        description="Run the rules once over a folder's messages (moves and flags only); "
        "poll the job for progress.",
    )
    def post(self, request: Request) -> Response:
        data = RuleJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = current_account(request)
        folder = access_folder(account, data.validated_data["folder"])
        job = do_start_rule_job(acting_account=account, folder=folder)
        return Response(RuleJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class RuleJobDetailView(APIView):
    @extend_schema(
        operation_id="rule_jobs_retrieve", responses={200: RuleJobSerializer, 404: NOT_FOUND}
    )
    def get(self, request: Request, pk: int) -> Response:
        job: RuleJob = access_job(current_account(request), pk)
        return Response(RuleJobSerializer(job).data)
