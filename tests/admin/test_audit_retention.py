"""Audit log retention: the purge action (batched), the daily beat task and `manage.py audit`."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailcore.directory.actions import do_purge_audit_log, do_record_audit
from mailcore.directory.models import AuditLog
from mailcore.directory.tasks import purge_audit_log
from mailcore.errors import UserError

pytestmark = pytest.mark.django_db


def row(age_days: float, target: str = "") -> AuditLog:
    """An audit row written `age_days` ago (through the action, then backdated)."""
    entry = do_record_audit(actor="root@ops.example", action="domain.create", target=target)
    AuditLog.objects.filter(pk=entry.pk).update(
        created_at=timezone.now() - timedelta(days=age_days)
    )
    return entry


def targets() -> set[str]:
    return set(AuditLog.objects.values_list("target", flat=True))


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_old_rows_go_recent_rows_stay() -> None:
    row(400, "old")
    row(366, "just-past")
    row(364, "just-inside")
    row(0, "today")
    assert do_purge_audit_log(365) == 2
    assert targets() == {"just-inside", "today"}
    assert do_purge_audit_log(365) == 0  # a second run finds nothing


def test_zero_days_keeps_everything() -> None:
    row(5000, "ancient")
    row(1, "recent")
    assert do_purge_audit_log(0) == 0
    assert targets() == {"ancient", "recent"}


def test_negative_days_and_batch_size_are_refused() -> None:
    row(400)
    with pytest.raises(UserError):
        do_purge_audit_log(-1)
    with pytest.raises(UserError):
        do_purge_audit_log(30, batch_size=0)
    assert AuditLog.objects.count() == 1


@pytest.mark.parametrize(("old", "batches"), [(7, 3), (6, 3), (2, 1)])
def test_batches_of_bounded_size(old: int, batches: int) -> None:
    for i in range(old):
        row(100 + i, f"old-{i}")
    row(1, "recent")
    with CaptureQueriesContext(connection) as ctx:
        assert do_purge_audit_log(30, batch_size=3) == old
    deletes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("DELETE")]
    # ceil(old / 3) full-or-partial batches; an exact multiple needs one more, empty, DELETE.
    assert len(deletes) == batches
    assert all("LIMIT 3" in sql for sql in deletes)
    assert targets() == {"recent"}


def test_refuses_to_run_inside_a_callers_transaction() -> None:
    row(400)
    with transaction.atomic(), pytest.raises(RuntimeError):
        do_purge_audit_log(30)
    assert AuditLog.objects.count() == 1


def test_dry_run_counts_and_deletes_nothing() -> None:
    row(400, "old")
    row(200, "older-than-100")
    row(10, "recent")
    assert do_purge_audit_log(100, dry_run=True) == 2
    out = run("audit", "purge", "--days", "100", "--dry-run")
    assert "would remove 2 audit row(s) older than 100 day(s)" in out
    assert targets() == {"old", "older-than-100", "recent"}  # nothing deleted, nothing recorded


def test_command_purges_and_puts_the_purge_on_record(settings) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_LOG_RETENTION_DAYS = 30
    row(31, "old")
    row(29, "recent")
    assert "removed 1 audit row(s) older than 30 day(s)" in run("audit", "purge")
    assert AuditLog.objects.filter(target="old").count() == 0
    purge = AuditLog.objects.get(action="audit.purge")
    assert purge.actor.startswith("cli:")
    assert purge.detail == {"days": 30, "removed": 1}
    # --days overrides the setting.
    assert "removed 1 audit row(s)" in run("audit", "purge", "--days", "28")
    assert AuditLog.objects.filter(target="recent").count() == 0


def test_command_with_zero_days_and_bad_days() -> None:
    row(4000, "ancient")
    assert "keep forever" in run("audit", "purge", "--days", "0")
    with pytest.raises(CommandError, match="retention days"):
        run("audit", "purge", "--days", "-3")
    assert targets() == {"ancient"}
    assert not AuditLog.objects.filter(action="audit.purge").exists()


def test_daily_task_uses_the_setting(settings) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_LOG_RETENTION_DAYS = 90
    row(91, "old")
    row(89, "recent")
    assert purge_audit_log() == 1
    assert AuditLog.objects.filter(target="old").count() == 0
    purge = AuditLog.objects.get(action="audit.purge")
    assert (purge.actor, purge.detail) == ("system:retention", {"days": 90, "removed": 1})
    assert purge_audit_log() == 0  # nothing to do: no further record
    assert AuditLog.objects.filter(action="audit.purge").count() == 1
    settings.AUDIT_LOG_RETENTION_DAYS = 0
    row(10000, "ancient")
    assert purge_audit_log() == 0
    assert AuditLog.objects.filter(target="ancient").exists()


def test_beat_schedule_runs_the_purge_daily() -> None:
    from webmail.celery import app

    app.finalize()
    assert "mailcore.purge_audit_log" in app.tasks
    entry = app.conf.beat_schedule["audit log purge"]
    assert entry["task"] == "mailcore.purge_audit_log"
    assert entry["schedule"] == 24 * 3600.0
