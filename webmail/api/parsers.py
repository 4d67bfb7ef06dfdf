"""The API's JSON parser: DRF's JSONParser with the body size and the nesting depth bounded
before json.loads runs, so `[[[[…` answers 400 instead of a RecursionError (HTTP 500), and a
body is never read past its cap. No other parsing rule differs from DRF's."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

# Runs of JSON strings (escapes included; one left open runs to the end), each with the
# non-bracket bytes after it, so `"a":1,"b":"c",` is one match, not five. Possessive: no
# backtracking, and a started string never fails (no rescans, no quadratic time).
_STRINGS = re.compile(rb'(?:"(?:[^"\\]++|\\.?)*+(?:"|\Z)[^"\[\]{}]*+)++', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is too large."


class JSONTooDeep(exceptions.ParseError):
    default_code = "json_too_deep"
    default_detail = "JSON nested too deeply."


def json_depth_exceeds(data: bytes, limit: int) -> bool:
    """Whether arrays/objects in `data` nest deeper than `limit`.

    Strings and all else but brackets are dropped; then each pass that removes every innermost
    pair `[]` lowers the nesting by one, so a pair left after `limit` passes means deeper (and
    `limit` + 1 openers in a row say so at once). Only C-speed regex and bytes operations, no
    Python loop per bracket. Malformed input is not judged here; json.loads refuses it next.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # the usual request: too few brackets to nest that deep
    if b'"' in data:
        data = _STRINGS.sub(b"", data)
    brackets = data.translate(_AS_SQUARE, _NOT_BRACKETS)
    too_deep = b"[" * (limit + 1)
    for _ in range(limit):
        if too_deep in brackets:
            return True
        if b"[]" not in brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return b"[]" in brackets


def _limit(view: Any, name: str, default: int) -> int:
    value = getattr(view, name, None)
    return int(value) if value is not None else default


class BoundedJSONParser(JSONParser):
    """Views may lower the caps with `max_json_bytes` / `max_json_depth` attributes (the
    unauthenticated login views take a few KB, not the API-wide API_MAX_REQUEST_BYTES)."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        context = parser_context or {}
        view = context.get("view")
        max_bytes = _limit(view, "max_json_bytes", settings.API_MAX_REQUEST_BYTES)
        max_depth = _limit(view, "max_json_depth", settings.API_MAX_JSON_DEPTH)
        data = stream.read(max_bytes + 1) if stream is not None else b""
        if len(data) > max_bytes:
            raise RequestTooLarge(f"The request body is larger than {max_bytes} bytes.")
        if json_depth_exceeds(data, max_depth):
            raise JSONTooDeep(f"JSON may nest arrays and objects at most {max_depth} deep.")
        encoding = context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = data.decode(encoding)
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
