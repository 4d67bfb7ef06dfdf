"""What every admin view shares: the role check (superadmin, domain admin, else 403), the
403 translation of AdminForbiddenError, and one shape for the three kinds of endpoint:

- a list (AdminListView): query parameters validated, the scoped rows narrowed by the
  filters, one keyset page (cursor, limit) serialized as {items, next_cursor};
- a detail: `self.answer(Serializer, obj)`;
- an audited change: input from `self.body(Serializer)`, the mailcore action, then one audit
  row (`self.audit`) before the answer, or `self.done(...)` for the 204 ones."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, ClassVar, TypeVar

from django.db.models import Model, QuerySet
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mailcore.directory.actions import do_record_audit
from mailcore.directory.roles import AdminScope, get_admin_scope
from mailcore.errors import AdminForbiddenError
from webmail.accounts.current import current_account
from webmail.api.clientip import client_ip

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT, MAX_LIMIT = 50, 200


class IsAdministrator(BasePermission):
    """A superadmin, or a domain admin (of at least one active domain); views that set
    `superadmin_only` refuse domain admins too. Plain users get 403 everywhere."""

    message = "This needs an administrator account."

    def has_permission(self, request: Request, view: APIView) -> bool:
        scope = get_admin_scope(current_account(request))
        if scope is None:
            return False
        if getattr(view, "superadmin_only", False) and not scope.is_superadmin:
            self.message = "Only a superadmin may do this."
            return False
        request.admin_scope = scope  # type: ignore[attr-defined]
        return True


class AdminView(APIView):
    permission_classes = [IsAuthenticated, IsAdministrator]
    superadmin_only = False

    @property
    def scope(self) -> AdminScope:
        return self.request.admin_scope  # type: ignore[attr-defined]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, AdminForbiddenError):
            exc = exceptions.PermissionDenied(str(exc), code="forbidden")
        return super().handle_exception(exc)

    def require_superadmin(self) -> None:
        if not self.scope.is_superadmin:
            raise exceptions.PermissionDenied("Only a superadmin may do this.")

    def audit(self, what: str, target: str, /, *, domain: str = "", **detail: Any) -> None:
        """One audit row for a change this request made (who, what, when, from where)."""
        do_record_audit(
            actor=self.scope.actor,
            action=what,
            target=target,
            domain=domain,
            detail=detail,
            ip=client_ip(self.request),
        )

    def query(self, serializer: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        """The query parameters through `serializer`: validated, or 400."""
        return _validated(serializer, self.request.query_params)

    def body(self, serializer: type[serializers.Serializer[Any]]) -> dict[str, Any]:
        """The request body through `serializer`: validated, or 400."""
        return _validated(serializer, self.request.data)

    def serializer_context(self) -> dict[str, Any]:
        """What this view's output serializers are given (`answer`, `list_page`)."""
        return {}

    def answer(
        self, serializer: type[serializers.Serializer[Any]], obj: Any, *, status: int = 200
    ) -> Response:
        """`obj` through the output `serializer`, with this view's serializer_context()."""
        return Response(serializer(obj, context=self.serializer_context()).data, status=status)

    def done(self, what: str, target: str, /, *, domain: str = "", **detail: Any) -> Response:
        """A change that answers nothing: its audit row, then 204."""
        self.audit(what, target, domain=domain, **detail)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _validated(serializer: type[serializers.Serializer[Any]], data: Any) -> dict[str, Any]:
    checked = serializer(data=data)
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


# (Comments, not docstrings: drf-spectacular would publish a docstring as the description of
# every endpoint that has none of its own.)
class AdminListView(AdminView):
    # GET of a list: `query_serializer` (a subclass of AdminPageQuerySerializer) checks the
    # parameters, `rows()` gives the scoped rows narrowed by them, one keyset page on
    # `page_key` is taken, `on_page()` may complete it, and `page_serializer` wraps it as
    # {items, next_cursor}. Subclasses keep their own `get` (for its schema) and call
    # `self.list_page()`.

    query_serializer: ClassVar[type[serializers.Serializer[Any]]]
    page_serializer: ClassVar[type[serializers.Serializer[Any]]]
    page_key: ClassVar[str]
    newest_first: ClassVar[bool] = False

    def rows(self, v: dict[str, Any]) -> QuerySet[Any]:
        raise NotImplementedError

    def on_page(self, items: list[Any]) -> list[Any]:
        return items

    def list_page(self) -> Response:
        v = self.query(self.query_serializer)
        items, cursor = keyset_page(
            self.rows(v),
            key=self.page_key,
            descending=self.newest_first,
            cursor=v["cursor"],
            limit=v["limit"],
        )
        page = {"items": self.on_page(items), "next_cursor": cursor}
        return self.answer(self.page_serializer, page)


class InvalidCursor(exceptions.APIException):
    status_code = 400
    default_code = "invalid_cursor"
    default_detail = "The cursor is not valid for this list; start from the first page."


def _encode(value: str | int) -> str:
    raw = json.dumps([value]).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(cursor: str, kind: type) -> Any:
    if len(cursor) > 1400:
        raise InvalidCursor
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        (value,) = json.loads(raw)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidCursor from exc
    if type(value) is not kind:
        raise InvalidCursor
    return value


def keyset_page(
    qs: QuerySet[M], *, key: str, descending: bool, cursor: str, limit: int
) -> tuple[list[M], str | None]:
    """One page of `qs` ordered by the unique column `key`, after the opaque `cursor`.
    Every page costs the same: no OFFSET."""
    field = qs.model._meta.get_field(key)
    kind = int if field.get_internal_type().endswith("AutoField") else str
    if cursor:
        after = _decode(cursor, kind)
        qs = qs.filter(**{f"{key}__lt" if descending else f"{key}__gt": after})
    items = list(qs.order_by(f"-{key}" if descending else key)[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return items, (_encode(getattr(items[-1], key)) if more and items else None)
