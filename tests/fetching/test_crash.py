"""Crashes in the middle of a fetch (issue 11 §8, §10): the fetching process dies (os._exit at
a MAILROOM_FAULT point) after the download, after the local commit or before the remote
deletion; the next run stores nothing twice, loses nothing, and deletes on the remote server
exactly what was stored here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailcore.directory.models import Account
from mailcore.fetching.actions import do_fetch
from mailcore.store.queries import maildir_for
from tests.conftest import database_url
from tests.fetching.conftest import msg, subjects
from tests.fetching.dovecot import Dovecot

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def crash_run(settings, external_id: int, fault: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MAIL_ROOT": str(settings.MAIL_ROOT),
        "SPOOL_DIR": str(settings.SPOOL_DIR),
        "MAIL_HOSTNAME": settings.MAIL_HOSTNAME,
        "SECRET_KEY": settings.SECRET_KEY,
        "FETCH_ALLOW_PRIVATE_TARGETS": "1",
        "FETCH_CA_FILE": settings.FETCH_CA_FILE,
        "MAILROOM_FAULT": fault,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "fetch", "run", str(external_id)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def files_in_inbox(account: Account) -> int:
    root = maildir_for(account).root
    return sum(1 for sub in ("new", "cur") for _ in (root / sub).iterdir())


@pytest.mark.parametrize(
    ("protocol", "fault", "stored_before_crash"),
    [
        ("pop3", "deliver.after_file", False),  # files written, index not committed
        ("pop3", "fetch.after_store", True),  # committed here, not yet recorded as taken
        ("pop3", "fetch.before_quit", True),  # DELE sent, QUIT never: the server keeps all
        ("imap", "fetch.after_store", True),
        ("imap", "fetch.before_expunge", True),  # recorded, \\Deleted not yet stored
    ],
)
def test_crash_then_rerun_is_exactly_once(
    settings,  # type: ignore[no-untyped-def]
    protocol: str,
    fault: str,
    stored_before_crash: bool,
    alice: Account,
    dovecot: Dovecot,
    remote_user: str,
    add_external,
) -> None:
    names = [f"crash {i}" for i in range(3)]
    for name in names:
        dovecot.put(remote_user, msg(name))
    ext = add_external(
        protocol=protocol,
        host="localhost",
        port=dovecot.ports[f"{protocol}s"],
        username=remote_user,
        keep=False,
    )
    died = crash_run(settings, ext.pk, fault)
    assert died.returncode == 137, (died.returncode, died.stdout, died.stderr)
    assert dovecot.count(remote_user) == 3  # nothing deleted remotely before the crash
    assert subjects(alice) == (names if stored_before_crash else [])
    # The lease of the dead run ends (a worker's death is noticed by its lease running out).
    from mailcore.fetching.models import ExternalAccount

    ExternalAccount.objects.filter(pk=ext.pk).update(running_until=None)
    again = do_fetch(ext.pk)
    assert again.error is None, again.error
    assert subjects(alice) == names  # each exactly once
    assert files_in_inbox(alice) == 3  # and no second file beside an indexed one
    assert dovecot.count(remote_user) == 0  # all deleted now that all are stored
    assert again.fetched == (0 if stored_before_crash else 3)
    assert do_fetch(ext.pk).fetched == 0
