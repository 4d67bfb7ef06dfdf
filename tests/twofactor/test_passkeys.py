"""Passkeys over the API with a software authenticator (a P-256 key in the test, CBOR by hand
as an authenticator writes it): several per account, named, attestation "none" and "packed"
accepted, the registration and authentication ceremonies checked by py_webauthn, sign counts
that must grow, an assertion bound to its own challenge. The browser test
(tests/browser/test_two_factor.py) does the same with Chromium's virtual authenticator."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from rest_framework.test import APIClient

from mailcore.directory.models import Account, LoginRecord, Passkey
from tests.twofactor.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ORIGIN = "http://testserver"  # APIClient's host: the RP ID is "testserver"
BASE = "/api/v1/settings/two-factor"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.count = 0

    def _cose(self) -> bytes:
        n = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")}
        )

    def _auth_data(self, rp_id: str, attested: bool) -> bytes:
        flags = 0x01 | 0x04 | (0x40 if attested else 0)  # user present, verified, attested
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
        data += self.count.to_bytes(4, "big")
        if attested:
            cid = self.credential_id
            data += b"\0" * 16 + len(cid).to_bytes(2, "big") + cid + self._cose()
        return data

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": ORIGIN, "crossOrigin": False}
        ).encode()

    def _sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def create(self, options: dict[str, Any], fmt: str = "none") -> dict[str, Any]:
        client = self._client_data("webauthn.create", options["challenge"])
        auth_data = self._auth_data(options["rp"]["id"], attested=True)
        statement: dict[str, Any] = {}
        if fmt == "packed":  # self attestation: signed by the credential's own key
            statement = {"alg": -7, "sig": self._sign(auth_data + hashlib.sha256(client).digest())}
        attestation = cbor2.dumps({"fmt": fmt, "attStmt": statement, "authData": auth_data})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64(client), "attestationObject": b64(attestation)},
        }

    def get(self, options: dict[str, Any], *, count_step: int = 1) -> dict[str, Any]:
        self.count += count_step
        client = self._client_data("webauthn.get", options["challenge"])
        auth_data = self._auth_data(options["rpId"], attested=False)
        signature = self._sign(auth_data + hashlib.sha256(client).digest())
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
            },
        }


def enrol(client: APIClient, key: SoftAuthenticator, name: str, fmt: str = "none") -> Any:
    started = client.post(f"{BASE}/passkey-options").json()
    assert started["options"]["rp"]["id"] == "testserver"
    body = {
        "name": name,
        "state": started["state"],
        "credential": key.create(started["options"], fmt),
    }
    return client.post(f"{BASE}/passkeys", body, format="json")


def token_step(password: str = PASSWORD) -> dict[str, Any]:
    answer = APIClient().post(
        "/api/v1/auth/token", {"address": "alice@example.com", "password": password}, format="json"
    )
    assert answer.status_code == 202
    return dict(answer.json())


def token_finish(challenge: dict[str, Any], credential: dict[str, Any]) -> Any:
    return APIClient().post(
        "/api/v1/auth/token/second-factor",
        {"challenge": challenge["challenge"], "credential": credential},
        format="json",
    )


@pytest.fixture
def signed_in(alice: Account) -> APIClient:
    client = APIClient()
    client.force_authenticate(alice)
    return client


def test_several_named_passkeys_none_and_packed(signed_in: APIClient) -> None:
    phone, yubikey = SoftAuthenticator(), SoftAuthenticator()
    first = enrol(signed_in, phone, "Phone")
    assert first.status_code == 201, first.json()
    assert len(first.json()["recovery_codes"]) == 10  # the first factor brings the codes
    second = enrol(signed_in, yubikey, "YubiKey", fmt="packed")
    assert second.status_code == 201, second.json()
    assert second.json()["recovery_codes"] == []
    assert second.json()["passkey"]["attestation_format"] == "packed"
    again = enrol(signed_in, phone, "Phone again")
    assert again.status_code == 400 and again.json()["error"] == "passkey_exists"
    status = signed_in.get(BASE).json()
    assert [p["name"] for p in status["passkeys"]] == ["Phone", "YubiKey"]
    assert status["on"] is True and status["totp"] is False
    pk = status["passkeys"][1]["id"]
    renamed = signed_in.patch(f"{BASE}/passkeys/{pk}", {"name": "Blue key"}, format="json")
    assert renamed.json()["name"] == "Blue key"


def test_registration_state_is_bound_to_its_challenge(signed_in: APIClient) -> None:
    key = SoftAuthenticator()
    one = signed_in.post(f"{BASE}/passkey-options").json()
    two = signed_in.post(f"{BASE}/passkey-options").json()
    body = {"name": "x", "state": two["state"], "credential": key.create(one["options"])}
    refused = signed_in.post(f"{BASE}/passkeys", body, format="json")
    assert refused.status_code == 400 and refused.json()["error"] == "passkey_refused"
    assert not Passkey.objects.exists()


def test_sign_in_with_a_passkey_and_sign_counts_must_grow(signed_in: APIClient) -> None:
    key = SoftAuthenticator()
    assert enrol(signed_in, key, "Phone").status_code == 201
    challenge = token_step()
    assert challenge["methods"] == ["passkey", "recovery"]
    options = challenge["passkey_options"]
    assert [c["id"] for c in options["allowCredentials"]] == [b64(key.credential_id)]
    done = token_finish(challenge, key.get(options))
    assert done.status_code == 200 and "token" in done.json()
    assert Passkey.objects.get().sign_count == 1
    # The same challenge again, even with a fresh assertion (count grown): used up.
    replay = token_finish(challenge, key.get(options))
    assert replay.status_code == 400
    key.count -= 1
    assert LoginRecord.objects.filter(result="ok", method="passkey", door="api").count() == 1

    # A cloned authenticator: the same count again is refused, so is a lower one.
    fresh = token_step()
    cloned = token_finish(fresh, key.get(fresh["passkey_options"], count_step=0))
    assert cloned.status_code == 400 and cloned.json()["error"] == "wrong_code"
    # An assertion made for another challenge is refused too.
    other = token_step()
    stale = key.get(fresh["passkey_options"])
    assert token_finish(other, stale).status_code == 400
    assert token_finish(other, key.get(other["passkey_options"])).status_code == 200
    assert Passkey.objects.get().sign_count == 3
    assert LoginRecord.objects.filter(reason="wrong_passkey").count() == 3


def test_removed_passkey_no_longer_signs_in(signed_in: APIClient, alice: Account) -> None:
    keep, lose = SoftAuthenticator(), SoftAuthenticator()
    enrol(signed_in, keep, "Keep")
    enrol(signed_in, lose, "Lose")
    challenge = token_step()
    lost = Passkey.objects.get(name="Lose")
    no_password = signed_in.delete(f"{BASE}/passkeys/{lost.pk}", {"password": "x"}, format="json")
    assert no_password.status_code == 400 and Passkey.objects.filter(pk=lost.pk).exists()
    gone = signed_in.delete(f"{BASE}/passkeys/{lost.pk}", {"password": PASSWORD}, format="json")
    assert gone.status_code == 200
    assert token_finish(challenge, lose.get(challenge["passkey_options"])).status_code == 400
    assert token_finish(challenge, keep.get(challenge["passkey_options"])).status_code == 200
    # The last one removed: 2단계 인증 is off, the recovery codes are gone, the password opens.
    keep_pk = Passkey.objects.get(name="Keep").pk
    last = signed_in.delete(f"{BASE}/passkeys/{keep_pk}", {"password": PASSWORD}, format="json")
    assert last.json()["on"] is False
    alice.refresh_from_db()
    assert alice.second_factor_on is False and not alice.recovery_codes.exists()
    token = APIClient().post(
        "/api/v1/auth/token", {"address": "alice@example.com", "password": PASSWORD}, format="json"
    )
    assert token.status_code == 200


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"id": "!!", "rawId": "!!not base64!!", "type": "public-key", "response": {}},
        {"id": "x", "rawId": "A" * 1500, "response": {"clientDataJSON": "e30"}},
        {"rawId": 12345, "response": None},
        {"rawId": "AAAA", "response": {"clientDataJSON": "AAAA", "authenticatorData": "AA",
                                       "signature": "AA"}},
    ],
)  # fmt: skip
def test_hostile_assertions_are_refused_not_crashed(
    signed_in: APIClient, credential: dict[str, Any]
) -> None:
    enrol(signed_in, SoftAuthenticator(), "Phone")
    answer = token_finish(token_step(), credential)
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"id": "AA", "rawId": "AA", "type": "public-key", "response": {"clientDataJSON": "%%"}},
        {"response": {"clientDataJSON": "e30", "attestationObject": "oA"}},
    ],
)
def test_hostile_registrations_are_refused_not_crashed(
    signed_in: APIClient, credential: dict[str, Any]
) -> None:
    state = signed_in.post(f"{BASE}/passkey-options").json()["state"]
    body = {"name": "x", "state": state, "credential": credential}
    answer = signed_in.post(f"{BASE}/passkeys", body, format="json")
    assert answer.status_code == 400 and answer.json()["error"] == "passkey_refused"
    assert not Passkey.objects.exists()
