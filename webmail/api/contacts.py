"""Address book endpoints (contacts/entries, contacts/groups, contacts/import, contacts/export).
Parse → mailcore.contacts action/query → serialize; every id goes through access_* first, so
another account's contact or group is a 404 before anything is read or changed."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.contacts.actions import (
    ContactFields,
    do_create_contact,
    do_create_group,
    do_delete_contacts,
    do_delete_group,
    do_import_contacts,
    do_rename_group,
    do_update_contact,
)
from mailcore.contacts.formats import MAX_ADDRESSES, render_csv, render_vcards
from mailcore.contacts.models import Contact
from mailcore.contacts.queries import (
    access_contact,
    access_contacts,
    access_group,
    export_cards,
    list_address_book,
    list_groups,
)
from mailcore.errors import NotFoundError
from webmail.accounts.current import current_account
from webmail.api.messages import _AnyAcceptNegotiation
from webmail.api.pagination import InvalidCursor, decode_opaque, encode_opaque
from webmail.api.serializers import (
    ErrorSerializer,
    IdField,
    IdListField,
    StrictSerializer,
    ValidationErrorSerializer,
)

NOT_FOUND = OpenApiResponse(ErrorSerializer, description="no such contact or group (or not yours)")
INVALID = OpenApiResponse(ValidationErrorSerializer, description="invalid input")
LIMIT = OpenApiResponse(
    ErrorSerializer,
    description="contact_limit (CONTACTS_MAX_PER_ACCOUNT, CONTACT_GROUPS_MAX) "
    "or a group of that name exists",
)
_CURSOR = re.compile(r"^c1:([1-9][0-9]{0,18})$")


class GroupRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AddressBookContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    addresses = serializers.SerializerMethodField()
    phone = serializers.CharField()
    company = serializers.CharField()
    memo = serializers.CharField()
    groups = GroupRefSerializer(many=True, source="groups.all")
    source = serializers.CharField(help_text="manual, auto (you wrote to them) or import")  # type: ignore[assignment]
    updated_at = serializers.DateTimeField()

    def get_addresses(self, contact: Contact) -> list[str]:
        return [a.address for a in contact.addresses.all()]


class ContactInputSerializer(StrictSerializer):
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    addresses = serializers.ListField(
        child=serializers.CharField(max_length=320),
        required=False,
        default=list,
        max_length=MAX_ADDRESSES,
        help_text="the first is the one a group send uses",
    )
    phone = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    company = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    memo = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, trim_whitespace=False
    )
    groups = IdListField(required=False, default=list, help_text="ids of your groups")


class AddressBookPageSerializer(serializers.Serializer):
    results = AddressBookContactSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class ContactListQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    group = IdField(required=False)
    cursor = serializers.CharField(required=False, max_length=64, trim_whitespace=False)
    limit = serializers.IntegerField(required=False, min_value=1)


class GroupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField(help_text="contacts in the group")


class GroupListSerializer(serializers.Serializer):
    results = GroupSerializer(many=True)


class GroupInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)


class ImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="a .vcf (vCard 2.1/3.0/4.0) or .csv file")


class ImportSkipSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    reason = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="existing contacts (same address) merged into")
    skipped = ImportSkipSerializer(many=True)


class DeleteCountSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()


def _fields(data: dict[str, Any]) -> ContactFields:
    return ContactFields(
        name=data["name"],
        addresses=data["addresses"],
        phone=data["phone"],
        company=data["company"],
        memo=data["memo"],
        groups=data["groups"],
    )


def _contact_data(account: Any, pk: int) -> dict[str, Any]:
    return dict(AddressBookContactSerializer(access_contact(account, pk)).data)


class ContactListView(APIView):
    @extend_schema(
        operation_id="contacts_entries_list",
        parameters=[ContactListQuerySerializer],
        responses={200: AddressBookPageSerializer, 400: INVALID, 404: NOT_FOUND},
        description="Your contacts by name; q matches name, address, company or phone; group "
        "narrows to one group. Follow next_cursor until it is null.",
    )
    def get(self, request: Request) -> Response:
        account = current_account(request)
        query = ContactListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = min(query.validated_data.get("limit", 100), settings.API_MAX_PAGE_SIZE)
        group = (
            access_group(account, query.validated_data["group"])
            if "group" in query.validated_data
            else None
        )
        after = None
        if cursor := query.validated_data.get("cursor"):
            match = _CURSOR.match(decode_opaque(cursor))
            if match is None:
                raise InvalidCursor
            try:
                last = access_contact(account, int(match.group(1)))
            except NotFoundError as exc:  # deleted meanwhile: start again
                raise InvalidCursor from exc
            after = (last.name, last.pk)
        rows = list_address_book(
            account, q=query.validated_data.get("q", ""), group=group, after=after, limit=limit + 1
        )
        page = rows[:limit]
        next_cursor = encode_opaque(f"c1:{page[-1].pk}") if len(rows) > limit else None
        return Response(
            AddressBookPageSerializer({"results": page, "next_cursor": next_cursor}).data
        )

    @extend_schema(
        operation_id="contacts_entries_create",
        request=ContactInputSerializer,
        responses={201: AddressBookContactSerializer, 400: INVALID, 404: NOT_FOUND, 409: LIMIT},
    )
    def post(self, request: Request) -> Response:
        data = ContactInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = current_account(request)
        contact = do_create_contact(acting_account=account, fields=_fields(data.validated_data))
        return Response(_contact_data(account, contact.pk), status=status.HTTP_201_CREATED)


class ContactDetailView(APIView):
    @extend_schema(
        operation_id="contacts_entries_retrieve",
        responses={200: AddressBookContactSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_contact_data(current_account(request), pk))

    @extend_schema(
        operation_id="contacts_entries_update",
        request=ContactInputSerializer,
        responses={200: AddressBookContactSerializer, 400: INVALID, 404: NOT_FOUND},
        description="Replace the contact (fields left out become empty).",
    )
    def put(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        contact = access_contact(account, pk)
        data = ContactInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        do_update_contact(
            acting_account=account, contact=contact, fields=_fields(data.validated_data)
        )
        return Response(_contact_data(account, pk))

    @extend_schema(
        operation_id="contacts_entries_destroy",
        responses={204: OpenApiResponse(description="deleted"), 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        do_delete_contacts(acting_account=account, contacts=[access_contact(account, pk)])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactIdsSerializer(StrictSerializer):
    ids = IdListField()


class ContactBulkDeleteView(APIView):
    @extend_schema(
        operation_id="contacts_entries_delete",
        request=ContactIdsSerializer,
        responses={200: DeleteCountSerializer, 400: INVALID, 404: NOT_FOUND},
        description="Delete several contacts; if one id is not yours nothing is deleted.",
    )
    def post(self, request: Request) -> Response:
        data = ContactIdsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = current_account(request)
        contacts = access_contacts(account, data.validated_data["ids"])
        deleted = do_delete_contacts(acting_account=account, contacts=contacts)
        return Response({"deleted": deleted})


class GroupListView(APIView):
    @extend_schema(operation_id="contacts_groups_list", responses={200: GroupListSerializer})
    def get(self, request: Request) -> Response:
        return Response(
            GroupListSerializer({"results": list_groups(current_account(request))}).data
        )

    @extend_schema(
        operation_id="contacts_groups_create",
        request=GroupInputSerializer,
        responses={201: GroupSerializer, 400: INVALID, 409: LIMIT},
    )
    def post(self, request: Request) -> Response:
        data = GroupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = do_create_group(
            acting_account=current_account(request), name=data.validated_data["name"]
        )
        group.size = 0  # type: ignore[attr-defined]
        return Response(GroupSerializer(group).data, status=status.HTTP_201_CREATED)


class GroupDetailView(APIView):
    @extend_schema(
        operation_id="contacts_groups_rename",
        request=GroupInputSerializer,
        responses={200: GroupSerializer, 400: INVALID, 404: NOT_FOUND, 409: LIMIT},
    )
    def patch(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        group = access_group(account, pk)
        data = GroupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        do_rename_group(acting_account=account, group=group, name=data.validated_data["name"])
        renamed = next(g for g in list_groups(account) if g.pk == group.pk)
        return Response(GroupSerializer(renamed).data)

    @extend_schema(
        operation_id="contacts_groups_destroy",
        responses={204: OpenApiResponse(description="deleted; its contacts stay"), 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        account = current_account(request)
        do_delete_group(acting_account=account, group=access_group(account, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImportView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="contacts_import",
        request={"multipart/form-data": ImportInputSerializer},
        responses={200: ImportReportSerializer, 400: INVALID, 409: LIMIT},
        description="vCard (2.1/3.0/4.0) or CSV with Naver, Gmail or Outlook column names, "
        "UTF-8 (BOM or not), UTF-16 or CP949/EUC-KR. Cards whose address you already have "
        "are merged. Over CONTACTS_IMPORT_MAX_BYTES, unreadable, or past a limit: 400/409 "
        "and nothing changes.",
    )
    def post(self, request: Request) -> Response:
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > settings.CONTACTS_IMPORT_MAX_BYTES:
            raise serializers.ValidationError(
                {
                    "file": [
                        f"The file is larger than {settings.CONTACTS_IMPORT_MAX_BYTES // 1024} KB."
                    ]
                }
            )
        report = do_import_contacts(acting_account=current_account(request), data=upload.read())
        return Response(ImportReportSerializer(report).data)


class ExportView(APIView):
    content_negotiation_class = _AnyAcceptNegotiation  # a file whatever Accept says

    @extend_schema(
        operation_id="contacts_export",
        parameters=[
            OpenApiParameter(
                "type",
                str,
                OpenApiParameter.QUERY,
                enum=["vcard", "vcard4", "csv"],
                description="vcard: vCard 3.0 (default); vcard4: vCard 4.0; csv: Google CSV "
                "columns, UTF-8 with BOM",
            )
        ],
        responses={
            (200, "text/vcard"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
            400: INVALID,
        },
    )
    def get(self, request: Request) -> HttpResponse:
        fmt = request.query_params.get("type", "vcard")
        cards = export_cards(current_account(request))
        if fmt == "csv":
            response = HttpResponse(render_csv(cards), content_type="text/csv; charset=utf-8")
            name = "contacts.csv"
        elif fmt in ("vcard", "vcard4"):
            text = render_vcards(cards, version="4.0" if fmt == "vcard4" else "3.0")
            response = HttpResponse(text.encode("utf-8"), content_type="text/vcard; charset=utf-8")
            name = "contacts.vcf"
        else:
            raise serializers.ValidationError({"type": ["Use vcard, vcard4 or csv."]})
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
