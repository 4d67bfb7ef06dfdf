"""Folders and messages: the index over each account's Maildir.

Maildir holds the truth (content, flags in ':2,' suffixes, UIDs in mailroom-uidlist); these rows
can be rebuilt from it by `manage.py reindex`. Rows are written only by mailcore.store.actions.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from mailcore.directory.models import Account
from mailcore.search.fields import SearchKeysField


class SpecialUse(models.TextChoices):
    # RFC 6154 special-use names, plus naver's 내게쓴메일함 ("to me").
    INBOX = "inbox", "Inbox"
    SENT = "sent", "Sent"
    DRAFTS = "drafts", "Drafts"
    JUNK = "junk", "Junk"
    TRASH = "trash", "Trash"
    TOME = "tome", "To me"
    NONE = "", "None"


class Source(models.TextChoices):
    SMTP = "smtp", "SMTP"
    API = "api", "API"
    IMAP = "imap", "IMAP"
    REINDEX = "reindex", "Reindex"
    IMPORT = "import", "Import"


class Folder(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="folders")
    name = models.CharField(max_length=500, help_text="display name; '/' separates levels")
    # Maildir++ directory: '' for INBOX, '.Sent', '.Work.Projects' (modified UTF-7 components).
    path = models.CharField(max_length=1000)
    special_use = models.CharField(
        max_length=10, choices=SpecialUse.choices, blank=True, default=""
    )
    uidvalidity = models.BigIntegerField()
    uidnext = models.BigIntegerField(default=1)
    # The account modseq of the last change in this folder: the largest modseq among its rows
    # and tombstones, set in the same transactions (mailcore.store.history); creating, renaming
    # or re-keying (UIDVALIDITY) the folder sets it too.
    highestmodseq = models.BigIntegerField(default=1)
    # Kept in step by the store actions in the same transactions as the rows (Dovecot keeps
    # these in its index header), so folder lists never count 100 000 rows; reindex recounts.
    message_count = models.BigIntegerField(default=0)
    unseen_count = models.BigIntegerField(default=0)
    # Sum of Message.size in this folder, kept like the counters above: quota usage and the
    # admin dashboard read it instead of summing rows.
    size_bytes = models.BigIntegerField(default=0)
    subscribed = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("account", "name"), name="folder_unique_name"),
            models.UniqueConstraint(fields=("account", "path"), name="folder_unique_path"),
        )
        ordering = ("account", "path")

    def __str__(self) -> str:
        return f"{self.account_id}:{self.name}"


class Message(models.Model):
    # No single-column FK indexes: (account, maildir_key) and (folder, uid) lead with them, and
    # a lone folder index tempts the planner into sorting a whole folder for one page.
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    folder = models.ForeignKey(
        Folder, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    uid = models.BigIntegerField()
    # The Maildir base name (without ':2,flags'); derived from (queue entry, recipient) for
    # deliveries, so a second delivery attempt finds the first one.
    maildir_key = models.CharField(max_length=255)
    in_cur = models.BooleanField(default=False, help_text="file lives in cur/ (else new/)")
    info = models.CharField(max_length=64, blank=True, default="", help_text="letters after ':2,'")
    size = models.BigIntegerField()
    internal_date = models.DateTimeField()
    # The account-wide modseq of the last change to this row (ARCHITECTURE rule 8), and of its
    # arrival: CONDSTORE/QRESYNC and JMAP /changes read them (mailcore.store.history).
    modseq = models.BigIntegerField(default=1)
    created_modseq = models.BigIntegerField(default=0)
    seen = models.BooleanField(default=False)
    answered = models.BooleanField(default=False)
    flagged = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    draft = models.BooleanField(default=False)
    keywords = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SMTP)

    # Listing fields, parsed once at delivery.
    message_id = models.CharField(max_length=998, blank=True, default="")
    subject = models.CharField(max_length=998, blank=True, default="")
    from_name = models.CharField(max_length=500, blank=True, default="")
    from_addr = models.CharField(max_length=500, blank=True, default="")
    to_addrs = models.JSONField(default=list, blank=True, help_text="[[name, addr], …]")
    cc_addrs = models.JSONField(default=list, blank=True, help_text="[[name, addr], …]")
    sent_date = models.DateTimeField(null=True, blank=True)
    in_reply_to = models.CharField(max_length=998, blank=True, default="")
    references = models.TextField(blank=True, default="")
    snippet = models.CharField(max_length=300, blank=True, default="")
    has_attachments = models.BooleanField(default=False)
    # Conversation keys (mailcore.store.conversation), computed when the row is made and
    # rebuilt by reindex: grouping a list probes (account, conversation_id).
    conversation_id = models.BigIntegerField(default=0)
    subject_key = models.BigIntegerField(default=0, help_text="hash of the normalised subject")
    # Our verdict at delivery (mailcore.inbound), read back from our own Authentication-Results
    # and X-Spam-* headers on the copy (mailcore.mime.authresults), so reindex rebuilds it.
    # '' = not examined (our users' mail, APPEND, imports); spam_score None = not scanned.
    auth_spf = models.CharField(max_length=12, blank=True, default="")
    auth_dkim = models.CharField(max_length=12, blank=True, default="")
    auth_dmarc = models.CharField(max_length=12, blank=True, default="")
    spam_score = models.FloatField(null=True, blank=True)
    spam_unscanned = models.BooleanField(default=False, help_text="the spam filter did not answer")

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("folder", "uid"), name="message_unique_uid"),
            models.UniqueConstraint(fields=("account", "maildir_key"), name="message_unique_key"),
        )
        # FETCH … (CHANGEDSINCE m), SEARCH MODSEQ and the polling watcher: one range scan.
        indexes = (
            models.Index(fields=("folder", "modseq"), name="message_folder_modseq"),
            # The quick views (안읽은메일, 중요메일, 첨부메일): a page is a range scan of the
            # few matching rows, newest first, however large the account.
            models.Index(
                fields=("account", "id"), condition=Q(seen=False), name="message_view_unread"
            ),
            models.Index(
                fields=("account", "id"), condition=Q(flagged=True), name="message_view_flagged"
            ),
            models.Index(
                fields=("account", "id"),
                condition=Q(has_attachments=True),
                name="message_view_attachments",
            ),
            models.Index(fields=("account", "conversation_id"), name="message_conversation"),
            models.Index(fields=("account", "message_id"), name="message_account_msgid"),
            models.Index(fields=("account", "subject_key"), name="message_subject_key"),
        )

    def __str__(self) -> str:
        return f"{self.folder_id}:{self.uid}"


class MessageText(models.Model):
    """Decoded plain text of a message (capped), for the basic search over bodies. Kept apart
    from Message so that listing rows stay narrow; rebuilt by reindex like every other index."""

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, primary_key=True, related_name="text"
    )
    text = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"text of {self.message_id}"


class MessageMeta(models.Model):
    """What IMAP FETCH needs beyond the listing fields, computed once at delivery/APPEND by
    mailcore.mime.imapmeta (ENVELOPE, BODYSTRUCTURE, the prefetched header fields), so a
    full-folder FETCH never opens a message file. Kept apart from Message so listing rows and
    flag-only FETCHes stay narrow; filled by every store path and by `reindex --imap-meta`."""

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, primary_key=True, related_name="meta"
    )
    # imapmeta.VERSION that computed the row: older rows are recomputed by reindex.
    version = models.SmallIntegerField(default=0)
    # Nested lists (see imapmeta): str = UTF-8 IMAP string, {"b": base64} = other bytes,
    # int = number, None = NIL, list = parenthesised list.
    envelope = models.JSONField(default=list)
    bodystructure = models.JSONField(default=list)
    # The same two already in IMAP syntax (imapmeta.render_envelope/render_body: exact RFC 9051
    # grammar, 8-bit strings as literals, valid with or without UTF8=ACCEPT): a full-folder
    # FETCH copies bytes instead of decoding JSON and rendering it (Dovecot caches it so too).
    envelope_imap = models.BinaryField(default=b"")
    bodystructure_imap = models.BinaryField(default=b"")
    # The PREFETCH_FIELDS of the header, raw CRLF lines in their order (imapmeta).
    header_fields = models.BinaryField(default=b"")
    # False when some prefetch field was left out (over the size cap): read the file then.
    header_fields_complete = models.BooleanField(default=True)
    header_size = models.BigIntegerField(default=0, help_text="CRLF form, with the blank line")
    body_size = models.BigIntegerField(default=0, help_text="CRLF form")
    body_lines = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"IMAP metadata of {self.message_id}"


class ChangeCounter(models.Model):
    """One row per account: the account-wide modseq counter (ARCHITECTURE rule 8), taken under
    this row's lock in the same transaction as the change, so modseqs commit in order. Created
    on the account's first change (mailcore.store.history.next_modseq)."""

    account = models.OneToOneField(
        Account, on_delete=models.CASCADE, primary_key=True, related_name="change_counter"
    )
    highestmodseq = models.BigIntegerField(default=1)
    # Tombstones with a modseq at or below this were purged: an older client state cannot be
    # answered from history any more (the client must resync).
    purged_modseq = models.BigIntegerField(default=0)
    # PostgreSQL: pg_postmaster_start_time() at the last change. A change that finds another
    # value is the first since the database server started again: the modseq jumps past any
    # a crash may have lost, and the value it jumped from is appended to lost_after
    # (mailcore.store.history.next_modseq). SQLite commits every change durably: unused.
    server_started = models.DateTimeField(null=True, blank=True)
    lost_after = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"modseq {self.highestmodseq} of {self.account_id}"


