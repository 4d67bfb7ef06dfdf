"""Routes of /api/v1/: a public contract for the SPA and mobile apps. Paths have no trailing
slash; changing one is a breaking change (add a new path instead)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from webmail.api import (
    auth,
    body,
    compose,
    contacts,
    conversations,
    events,
    fetching,
    finding,
    folders,
    junk,
    largefiles,
    messages,
    mobileconfig,
    outbox,
    pop3,
    preferences,
    quickviews,
    quota,
    rules,
    sending,
    twofactor,
)

app_name = "api"

urlpatterns = [
    path("auth/token", auth.TokenView.as_view(), name="auth-token"),
    path("auth/session", auth.SessionView.as_view(), name="auth-session"),
    path(
        "auth/session/second-factor",
        auth.SessionSecondFactorView.as_view(),
        name="auth-session-second-factor",
    ),
    path(
        "auth/token/second-factor",
        auth.TokenSecondFactorView.as_view(),
        name="auth-token-second-factor",
    ),
    path("settings/two-factor", twofactor.TwoFactorView.as_view(), name="settings-two-factor"),
    path("settings/two-factor/totp", twofactor.TotpView.as_view(), name="settings-two-factor-totp"),
    path(
        "settings/two-factor/passkey-options",
        twofactor.PasskeyOptionsView.as_view(),
        name="settings-two-factor-passkey-options",
    ),
    path(
        "settings/two-factor/passkeys",
        twofactor.PasskeyListView.as_view(),
        name="settings-two-factor-passkeys",
    ),
    path(
        "settings/two-factor/passkeys/<int:pk>",
        twofactor.PasskeyDetailView.as_view(),
        name="settings-two-factor-passkey",
    ),
    path(
        "settings/two-factor/recovery-codes",
        twofactor.RecoveryCodesView.as_view(),
        name="settings-two-factor-recovery-codes",
    ),
    path("quota", quota.QuotaView.as_view(), name="quota"),
    path("folders", folders.FolderListView.as_view(), name="folder-list"),
    path("folders/<int:pk>", folders.FolderDetailView.as_view(), name="folder-detail"),
    path("folders/<int:pk>/messages", folders.FolderMessagesView.as_view(), name="folder-messages"),
    path("folders/<int:pk>/empty", junk.FolderEmptyView.as_view(), name="folder-empty"),
    path("messages", quickviews.AllMessagesView.as_view(), name="messages-list"),
    path("messages/counts", quickviews.ViewCountsView.as_view(), name="messages-counts"),
    path("messages/search", finding.SearchView.as_view(), name="messages-search"),
    path("messages/spam", junk.SpamView.as_view(), name="messages-spam"),
    path("contacts", finding.ContactsView.as_view(), name="contacts"),
    path("contacts/entries", contacts.ContactListView.as_view(), name="contact-list"),
    path("contacts/entries/<int:pk>", contacts.ContactDetailView.as_view(), name="contact-detail"),
    path(
        "contacts/entries/delete", contacts.ContactBulkDeleteView.as_view(), name="contact-delete"
    ),
    path("contacts/groups", contacts.GroupListView.as_view(), name="contact-group-list"),
    path(
        "contacts/groups/<int:pk>", contacts.GroupDetailView.as_view(), name="contact-group-detail"
    ),
    path("contacts/import", contacts.ImportView.as_view(), name="contact-import"),
    path("contacts/export", contacts.ExportView.as_view(), name="contact-export"),
    path("conversations/<int:pk>", conversations.ConversationView.as_view(), name="conversation"),
    path("events", events.EventsView.as_view(), name="events"),
    path("compose-limits", compose.ComposeLimitsView.as_view(), name="compose-limits"),
    path("uploads", compose.UploadListView.as_view(), name="upload-list"),
    path("uploads/<int:pk>", compose.UploadDetailView.as_view(), name="upload-detail"),
    path("drafts", compose.DraftListView.as_view(), name="draft-list"),
    path("drafts/<int:pk>", compose.DraftDetailView.as_view(), name="draft-detail"),
    path("messages/send", compose.SendView.as_view(), name="messages-send"),
    path("outbox", outbox.OutboxListView.as_view(), name="outbox-list"),
    path("outbox/settings", outbox.OutboxSettingsView.as_view(), name="outbox-settings"),
    path("outbox/sent-status", outbox.SentStatusView.as_view(), name="outbox-sent-status"),
    path("outbox/<int:pk>", outbox.OutboxItemView.as_view(), name="outbox-item"),
    path("outbox/<int:pk>/recall", outbox.OutboxRecallView.as_view(), name="outbox-recall"),
    path(
        "messages/<int:pk>/read-status",
        outbox.MessageReadStatusView.as_view(),
        name="message-read-status",
    ),
    path("messages/<int:pk>/receipt", outbox.MessageReceiptView.as_view(), name="message-receipt"),
    # 대용량 첨부 (issue 14 §4)
    path("largefiles", largefiles.LargeFileListView.as_view(), name="largefile-list"),
    path("largefiles/limits", largefiles.LargeFileLimitsView.as_view(), name="largefile-limits"),
    path(
        "largefiles/uploads",
        largefiles.UploadSessionListView.as_view(),
        name="largefile-upload-list",
    ),
    path(
        "largefiles/uploads/<str:upload_id>",
        largefiles.UploadSessionView.as_view(),
        name="largefile-upload",
    ),
    path(
        "largefiles/uploads/<str:upload_id>/finish",
        largefiles.UploadFinishView.as_view(),
        name="largefile-upload-finish",
    ),
    path(
        "largefiles/<str:upload_id>",
        largefiles.LargeFileDetailView.as_view(),
        name="largefile-detail",
    ),
    path(
        "messages/<int:pk>/large-files",
        largefiles.MessageLargeFilesView.as_view(),
        name="message-large-files",
    ),
    path(
        "messages/<int:pk>/delivery",
        compose.MessageDeliveryView.as_view(),
        name="message-delivery",
    ),
    path("messages/move", messages.BulkMoveView.as_view(), name="messages-move"),
    path("messages/flags", messages.BulkFlagsView.as_view(), name="messages-flags"),
    path("messages/delete", messages.BulkDeleteView.as_view(), name="messages-delete"),
    path("messages/<int:pk>", messages.MessageDetailView.as_view(), name="message-detail"),
    path("messages/<int:pk>/raw", messages.MessageRawView.as_view(), name="message-raw"),
    path("messages/<int:pk>/body", body.MessageBodyView.as_view(), name="message-body"),
    path("messages/<int:pk>/print", body.MessagePrintView.as_view(), name="message-print"),
    path(
        "messages/<int:pk>/attachments/<int:index>",
        messages.MessageAttachmentView.as_view(),
        name="message-attachment",
    ),
    # path: a Content-ID may contain '/', which Django decodes from %2F before matching.
    path(
        "messages/<int:pk>/cid/<path:content_id>",
        messages.MessageCidView.as_view(),
        name="message-cid",
    ),
    path("settings", preferences.SettingsView.as_view(), name="settings"),
    path("sending-status", sending.SendingStatusView.as_view(), name="sending-status"),
    path("settings/password", preferences.PasswordView.as_view(), name="settings-password"),
    path("settings/sessions", preferences.ActiveSessionsView.as_view(), name="settings-sessions"),
    path(
        "settings/sessions/token",
        preferences.ApiTokenSessionView.as_view(),
        name="settings-session-token",
    ),
    path(
        "settings/sessions/<int:pk>",
        preferences.ActiveSessionView.as_view(),
        name="settings-session",
    ),
    path(
        "settings/login-history",
        preferences.LoginHistoryView.as_view(),
        name="settings-login-history",
    ),
    path(
        "settings/password-policy",
        preferences.PasswordPolicyView.as_view(),
        name="settings-password-policy",
    ),
    path("settings/pop3", pop3.Pop3SettingsView.as_view(), name="settings-pop3"),
    path("settings/rules", rules.RulesView.as_view(), name="settings-rules"),
    path("settings/rules/script", rules.ScriptView.as_view(), name="settings-rules-script"),
    path("settings/rules/jobs", rules.RuleJobsView.as_view(), name="settings-rule-jobs"),
    path(
        "settings/rules/jobs/<int:pk>", rules.RuleJobDetailView.as_view(), name="settings-rule-job"
    ),
    path(
        "settings/blocked-senders",
        rules.BlockedSendersView.as_view(),
        name="settings-blocked-senders",
    ),
    path(
        "settings/blocked-senders/<int:pk>",
        rules.BlockedSenderDetailView.as_view(),
        name="settings-blocked-sender",
    ),
    path("settings/forwarding", rules.ForwardingView.as_view(), name="settings-forwarding"),
    path("settings/vacation", rules.VacationView.as_view(), name="settings-vacation"),
    path(
        "settings/mobileconfig",
        mobileconfig.MobileconfigView.as_view(),
        name="settings-mobileconfig",
    ),
    path(
        "settings/fetch-accounts",
        fetching.ExternalAccountListView.as_view(),
        name="settings-fetch-accounts",
    ),
    path(
        "settings/fetch-accounts/<int:pk>",
        fetching.ExternalAccountDetailView.as_view(),
        name="settings-fetch-account",
    ),
    path(
        "settings/fetch-accounts/<int:pk>/runs",
        fetching.ExternalAccountRunsView.as_view(),
        name="settings-fetch-account-runs",
    ),
    path(
        "auth/logout-everywhere",
        preferences.LogoutEverywhereView.as_view(),
        name="auth-logout-everywhere",
    ),
    path("image-senders", preferences.ImageSenderListView.as_view(), name="image-sender-list"),
    path(
        "image-senders/<int:pk>",
        preferences.ImageSenderDetailView.as_view(),
        name="image-sender-detail",
    ),
    path("app-passwords", preferences.AppPasswordListView.as_view(), name="app-password-list"),
    path(
        "app-passwords/<int:pk>",
        preferences.AppPasswordDetailView.as_view(),
        name="app-password-detail",
    ),
    # Schema only, no Swagger UI: the UI pulls its assets from a CDN.
    path("schema", SpectacularAPIView.as_view(), name="schema"),
]
