"""Compose state that is not mail: attachments uploaded before a send or draft save.

Rows are written only by webmail.compose.actions; upload bytes live in files under UPLOAD_DIR.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from mailcore.directory.models import Account


class Upload(models.Model):
    """An attachment uploaded first and referenced by id; removed a day after upload."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    # Random file name under UPLOAD_DIR, never derived from user input.
    storage_name = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = (models.Index(fields=("account", "created_at"), name="upload_account_age"),)

    def __str__(self) -> str:
        return f"{self.account_id}:{self.filename}"
