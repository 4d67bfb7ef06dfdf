"""SEARCH on flags alone (UNSEEN, UNSEEN FLAGGED, ALL …) takes a plain statement
(search._flag_search); it must answer exactly what the general path (the ORM filter of
build_q) answers, including the session's view (no UID past its last)."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailcore.directory.models import Account
from mailcore.imap.protocol import SearchKey
from mailcore.imap.search import Mapping, build_q, search_uids
from mailcore.store.actions import do_append
from mailcore.store.models import Folder, Message

pytestmark = pytest.mark.django_db

COLUMNS = ("answered", "flagged", "deleted", "seen", "draft")


def test_flag_searches_answer_what_the_general_path_answers(alice: Account) -> None:
    inbox = Folder.objects.get(account=alice, path="")
    for i in range(12):
        do_append(acting_account=alice, folder=inbox, data=f"Subject: m{i}\r\n\r\nb\r\n".encode())
    for i, m in enumerate(Message.objects.filter(folder=inbox).order_by("uid")):
        Message.objects.filter(pk=m.pk).update(
            **{c: bool((i >> n) & 1) for n, c in enumerate(COLUMNS[:4])}, draft=i % 5 == 0
        )
    inbox.refresh_from_db()
    uids = list(Message.objects.filter(folder=inbox).order_by("uid").values_list("uid", flat=True))
    view = Mapping(uids[:-2])  # two arrived after the session's last look: not answered
    flags = [SearchKey("FLAG", (c, on)) for c in COLUMNS for on in (True, False)]
    keys = [SearchKey("ALL", ()), *flags]
    keys += [SearchKey("AND", pair) for pair in itertools.combinations(flags, 2)]
    keys += [SearchKey("AND", (flags[7], SearchKey("AND", (flags[2], SearchKey("ALL", ())))))]
    for key in keys:
        expected = sorted(
            Message.objects.filter(folder=inbox, uid__lte=view.uids[-1])
            .filter(build_q(key, view, inbox.uidnext))
            .values_list("uid", flat=True)
        )
        with CaptureQueriesContext(connection) as ctx:
            assert search_uids(inbox, key, view, inbox.uidnext) == expected, key
        # The plain statement, nothing else (the general path's is SELECT DISTINCT).
        assert len(ctx.captured_queries) == 1, key
        assert "DISTINCT" not in ctx.captured_queries[0]["sql"].upper(), key
    assert search_uids(inbox, flags[0], Mapping(()), inbox.uidnext) == []
