"""`manage.py restore` run as root in production mode (MAILROOM_USER set) writes every file and
directory for the service user with the modes mailcore.privileges checks at start: the check
passes on the restored host."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from mailcore.directory.actions import do_create_account, do_create_domain
from mailcore.privileges import ServiceUser, problems, secrets_from_settings
from mailcore.store.actions import do_append
from mailcore.store.models import Folder

pytestmark = pytest.mark.django_db(transaction=True)


def test_restore_as_root_hands_everything_to_the_service_user(
    settings: Any, tmp_path: Path, scratch_user: ServiceUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    var.mkdir()
    (var / "secret_key").write_text("k")
    (var / "secret_key").chmod(0o600)
    (var / "tls").mkdir(mode=0o700)
    (var / "tls" / "key.pem").write_text("a key")
    settings.VAR_DIR = var
    settings.TLS_KEY_FILE = var / "tls" / "key.pem"
    settings.TLS_CERT_DIR = ""
    settings.UPLOAD_DIR = var / "uploads"
    settings.MAIL_ROOT = var / "mail"
    settings.SPOOL_DIR = var / "spool"
    monkeypatch.setenv("MAILROOM_ENV_FILE", str(tmp_path / "none.env"))
    do_create_domain("example.com")
    alice = do_create_account("alice@example.com", password="correct horse 1")
    inbox = Folder.objects.get(account=alice, path="")
    do_append(acting_account=alice, folder=inbox, data=b"Subject: hi\r\n\r\nbody\r\n")
    dest = tmp_path / "backup"
    call_command("backup", str(dest), "--quiet")

    os.chown(var, scratch_user.uid, scratch_user.gid)  # the install step makes MAILROOM_VAR
    monkeypatch.setenv("MAILROOM_USER", scratch_user.name)
    call_command("restore", str(dest), "--force", "--no-reindex")
    assert problems(secrets_from_settings(), scratch_user.uid) == []
    maildir = var / "mail" / "example.com" / "alice" / "Maildir"
    for path in (var / "secret_key", var / "tls" / "key.pem", maildir, *maildir.rglob("*")):
        if path.name.endswith(".lock"):
            continue
        st = path.stat()
        assert st.st_uid == scratch_user.uid, path
        assert st.st_mode & 0o777 == (0o700 if path.is_dir() else 0o600), path
    assert os.listdir(maildir / "cur") or os.listdir(maildir / "new")
