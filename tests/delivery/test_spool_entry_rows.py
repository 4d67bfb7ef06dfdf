"""spool_entry builds its unsaved queue rows without Model.__init__: they are the instances the
ORM's constructor makes from the same values (attributes, state, cached relations)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.db import models

from mailcore.delivery import entries
from mailcore.delivery.dsnparams import MailDsn, RcptDsn
from mailcore.delivery.models import QueueEntry, QueueRecipient

pytestmark = pytest.mark.django_db

MSG = b"From: a@remote.example\r\nMessage-ID: <m1@remote.example>\r\n\r\nbody\r\n"


def _orm(obj: models.Model) -> models.Model:
    values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    return type(obj)(**values)


def _same(a: models.Model, b: models.Model) -> None:
    assert type(a) is type(b)
    mine = {k: v for k, v in vars(a).items() if k != "_state"}
    theirs = {k: v for k, v in vars(b).items() if k != "_state"}
    assert mine == theirs
    assert (a._state.adding, a._state.db) == (b._state.adding, b._state.db)


@pytest.mark.parametrize("paused", [False, True])
def test_rows_are_what_the_constructor_makes(
    alice: Any, settings: Any, tmp_path: Path, paused: bool
) -> None:
    settings.SPOOL_DIR = tmp_path / "spool"
    spooled = entries.spool_entry(
        sender="a@remote.example",
        recipients=["bob@example.com", "carol@example.com"],
        data=MSG,
        sync_file=False,
        client_ip="192.0.2.7",
        authenticated_as=alice,
        dsn=MailDsn(ret="HDRS", envid="env-1"),
        rcpt_dsn={"bob@example.com": RcptDsn(notify="SUCCESS", orcpt="rfc822;b@x")},
        verdict={"spf": "pass"},
        paused=paused,
    )
    os.close(spooled.file.fd)
    entry = spooled.entry
    _same(entry, _orm(entry))
    assert entry.authenticated_as is alice and entry.sent_copy is None  # cached, no query
    assert entry.message_id == "m1@remote.example"
    assert entry.state == ("paused" if paused else QueueEntry._meta.get_field("state").default)
    for row in spooled.rows:
        _same(row, _orm(row))
        assert row.entry is entry and row.entry_id is None
    assert [r.dsn_notify for r in spooled.rows] == ["SUCCESS", ""]


def test_a_value_for_no_field_is_refused() -> None:
    with pytest.raises(TypeError):
        entries._positional(QueueRecipient, {"adress": "x@y"})