class TombstoneKind(models.TextChoices):
    EXPUNGED = "expunged", "Message destroyed"
    MOVED = "moved", "UID left the folder (the message lives on elsewhere)"
    FOLDER = "folder", "Folder destroyed"


class Tombstone(models.Model):
    """A UID that left a folder (expunge or move away) or a folder that went, with the modseq
    of that change: QRESYNC VANISHED (RFC 7162 §3.2.10) and JMAP /changes read it. Kept for
    CHANGES_HISTORY_DAYS, then purged (mailcore.store.tasks.purge_tombstones). Folder and
    message are plain ids: both rows are usually gone."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="tombstones", db_index=False
    )
    kind = models.CharField(max_length=10, choices=TombstoneKind.choices)
    folder_id = models.BigIntegerField()
    uid = models.BigIntegerField(null=True, blank=True)
    message_pk = models.BigIntegerField(null=True, blank=True)
    modseq = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = (
            models.Index(fields=("folder_id", "modseq"), name="tombstone_folder_modseq"),
            models.Index(fields=("account", "modseq"), name="tombstone_account_modseq"),
            models.Index(fields=("created_at",), name="tombstone_created"),
        )

    def __str__(self) -> str:
        return f"{self.kind} {self.folder_id}:{self.uid} @{self.modseq}"


class MessageSearch(models.Model):
    """A message's entry in the search index (mailcore.search): its n-gram keys and its
    attachment file names (folded, one a line). Kept apart from Message so listing rows stay
    narrow; written with the row (same transaction), deleted with it, rebuilt by reindex and
    `manage.py search rebuild`."""

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, primary_key=True, related_name="search"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    filenames = models.TextField(blank=True, default="")
    keys = SearchKeysField()

    class Meta:
        # The newest entries of an account first (the search's recent window); the GIN
        # index over (account_id, keys) is created by migration 0005 on PostgreSQL only.
        indexes = (models.Index(fields=("account", "message"), name="messagesearch_recent"),)

    def __str__(self) -> str:
        return f"search keys of {self.message_id}"
