"""JSON bodies are bounded before parsing (issue 9 item 4): nesting deeper than
API_MAX_JSON_DEPTH answers 400 (not a RecursionError and HTTP 500), a body larger than its cap
answers 413, on the unauthenticated login endpoints and everywhere else."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from rest_framework.test import APIClient

from mailcore.directory.models import Account
from webmail.api.parsers import json_depth_exceeds

TOKEN = "/api/v1/auth/token"
SETTINGS = "/api/v1/settings"
DEEP = "[" * 1000 + "]" * 1000  # python3 -c "print('['*1000+']'*1000,end='')"


def post_raw(client: APIClient, url: str, body: str | bytes, method: str = "post") -> Any:
    send = getattr(client, method)
    return send(url, body, content_type="application/json", REMOTE_ADDR="127.0.0.1")


def assert_too_deep(response: Any) -> None:
    assert response.status_code == 400
    assert response.json()["error"] == "json_too_deep"
    assert "32" in response.json()["detail"]


def test_deep_nesting_on_the_token_endpoint_is_400(db: None) -> None:
    assert_too_deep(post_raw(APIClient(), TOKEN, DEEP))
    assert_too_deep(post_raw(APIClient(), TOKEN, '{"a":' * 1000 + "1" + "}" * 1000))


def test_deep_nesting_on_an_authenticated_endpoint_is_400(
    alice: Account, alice_api: APIClient
) -> None:
    assert_too_deep(post_raw(alice_api, SETTINGS, DEEP, method="patch"))
    assert_too_deep(post_raw(alice_api, "/api/v1/messages/move", DEEP))
    nested = '{"display_name": ' + "[" * 33 + "]" * 33 + "}"
    assert_too_deep(post_raw(alice_api, SETTINGS, nested, method="patch"))
    # Within the depth limit the usual validation answers.
    ok_depth = '{"display_name": ' + "[" * 30 + "]" * 30 + "}"
    response = post_raw(alice_api, SETTINGS, ok_depth, method="patch")
    assert (response.status_code, response.json()["error"]) == (400, "invalid")
    response = post_raw(alice_api, SETTINGS, '{"display_name": "Alice [[[["}', method="patch")
    assert response.status_code == 200


def test_brackets_inside_strings_do_not_count(alice: Account) -> None:
    body = '{"address": "alice@example.com", "password": "' + "[" * 1000 + '\\"{{{"}'
    response = post_raw(APIClient(), TOKEN, body)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_credentials")


def test_login_bodies_are_capped_small(db: None) -> None:
    body = '{"address": "a@example.com", "password": "' + "x" * 9000 + '"}'
    response = post_raw(APIClient(), TOKEN, body)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_other_bodies_are_capped_at_api_max_request_bytes(
    alice: Account, alice_api: APIClient, settings: Any
) -> None:
    settings.API_MAX_REQUEST_BYTES = 1000
    body = '{"display_name": "' + "x" * 1000 + '"}'
    response = post_raw(alice_api, SETTINGS, body, method="patch")
    assert (response.status_code, response.json()["error"]) == (413, "too_large")


def test_malformed_json_is_still_a_parse_error(db: None) -> None:
    response = post_raw(APIClient(), TOKEN, '{"address": ')
    assert (response.status_code, response.json()["error"]) == (400, "parse_error")
    response = post_raw(APIClient(), TOKEN, '{"address": NaN}')
    assert (response.status_code, response.json()["error"]) == (400, "parse_error")


@pytest.mark.parametrize(
    ("data", "limit", "exceeds"),
    [
        (b"[]", 1, False),
        (b"[[]]", 1, True),
        (b'{"a": [1, {"b": []}]}', 4, False),
        (b'{"a": [1, {"b": []}]}', 3, True),
        (b'["[[[[", "\\"[[["]', 1, False),
        (b"[]" * 10_000, 1, False),  # wide is fine, only depth counts
        (DEEP.encode(), 32, True),
        (b"[[],[[],[[],[]]]]", 3, True),  # deep without a run of openers
        (b"[[],[[],[[],[]]]]", 4, False),
        (b'["\\\\", [[]]]', 2, True),  # an escaped backslash ends before the quote
        (b'["\\"[[[[[", [[]]]', 3, False),  # an escaped quote does not end the string
        (b'{"a": "[[[[[[[[", "b": {"c": [1]}}', 3, False),
        (b"[[[[", 5, False),  # unbalanced: json.loads says what is wrong
        (b'"[[[[[[[[[[[[', 2, False),  # an unterminated string hides the rest
    ],
)
def test_json_depth_exceeds(data: bytes, limit: int, exceeds: bool) -> None:
    assert json_depth_exceeds(data, limit) is exceeds


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _random_json(rng: random.Random, depth: int) -> object:
    kind = rng.random()
    if depth <= 0 or kind < 0.3:
        return rng.choice([1, None, "x", '"[{', "\\]}\\", "", 2.5, True])
    items = [_random_json(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    if kind < 0.65:
        return items
    return {rng.choice(["k", '"[', "}"]) + str(i): item for i, item in enumerate(items)}


def test_json_depth_matches_the_parsed_depth() -> None:
    rng = random.Random(9)
    for _ in range(2000):
        data = json.dumps(_random_json(rng, rng.randint(0, 12))).encode()
        depth = _depth(json.loads(data))
        for limit in (max(0, depth - 1), depth, depth + 1):
            assert json_depth_exceeds(data, limit) is (depth > limit), (data, limit)
