"""Finding mail: GET messages/search (subject, people and body text, every term must match)
and GET contacts (recipient autocomplete). Parse → mailcore query → serialize; the optional
folder goes through access_folder, so another user's folder id is a 404.
"""

from __future__ import annotations

import re

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.contacts.queries import suggest_recipients
from mailcore.search.query import highlight_terms
from mailcore.store.queries import (
    MAX_SEARCH_CHARS,
    MAX_SEARCH_TERMS,
    access_folder,
    search_messages,
)
from webmail.accounts.current import current_account
from webmail.api.pagination import InvalidCursor, decode_opaque, encode_opaque
from webmail.api.serializers import (
    ErrorSerializer,
    IdField,
    MessageListItemSerializer,
    MessageListQuerySerializer,
    ValidationErrorSerializer,
    message_filters,
)

CONTACTS_LIMIT = 10
_CURSOR = re.compile(r"^s1:([1-9][0-9]{0,18})$")


def encode_search_cursor(last_id: int) -> str:
    return encode_opaque(f"s1:{last_id}")


def decode_search_cursor(cursor: str) -> int:
    """The id to continue below; InvalidCursor for anything encode did not produce."""
    match = _CURSOR.match(decode_opaque(cursor))
    if match is None:
        raise InvalidCursor
    return int(match.group(1))


class SearchQuerySerializer(MessageListQuerySerializer):
    # limit and cursor (capped page size, next_cursor) as for a folder's message list.
    q = serializers.CharField(
        max_length=MAX_SEARCH_CHARS,
        help_text="words separated by spaces; each must appear (after NFKC and case folding) "
        "in the subject, the sender, a recipient, the body or an attachment's file name; "
        "operators from: to: subject: body: filename: has:attachment is:unread is:read "
        "is:starred is:unstarred before:YYYY-MM-DD after:YYYY-MM-DD (arrival) in:FOLDER",
    )
    folder = IdField(
        required=False, help_text="search only this folder (default: all but Trash and Junk)"
    )


class SearchItemSerializer(MessageListItemSerializer):
    folder_id = serializers.IntegerField(help_text="the folder the message is in")


class SearchPageSerializer(serializers.Serializer):
    results = SearchItemSerializer(many=True)
    highlight = serializers.ListField(
        child=serializers.CharField(),
        help_text="the search's words as matched (folded: NFKC, case-folded); mark them "
        "case-insensitively in subjects, names and snippets",
    )
    next_cursor = serializers.CharField(
        allow_null=True, help_text="pass as ?cursor= for the next page; null at the end"
    )


class ContactsQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_SEARCH_CHARS,
        help_text="part of a name or address; empty: the most used",
    )


class ContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    address = serializers.CharField()
    count = serializers.IntegerField(help_text="messages exchanged with this address, recently")
    contact_id = serializers.IntegerField(
        allow_null=True, help_text="the address-book contact it comes from, if any"
    )
    group_id = serializers.IntegerField(
        allow_null=True, help_text="a contact group: send it as to_groups/cc_groups/bcc_groups"
    )
    members = serializers.IntegerField(help_text="contacts in the group (0 for an address)")


class SearchView(APIView):
    @extend_schema(
        operation_id="messages_search",
        parameters=[SearchQuerySerializer],
        responses={
            200: SearchPageSerializer,
            400: OpenApiResponse(ValidationErrorSerializer, description="invalid query"),
            404: OpenApiResponse(ErrorSerializer, description="no such folder (or not yours)"),
        },
        description="Newest first (by arrival). Terms match as substrings (so 견적서 finds "
        "견적서를, room finds Mailroom, ＡＢＣ finds abc), never across a space, a line "
        f"break or two fields. q is 1–{MAX_SEARCH_CHARS} characters, at most "
        f"{MAX_SEARCH_TERMS} words. Without folder or in:, Trash and Junk are left out.",
    )
    def get(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        folder = (
            access_folder(current_account(request), data["folder"]) if "folder" in data else None
        )
        limit = data.get("limit", settings.API_PAGE_SIZE)
        before_id = decode_search_cursor(data["cursor"]) if "cursor" in data else None
        # One row more than asked says whether another page exists, without a COUNT.
        rows = search_messages(
            current_account(request),
            data["q"],
            folder=folder,
            before_id=before_id,
            limit=limit + 1,
            filters=message_filters(data),
        )
        page = rows[:limit]
        next_cursor = encode_search_cursor(page[-1].pk) if len(rows) > limit else None
        body = {
            "results": page,
            "next_cursor": next_cursor,
            "highlight": highlight_terms(data["q"]),
        }
        return Response(SearchPageSerializer(body).data)


class ContactsView(APIView):
    @extend_schema(
        operation_id="contacts_list",
        parameters=[ContactsQuerySerializer],
        responses={
            200: ContactSerializer(many=True),
            400: OpenApiResponse(ValidationErrorSerializer, description="invalid query"),
        },
        description=f"At most {CONTACTS_LIMIT} suggestions whose name or address contains q: "
        "your contact groups, then address-book addresses, then addresses you wrote to (Sent) "
        "or received mail from, most used first.",
    )
    def get(self, request: Request) -> Response:
        query = ContactsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        contacts = suggest_recipients(
            current_account(request), query.validated_data.get("q", ""), limit=CONTACTS_LIMIT
        )
        return Response(ContactSerializer(contacts, many=True).data)
