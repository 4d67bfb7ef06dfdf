"""Helpers for the importer command tests: run a command, get its output and whether it
ended with errors (exit status 1)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Run:
    out: str
    err: str
    failed: str  # the CommandError message, '' when the command succeeded


def run(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as exc:
        return Run(out.getvalue(), err.getvalue(), str(exc))
    return Run(out.getvalue(), err.getvalue(), "")
