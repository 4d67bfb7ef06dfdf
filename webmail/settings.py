"""The single settings module: every value comes from the environment via mailcore.config.

With no environment at all this is the embedded default: SQLite (WAL) under ./var, Celery's
filesystem broker, development ports. DATABASE_URL/REDIS_URL switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import environ

from mailcore.config import (
    BASE_DIR,
    VAR_DIR,
    env_bool,
    env_float,
    env_int,
    env_listen,
    env_path,
    env_str,
)
from mailcore.privileges import give_away, make_dirs


def _secret_key() -> str:
    configured = env_str("SECRET_KEY", "")
    if configured:
        return configured
    # Embedded default: one random key per installation, kept under ./var.
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    make_dirs(VAR_DIR, 0o755)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    give_away(path)  # issue 15 item 1: created as root before the drop
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in env_str("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "mailcore.apps.MailcoreConfig",
    "mailcore.directory",
    "mailcore.store",
    "mailcore.delivery",
    "mailcore.pop3",
    "mailcore.fetching",
    "mailcore.contacts",
    "mailcore.rules",
    "mailcore.outbox",
    "mailcore.mtasts",
    "webmail.api",
    "webmail.compose",
    "webmail.accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "webmail.accounts.sessions.SessionActivityMiddleware",
    "webmail.accounts.twofactor.EnrolmentRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webmail.urls"
WSGI_APPLICATION = "webmail.wsgi.application"
ASGI_APPLICATION = "webmail.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# --- database -------------------------------------------------------------------------------
_env = environ.Env()
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'mailroom.sqlite3'}")
_db = _env.db_url_config(DATABASE_URL)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    make_dirs(Path(_db["NAME"]).parent, 0o755)
    _db["OPTIONS"] = {
        # Several processes (web, SMTP, worker) write: WAL lets readers run beside one writer,
        # IMMEDIATE takes the write lock at BEGIN so UID allocation is serialised.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Tests use a file, not memory, so worker and server subprocesses see the same database.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test-mailroom.sqlite3")}
    _db["CONN_MAX_AGE"] = None  # keep the connection: re-running the PRAGMAs per query is waste
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db["ENGINE"] = "django.db.backends.postgresql"
    _db.setdefault("OPTIONS", {})
    # Server-side prepared statements for the few hand-built statements that ask for one
    # (cursor.execute(..., prepare=True): the queue's group-commit insert, the delivery and
    # index row sets). Django turns psycopg's preparing off (prepare_threshold None), which
    # silently ignores prepare=True: PostgreSQL parsed, analysed and planned the group
    # commit's insert on every commit, ~45 % of its backend's CPU (docs/performance.md,
    # seventh pass). A threshold no ORM query reaches keeps every other query unprepared, as
    # Django has it. Off for a connection pooler that cannot hold prepared statements
    # (PgBouncer before 1.21 in transaction mode).
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        _db["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)
    _db["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    # No health checks: they cost a "SELECT 1" per request or SMTP command; a connection
    # broken by a restart fails one operation (a temporary error) and is then replaced.
    _db["CONN_HEALTH_CHECKS"] = False
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "directory.Account"
# Password policy (mailcore/directory/passwords.py). Argon2id's cost: Django's defaults (t=2,
# m=100 MiB, p=8); changed parameters rehash each password at its owner's next login.
ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 2)
ARGON2_MEMORY_KIB = env_int("ARGON2_MEMORY_KIB", 102400)
ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 8)
PASSWORD_HASHERS = [
    "mailcore.directory.passwords.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
PASSWORD_MIN_LENGTH = env_int("PASSWORD_MIN_LENGTH", 8)

# 2단계 인증 (mailcore/directory/twofactor.py). The issuer names the account in authenticator
# apps and is the passkeys' relying-party name. WEBAUTHN_RP_ID: the passkeys' domain; empty
# means the host the web is served on (the request's Host, which ALLOWED_HOSTS vets).
# WEBAUTHN_ORIGINS: the origins a ceremony may come from (comma-separated); empty means the
# request's own scheme and host. SECOND_FACTOR_KEY seals TOTP secrets (default: SECRET_KEY;
# changing it makes enrolled apps unreadable, so users need an admin reset).
SECOND_FACTOR_ISSUER = env_str("SECOND_FACTOR_ISSUER", "Mailroom")
SECOND_FACTOR_KEY = env_str("SECOND_FACTOR_KEY", "")
SECOND_FACTOR_CHALLENGE_SECONDS = env_int("SECOND_FACTOR_CHALLENGE_SECONDS", 300)
WEBAUTHN_RP_ID = env_str("WEBAUTHN_RP_ID", "")
WEBAUTHN_ORIGINS = [o.strip() for o in env_str("WEBAUTHN_ORIGINS", "").split(",") if o.strip()]
# Breached passwords imported by `manage.py passwords import` (sorted SHA-1 digests).
PASSWORD_DENYLIST_FILE = env_path("PASSWORD_DENYLIST_FILE", VAR_DIR / "password-denylist.sha1")
_pv = "django.contrib.auth.password_validation."
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": _pv + "MinimumLengthValidator", "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH}},
    {"NAME": "mailcore.directory.passwords.MaximumLengthValidator"},
    {
        "NAME": _pv + "UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("address", "display_name")},
    },
    {"NAME": _pv + "CommonPasswordValidator"},
    {"NAME": "mailcore.directory.passwords.KoreanCommonPasswordValidator"},
    {"NAME": _pv + "NumericPasswordValidator"},
    {"NAME": "mailcore.directory.passwords.BreachedPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "Korean")]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
make_dirs(STATIC_ROOT, 0o755)
FRONTEND_DIR = BASE_DIR / "frontend"
STATICFILES_DIRS = [FRONTEND_DIR / "static"]
# Browser app: Vite builds frontend/dist/ with base /static/ (`make frontend`); webmail.web.views
# serves dist/index.html for app paths and whitenoise serves dist/assets/ as /static/assets/.
# Added only once built, so a checkout without Node still starts (with the placeholder page).
FRONTEND_DIST = FRONTEND_DIR / "dist"
if FRONTEND_DIST.is_dir():
    STATICFILES_DIRS.append(FRONTEND_DIST)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Secure (HTTPS-only) cookies by default once the site names an https:// origin; plain-HTTP
# development on localhost keeps working without it. SESSION_COOKIE_SECURE overrides.
SESSION_COOKIE_SECURE = env_bool(
    "SESSION_COOKIE_SECURE", any(o.startswith("https://") for o in CSRF_TRUSTED_ORIGINS)
)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
API_MAX_REQUEST_BYTES = env_int("API_MAX_REQUEST_BYTES", 35 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_REQUEST_BYTES
# JSON bodies: arrays/objects nested deeper than this answer 400 before parsing (no request
# of the API nests more than a few levels; 1000 would overflow Python's parser).
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32)
# Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed; empty:
# the socket peer is the client (webmail.api.clientip). See README "Behind a proxy".
TRUSTED_PROXIES = [p.strip() for p in env_str("TRUSTED_PROXIES", "").split(",") if p.strip()]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webmail.api.tokenauth.TrackedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON in and out only: a cross-site <form> cannot send application/json (one more wall
    # behind CSRF, security.md W10), and no browsable-API HTML pages of mail data.
    "DEFAULT_PARSER_CLASSES": ["webmail.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "webmail.api.errors.exception_handler",
    # Counted by webmail.api.throttles in Redis or the database, shared by every web process.
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("API_LOGIN_RATE", "20/min"),
        # Adding, changing or running an external account (a connection to another server).
        "fetch": env_str("FETCH_API_RATE", "60/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mailroom API",
    "DESCRIPTION": "Read and manage mail in Mailroom. Authenticate with `Authorization: Token …` "
    "(POST /api/v1/auth/token) or a browser session with CSRF.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "FlagNameEnum": "webmail.api.serializers.FLAG_NAMES",
        # Two "mode" fields: compose's (new, reply, …) keeps its old name beside MTA-STS's.
        "ModeEnum": "webmail.api.compose_serializers.COMPOSE_MODES",
        "LargeFileStateEnum": "mailcore.outbox.models.LargeFileState",
        "StsModeEnum": "webmail.adminconsole.mtasts.MODES",
    },
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "mailroom": {"level": env_str("LOG_LEVEL", "INFO")},
        # aiosmtpd logs every command at INFO under "mail.log": too chatty for production.
        "mail.log": {"level": env_str("SMTP_PROTOCOL_LOG_LEVEL", "WARNING")},
    },
}

# --- mail -----------------------------------------------------------------------------------
MAIL_ROOT = env_path("MAIL_ROOT", VAR_DIR / "mail")
SPOOL_DIR = env_path("SPOOL_DIR", VAR_DIR / "spool")
MAIL_HOSTNAME = env_str("MAIL_HOSTNAME", socket.getfqdn() or "localhost")
# Where postmaster@ mail goes when no account or alias claims it (RFC 5321 §4.5.1).
POSTMASTER_ADDRESS = env_str("POSTMASTER_ADDRESS", "")

TLS_CERT_FILE = env_path("TLS_CERT_FILE", VAR_DIR / "tls" / "cert.pem")
TLS_KEY_FILE = env_path("TLS_KEY_FILE", VAR_DIR / "tls" / "key.pem")
TLS_SELF_SIGNED = "TLS_CERT_FILE" not in __import__("os").environ

WEB_LISTEN = env_listen("WEB_LISTEN", "127.0.0.1:8000")
SMTP_LISTEN = env_listen("SMTP_LISTEN", "127.0.0.1:2525")
SUBMISSION_LISTEN = env_listen("SUBMISSION_LISTEN", "127.0.0.1:2587")
SMTPS_LISTEN = env_listen("SMTPS_LISTEN", "127.0.0.1:2465")
IMAP_LISTEN = env_listen("IMAP_LISTEN", "127.0.0.1:2143")
IMAPS_LISTEN = env_listen("IMAPS_LISTEN", "127.0.0.1:2993")
# --- IMAP (issue 10: mailcore.imap) ------------------------------------------------------------
# Plaintext LOGIN before STARTTLS only from loopback, and only when this is on (Dovecot's
# disable_plaintext_auth=yes trusts loopback too; we keep it off unless asked).
IMAP_ALLOW_PLAINTEXT_LOOPBACK = env_bool("IMAP_ALLOW_PLAINTEXT_LOOPBACK", False)
IMAP_APPENDLIMIT = env_int("IMAP_APPENDLIMIT", 50 * 1024 * 1024)  # largest APPEND (RFC 7889)
IMAP_MAX_LINE_BYTES = env_int("IMAP_MAX_LINE_BYTES", 65536)  # Dovecot imap_max_line_length
IMAP_PREAUTH_TIMEOUT = env_int("IMAP_PREAUTH_TIMEOUT", 60)  # seconds before login
IMAP_IDLE_TIMEOUT = env_int("IMAP_IDLE_TIMEOUT", 30 * 60)  # RFC 9051 §5.4: at least 30 min
IMAP_MAX_CONNECTIONS = env_int("IMAP_MAX_CONNECTIONS", 10000)
IMAP_MAX_CONNECTIONS_PER_IP = env_int("IMAP_MAX_CONNECTIONS_PER_IP", 50)
# Dovecot mail_max_userip_connections is 10 per user and IP; phones, desktops and IDLE per
# folder add up, so 20 per account over all IPs.
IMAP_MAX_CONNECTIONS_PER_ACCOUNT = env_int("IMAP_MAX_CONNECTIONS_PER_ACCOUNT", 20)
# Worker processes of `python -m mailcore.imap` (0: one per CPU); the caps above hold across
# them through Redis (per worker on the embedded default). Tests run one unless they ask.
IMAP_PROCESSES = env_int("IMAP_PROCESSES", 0)
POP3_LISTEN = env_listen("POP3_LISTEN", "127.0.0.1:2110")
POP3S_LISTEN = env_listen("POP3S_LISTEN", "127.0.0.1:2995")
# --- POP3 (issue 11: mailcore.pop3) ------------------------------------------------------------
# USER/PASS and AUTH PLAIN before STLS only from loopback, and only when this is on.
POP3_ALLOW_PLAINTEXT_LOOPBACK = env_bool("POP3_ALLOW_PLAINTEXT_LOOPBACK", False)
POP3_PREAUTH_TIMEOUT = env_int("POP3_PREAUTH_TIMEOUT", 60)  # seconds before login
POP3_IDLE_TIMEOUT = env_int("POP3_IDLE_TIMEOUT", 10 * 60)  # RFC 1939 §3: at least 10 min
POP3_MAX_CONNECTIONS = env_int("POP3_MAX_CONNECTIONS", 10000)
POP3_MAX_CONNECTIONS_PER_IP = env_int("POP3_MAX_CONNECTIONS_PER_IP", 50)
# What "delete" means for accounts whose POP3 policy is to delete (the admin's choice): trash
# (into Trash, as the webmail's delete) or expunge (for good, classic POP3). Each account
# chooses delete, keep or keep-and-mark-read itself (mailcore.pop3.models.Pop3Settings).
POP3_DELETE_ACTION = env_str("POP3_DELETE_ACTION", "trash")
POP3_EXPIRE = env_str("POP3_EXPIRE", "")  # CAPA EXPIRE (RFC 2449): days or NEVER; "" = none
POP3_LOGIN_DELAY = env_int("POP3_LOGIN_DELAY", 0)  # seconds between logins; 0 = none
# SQLite only: flock files of the one-session-per-account lock (PostgreSQL: advisory locks).
POP3_LOCK_DIR = env_path("POP3_LOCK_DIR", VAR_DIR / "pop3-locks")

SMTP_MAX_MESSAGE_BYTES = env_int("SMTP_MAX_MESSAGE_BYTES", 25 * 1024 * 1024)
SMTP_MAX_RECIPIENTS = env_int("SMTP_MAX_RECIPIENTS", 1000)
SMTP_MAX_RECEIVED_HEADERS = env_int("SMTP_MAX_RECEIVED_HEADERS", 50)
# SMTP processes runall starts, all on the same ports (SO_REUSEPORT); the connection caps
# below are shared out among them.
SMTP_PROCESSES = env_int("SMTP_PROCESSES", 1)
SMTP_MAX_CONNECTIONS = env_int("SMTP_MAX_CONNECTIONS", 500)
# Group commit of the queue rows of concurrent DATA sessions (mailcore.delivery.groupcommit):
# one transaction per batch; each session still answers 250 only after its batch's commit.
# The window is how long the committer waits for more sessions before committing (0: it
# commits what arrived while the previous commit ran).
SMTP_GROUP_COMMIT = env_bool("SMTP_GROUP_COMMIT", True)
SMTP_GROUP_COMMIT_WINDOW_MS = env_float("SMTP_GROUP_COMMIT_WINDOW_MS", 0.0)
# The group commit in a cleanup process beside each SMTP process (mailcore.delivery.cleanup),
# so that SMTP and the durable step use a core each, as Postfix's smtpd and cleanup do.
SMTP_CLEANUP_PROCESS = env_bool("SMTP_CLEANUP_PROCESS", True)
# Postfix's in_flow_delay for local delivery (with the cleanup process): while more inbound
# messages than this wait for their first delivery attempt and a worker is alive, each
# accepted batch waits, more the larger the excess, up to SMTP_IN_FLOW_DELAY_MS (0: off).
SMTP_IN_FLOW_BACKLOG = env_int("SMTP_IN_FLOW_BACKLOG", 150)
SMTP_IN_FLOW_DELAY_MS = env_int("SMTP_IN_FLOW_DELAY_MS", 1000)
SMTP_MAX_CONNECTIONS_PER_IP = env_int("SMTP_MAX_CONNECTIONS_PER_IP", 50)
SMTP_TIMEOUT = env_int("SMTP_TIMEOUT", 300)
# Times each command may be sent: per message for MAIL/RCPT/DATA/RSET/NOOP/EHLO/HELO (counted
# afresh after each DATA; RCPT this many past the recipient limit), per session for the others.
SMTP_COMMAND_CALL_LIMIT = env_int("SMTP_COMMAND_CALL_LIMIT", 100)
# "normalize" (Postfix smtpd_forbid_bare_newline=normalize) or "reject" (mox); bare CR is
# always rejected.
SMTP_BARE_LF = env_str("SMTP_BARE_LF", "normalize")

# --- submission (587/465), relay access, login limiter (issue 3: submission) -----------------
SUBMISSION_MAX_RECIPIENTS = env_int("SUBMISSION_MAX_RECIPIENTS", 100)  # per message; 0 = no limit
SUBMISSION_MAX_MESSAGES_PER_DAY = env_int("SUBMISSION_MAX_MESSAGES_PER_DAY", 500)  # per account
# Containment of a compromised account (mailcore.delivery.containment): an account that sends
# more than max(FLOOR, FACTOR x its busiest hour of the last NORM_DAYS) messages (or recipients)
# within WINDOW, or whose mail hard-bounces / is refused as spam at a high rate, is held: its
# outgoing queue pauses until an admin releases it. Admin overrides per account and domain.
CONTAIN_ENABLED = env_bool("CONTAIN_ENABLED", True)
CONTAIN_WINDOW_SECONDS = env_int("CONTAIN_WINDOW_SECONDS", 600)
CONTAIN_NORM_DAYS = env_int("CONTAIN_NORM_DAYS", 14)
CONTAIN_BURST_FACTOR = env_float("CONTAIN_BURST_FACTOR", 3.0)
CONTAIN_BURST_FLOOR_MESSAGES = env_int("CONTAIN_BURST_FLOOR_MESSAGES", 50)
CONTAIN_BURST_FLOOR_RECIPIENTS = env_int("CONTAIN_BURST_FLOOR_RECIPIENTS", 200)
CONTAIN_BOUNCE_WINDOW_SECONDS = env_int("CONTAIN_BOUNCE_WINDOW_SECONDS", 24 * 3600)
CONTAIN_BOUNCE_MIN_SAMPLE = env_int("CONTAIN_BOUNCE_MIN_SAMPLE", 20)  # final recipients
CONTAIN_BOUNCE_RATE = env_float("CONTAIN_BOUNCE_RATE", 0.3)  # hard bounces / final recipients
CONTAIN_SPAM_MIN = env_int("CONTAIN_SPAM_MIN", 5)  # refusals as spam, at least this many
CONTAIN_SPAM_RATE = env_float("CONTAIN_SPAM_RATE", 0.1)  # and at least this share
AUTH_FAILURE_WINDOW_SECONDS = env_int("AUTH_FAILURE_WINDOW_SECONDS", 900)
AUTH_MAX_FAILURES_PER_IP = env_int("AUTH_MAX_FAILURES_PER_IP", 10)  # distinct wrong passwords
AUTH_MAX_FAILURES_PER_ACCOUNT = env_int("AUTH_MAX_FAILURES_PER_ACCOUNT", 20)
AUTH_TRUSTED_SECONDS = env_int("AUTH_TRUSTED_SECONDS", 30 * 24 * 3600)
AUTH_FAILURE_DELAY_SECONDS = env_float("AUTH_FAILURE_DELAY_SECONDS", 1.0)
AUTH_FAILURE_DELAY_MAX_SECONDS = env_float("AUTH_FAILURE_DELAY_MAX_SECONDS", 10.0)
SMTP_AUTH_MAX_FAILURES_PER_SESSION = env_int("SMTP_AUTH_MAX_FAILURES_PER_SESSION", 3)

ALIAS_MAX_DEPTH = env_int("ALIAS_MAX_DEPTH", 10)
ALIAS_MAX_EXPANSION = env_int("ALIAS_MAX_EXPANSION", 1000)
# Mail rules (mailcore.rules): forwarding and redirects per account per hour; the SRS secret
# ("" = derived from SECRET_KEY) that signs rewritten envelope senders of forwarded mail;
# whether accounts may forward outside their domain unless the domain's policy says otherwise.
RULES_FORWARDS_PER_HOUR = env_int("RULES_FORWARDS_PER_HOUR", 100)
SRS_SECRET = env_str("SRS_SECRET", "")
RULES_FORWARD_OUTSIDE = env_bool("RULES_FORWARD_OUTSIDE", True)
# 수신차단 at SMTP time: a blocked sender gets 550 at RCPT (else the worker discards silently).
RULES_BLOCK_AT_RCPT = env_bool("RULES_BLOCK_AT_RCPT", True)
DELIVERY_LEASE_SECONDS = env_int("DELIVERY_LEASE_SECONDS", 300)
DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 12)
DELIVERY_RETRY_BASE_SECONDS = env_int("DELIVERY_RETRY_BASE_SECONDS", 60)
DELIVERY_RETRY_MAX_SECONDS = env_int("DELIVERY_RETRY_MAX_SECONDS", 4 * 3600)
QUEUE_SWEEP_SECONDS = env_float("QUEUE_SWEEP_SECONDS", 30.0)
SPOOL_ORPHAN_SECONDS = env_int("SPOOL_ORPHAN_SECONDS", 24 * 3600)
# Worker liveness: each worker process refreshes a heartbeat row this often; one silent for
# WORKER_STALE_SECONDS (or, on the same machine, whose process is gone) is dead, and the
# entries it leased are retried at once instead of after their lease.
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 10.0)
WORKER_STALE_SECONDS = env_int("WORKER_STALE_SECONDS", 90)
# A queue row whose spool file is missing and that no attempt ever delivered from is one whose
# commit reply was lost (SMTP said 451, the client retries): the sweep removes it once it is
# this old.
QUEUE_UNACKED_GRACE_SECONDS = env_int("QUEUE_UNACKED_GRACE_SECONDS", 60)
MAILDIR_TMP_MAX_AGE_SECONDS = env_int("MAILDIR_TMP_MAX_AGE_SECONDS", 36 * 3600)
# Change history (ARCHITECTURE rule 8): tombstones of expunged/moved messages are kept this
# long (Debian's Cyrus keeps 28 days); an IMAP/JMAP client whose state is older resyncs.
CHANGES_HISTORY_DAYS = env_int("CHANGES_HISTORY_DAYS", 30)
# An IMAP APPEND to Sent of a message (same Message-ID) that SMTP submission or the API put
# there this recently returns that copy instead of a second one (Gmail does the same).
SENT_DEDUPE_SECONDS = env_int("SENT_DEDUPE_SECONDS", 600)
# The outbox (mailcore.outbox, issue 14): scheduled send, undo send, recall, read status.
# A scheduled message may be due at most this far ahead, and an account may have at most this
# many waiting (Naver: a year, 200 letters); 0 = no limit.
OUTBOX_MAX_SCHEDULE_DAYS = env_int("OUTBOX_MAX_SCHEDULE_DAYS", 365)
OUTBOX_MAX_SCHEDULED = env_int("OUTBOX_MAX_SCHEDULED", 200)
# How often the beat looks for queue entries that were never tried and are due (scheduled or
# held for undo): a scheduled message leaves at most this long after its time.
OUTBOX_DUE_SCAN_SECONDS = env_float("OUTBOX_DUE_SCAN_SECONDS", 2.0)
# 보내기 취소: how long a webmail send is held, for users who have not chosen (0, 5, 10, 20, 30).
OUTBOX_UNDO_DEFAULT_SECONDS = env_int("OUTBOX_UNDO_DEFAULT_SECONDS", 10)
# Recall (발송취소) of delivered, unopened copies from local recipients; a domain can turn it
# off for its senders (`manage.py outbox recall <domain> off`), this turns it off everywhere.
OUTBOX_RECALL_ENABLED = env_bool("OUTBOX_RECALL_ENABLED", True)
# Read status: whether a recipient lets senders of ANOTHER domain see when they read, unless
# they chose otherwise in Settings (senders of their own domain see it by default).
READ_STATUS_SHARE_OTHER_DOMAINS = env_bool("READ_STATUS_SHARE_OTHER_DOMAINS", False)
# Admin audit log rows older than this are purged once a day (beat); 0 = keep forever.
AUDIT_LOG_RETENTION_DAYS = env_int("AUDIT_LOG_RETENTION_DAYS", 365)
# 로그인 기록: every login attempt through every door, kept this many days (0 = forever).
LOGIN_HISTORY_DAYS = env_int("LOGIN_HISTORY_DAYS", 180)
# How long the "this was not me" link of a new-device notice works (it dies with a password change).
NOT_ME_LINK_DAYS = env_int("NOT_ME_LINK_DAYS", 7)
# Sessions' and the API token's "last used" are written by a thread of each web process every
# few seconds, never in the request (tests turn it off and flush by hand).
SESSION_TOUCH_BACKGROUND = env_bool("SESSION_TOUCH_BACKGROUND", True)

# --- outbound relay, bounces and DKIM (issue 3: mailcore.delivery.relay/dsn/dkim) ----------
# Resolvers for MX lookups, "ip[:port],…"; empty = /etc/resolv.conf (sendmail's resolver).
RELAY_NAMESERVERS = env_str("RELAY_NAMESERVERS", "")
RELAY_DNS_TIMEOUT = env_float("RELAY_DNS_TIMEOUT", 10.0)
RELAY_SMTP_PORT = env_int("RELAY_SMTP_PORT", 25)
RELAY_CONNECT_TIMEOUT = env_float("RELAY_CONNECT_TIMEOUT", 30.0)
# Loopback/private/link-local MX targets are refused (SSRF) unless this is set (tests).
RELAY_ALLOW_PRIVATE_TARGETS = env_bool("RELAY_ALLOW_PRIVATE_TARGETS", False)
# Domains whose mail is deferred rather than sent without STARTTLS, "a.example,b.example".
RELAY_REQUIRE_TLS_DOMAINS = env_str("RELAY_REQUIRE_TLS_DOMAINS", "")
RELAY_RETRY_BASE_SECONDS = env_int("RELAY_RETRY_BASE_SECONDS", 300)
RELAY_RETRY_MAX_SECONDS = env_int("RELAY_RETRY_MAX_SECONDS", 4 * 3600)
RELAY_MAX_QUEUE_LIFETIME_SECONDS = env_int("RELAY_MAX_QUEUE_LIFETIME_SECONDS", 5 * 24 * 3600)
RELAY_DELAY_NOTICE_SECONDS = env_int("RELAY_DELAY_NOTICE_SECONDS", 4 * 3600)  # 0 = never
# Outbound attempts before an entry is held as poison (the lifetime usually ends it first).
RELAY_MAX_ATTEMPTS = env_int("RELAY_MAX_ATTEMPTS", 100)
# A worker's claim on one outbound entry: longer than the slowest SMTP session it may run.
RELAY_LEASE_SECONDS = env_int("RELAY_LEASE_SECONDS", 3600)

DEFAULT_QUOTA_BYTES = env_int("DEFAULT_QUOTA_BYTES", 0)  # 0 = unlimited
# Over quota at delivery: deferred (452 4.2.2), then bounced (5.2.2) once the message has
# waited this long (Postfix + Dovecot with quota_full_tempfail = yes, bounded).
QUOTA_BOUNCE_AFTER_SECONDS = env_int("QUOTA_BOUNCE_AFTER_SECONDS", 24 * 3600)
QUOTA_WARNING_PERCENT = env_int("QUOTA_WARNING_PERCENT", 90)  # one warning mail a day above it
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 200)
# GET /api/v1/events (server-sent events): each open stream holds one web thread, so streams
# are capped per web process (runall gives each 32 threads) and per account in that process.
EVENTS_MAX_STREAMS = env_int("EVENTS_MAX_STREAMS", 24)
EVENTS_MAX_STREAMS_PER_USER = env_int("EVENTS_MAX_STREAMS_PER_USER", 5)
EVENTS_STREAM_SECONDS = env_int("EVENTS_STREAM_SECONDS", 300)  # then the browser reconnects
EVENTS_HEARTBEAT_SECONDS = env_int("EVENTS_HEARTBEAT_SECONDS", 15)

# --- fetching from external POP3/IMAP accounts (issue 11 §7-10: mailcore.fetching) ------------
# Fernet key for the saved passwords (Fernet.generate_key()); "" = derived from SECRET_KEY
# (HKDF). To rotate: new key here, old one(s) in FETCH_ENCRYPTION_OLD_KEYS (comma-separated),
# `manage.py fetch rekey`, then drop the old keys.
FETCH_ENCRYPTION_KEY = env_str("FETCH_ENCRYPTION_KEY", "")
FETCH_ENCRYPTION_OLD_KEYS = env_str("FETCH_ENCRYPTION_OLD_KEYS", "")
# Loopback, private, link-local (any non-global) addresses as targets: off, so the feature
# cannot probe the internal network; tests and single-LAN setups turn it on.
FETCH_ALLOW_PRIVATE_TARGETS = env_bool("FETCH_ALLOW_PRIVATE_TARGETS", False)
# Security "none" (the password in plaintext on the wire): off.
FETCH_ALLOW_PLAINTEXT = env_bool("FETCH_ALLOW_PLAINTEXT", False)
# Extra CA certificates (PEM) trusted beside the system's, for servers under a private CA.
FETCH_CA_FILE = env_str("FETCH_CA_FILE", "")
FETCH_MAX_ACCOUNTS = env_int("FETCH_MAX_ACCOUNTS", 5)  # external accounts per user
FETCH_MAX_MESSAGE_BYTES = env_int("FETCH_MAX_MESSAGE_BYTES", SMTP_MAX_MESSAGE_BYTES)
FETCH_MAX_MESSAGES_PER_RUN = env_int("FETCH_MAX_MESSAGES_PER_RUN", 500)
FETCH_RUN_SECONDS = env_int("FETCH_RUN_SECONDS", 600)  # no new download after this long
FETCH_RUN_LEASE_SECONDS = env_int("FETCH_RUN_LEASE_SECONDS", 1800)  # one run at a time
FETCH_MIN_INTERVAL_MINUTES = env_int("FETCH_MIN_INTERVAL_MINUTES", 5)
FETCH_TIMEOUT_SECONDS = env_int("FETCH_TIMEOUT_SECONDS", 30)  # per network operation
FETCH_SWEEP_SECONDS = env_int("FETCH_SWEEP_SECONDS", 60)  # beat: queue the due accounts
FETCH_REDISPATCH_SECONDS = env_int("FETCH_REDISPATCH_SECONDS", 300)  # a lost queued run

# --- compose (REST API write side) ------------------------------------------------------------
# A composed message (attachments base64-encoded) may not exceed this; defaults to the SMTP limit.
COMPOSE_MAX_MESSAGE_BYTES = env_int("COMPOSE_MAX_MESSAGE_BYTES", SMTP_MAX_MESSAGE_BYTES)
# Room kept in a message for its headers, text and HTML bodies and MIME framing.
COMPOSE_MESSAGE_OVERHEAD_BYTES = env_int("COMPOSE_MESSAGE_OVERHEAD_BYTES", 256 * 1024)
# What the attachments of one message may add up to (their own bytes): base64 turns every 57
# bytes into a 78-byte line (76 characters + CRLF, RFC 2045 §6.8). 25 MiB → 18.09 MiB.
COMPOSE_MAX_ATTACHMENTS_BYTES = (
    max(0, COMPOSE_MAX_MESSAGE_BYTES - COMPOSE_MESSAGE_OVERHEAD_BYTES) * 57 // 78
)
# One uploaded attachment: what fits in a message, unless set lower. Larger → 413.
COMPOSE_MAX_UPLOAD_BYTES = min(
    env_int("COMPOSE_MAX_UPLOAD_BYTES", COMPOSE_MAX_ATTACHMENTS_BYTES),
    COMPOSE_MAX_ATTACHMENTS_BYTES,
)
# All uploads of one account not yet cleaned up (they are removed a day after upload).
COMPOSE_UPLOAD_QUOTA_BYTES = env_int("COMPOSE_UPLOAD_QUOTA_BYTES", 200 * 1024 * 1024)
UPLOAD_DIR = env_path("UPLOAD_DIR", VAR_DIR / "uploads")
# 대용량 첨부 (large-file links, issue 14 §4; mailcore.outbox.largefiles, docs/outbox.md): files
# sent as a link, uploaded in resumable chunks into LARGE_FILE_DIR (outside the Maildir).
LARGE_FILE_DIR = env_path("LARGE_FILE_DIR", VAR_DIR / "largefiles")
LARGE_FILE_MAX_BYTES = env_int("LARGE_FILE_MAX_BYTES", 2 * 1024**3)  # one file
LARGE_FILE_QUOTA_BYTES = env_int("LARGE_FILE_QUOTA_BYTES", 20 * 1024**3)  # per account, all files
LARGE_FILE_CHUNK_MAX_BYTES = env_int("LARGE_FILE_CHUNK_MAX_BYTES", 16 * 1024**2)  # one request
LARGE_FILE_DAYS = env_int("LARGE_FILE_DAYS", 30)  # downloadable this long after sending
LARGE_FILE_MAX_DOWNLOADS = env_int("LARGE_FILE_MAX_DOWNLOADS", 100)  # per file (Naver); 0 = any
# An upload with no chunk for this long, or uploaded and never sent, is removed (beat).
LARGE_FILE_ABANDON_HOURS = env_int("LARGE_FILE_ABANDON_HOURS", 24)
# Rows of expired or revoked files stay this long (their link answers 410), then go.
LARGE_FILE_KEEP_ENDED_DAYS = env_int("LARGE_FILE_KEEP_ENDED_DAYS", 30)

# --- Celery -----------------------------------------------------------------------------------
# Celery's Django fixup closes every database connection before and after each task unless
# this is set (a new PostgreSQL backend per delivery batch); the tasks themselves drop broken
# or aged connections instead (mailcore.delivery.tasks).
CELERY_DB_REUSE_MAX = 1_000_000
REDIS_URL = env_str("REDIS_URL", "")
BROKER_DIR = env_path("BROKER_DIR", VAR_DIR / "broker")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Longer than any delivery; the DB lease, not Celery, prevents double delivery.
        "visibility_timeout": 3600,
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    # Kombu's filesystem transport with whole-file writes (see webmail/fsbroker.py).
    CELERY_BROKER_TRANSPORT = "webmail.fsbroker:Transport"
    for _sub in ("queue", "processed", "control"):
        make_dirs(BROKER_DIR / _sub, 0o700)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }

# The delivery loop (mailcore.delivery.loop): each worker process claims inbound mail from the
# database itself, woken by a Redis list (DELIVERY_WAKE_URL, the broker's by default) instead
# of a Celery task per doorbell notice; it claims without a wake every POLL seconds, and polls
# at that pace while Redis is unreachable. On by default with Redis; off on the embedded
# default (the doorbell rings the Celery task through the filesystem broker).
DELIVERY_LOOP = env_bool("DELIVERY_LOOP", bool(REDIS_URL))
DELIVERY_WAKE_URL = env_str("DELIVERY_WAKE_URL", REDIS_URL)
DELIVERY_LOOP_POLL_SECONDS = env_float("DELIVERY_LOOP_POLL_SECONDS", 2.0)
# A woken loop waits this long before its claim: larger batches at low rates, for that latency.
DELIVERY_LOOP_GATHER_MS = env_float("DELIVERY_LOOP_GATHER_MS", 200.0)

# Serve /static/ straight from the app and frontend directories (no collectstatic step).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Vite names every file under assets/ by its content hash: cache those for a year.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^/static/assets/"

# Address book (mailcore.contacts): contacts and groups per account, largest import file.
CONTACTS_MAX_PER_ACCOUNT = env_int("CONTACTS_MAX_PER_ACCOUNT", 5000)
CONTACT_GROUPS_MAX = env_int("CONTACT_GROUPS_MAX", 200)
CONTACTS_IMPORT_MAX_BYTES = env_int("CONTACTS_IMPORT_MAX_BYTES", 5 * 1024 * 1024)

# Inbound trust (mailcore.inbound; issue 13 §1-2, docs/inbound-trust.md): SPF/DKIM/DMARC/ARC at
# delivery, with RELAY_NAMESERVERS and at most INBOUND_AUTH_TIMEOUT seconds of DNS a message.
INBOUND_AUTH = env_bool("INBOUND_AUTH", True)
INBOUND_AUTH_TIMEOUT = env_float("INBOUND_AUTH_TIMEOUT", 8.0)
# ARC sealers (d= of the ARC-Seal, "lists.example,fwd.example") whose pass lets a DMARC fail
# through to the inbox (RFC 8617 §7.2): mailing lists and forwarders the admin trusts.
INBOUND_ARC_TRUSTED_SEALERS = env_str("INBOUND_ARC_TRUSTED_SEALERS", "")
# rspamd (mailcore.inbound.rspamd): the normal worker scans (/checkv2); empty = no spam filter.
# The controller learns (스팸 신고 / 스팸 아님 → /learnspam, /learnham); empty = not taught.
RSPAMD_URL = env_str("RSPAMD_URL", "")
RSPAMD_CONTROLLER_URL = env_str("RSPAMD_CONTROLLER_URL", "")
RSPAMD_PASSWORD = env_str("RSPAMD_PASSWORD", "")
# A scan slower than this delivers the mail unscanned (X-Spam-Status: Unscanned).
RSPAMD_TIMEOUT = env_float("RSPAMD_TIMEOUT", 15.0)
# Junk at or above this score, or for rspamd's "add header"/"rewrite subject"/"reject" actions.
SPAM_JUNK_SCORE = env_float("SPAM_JUNK_SCORE", 6.0)
# The admin's choice to refuse at SMTP time instead of filing (the MX runs the checks before it
# answers DATA; off by default, so accepting stays fast): a DMARC failure whose domain publishes
# p=reject (550 5.7.1), and with SMTP_REJECT_SPAM, mail rspamd gives its "reject" action or a
# score of at least SPAM_REJECT_SCORE (554 5.7.1; rspamd's own reject threshold is 15).
SMTP_REJECT_DMARC = env_bool("SMTP_REJECT_DMARC", False)
SMTP_REJECT_SPAM = env_bool("SMTP_REJECT_SPAM", False)
SPAM_REJECT_SCORE = env_float("SPAM_REJECT_SCORE", 15.0)
# `manage.py runall` starts Debian's rspamd (when installed and RSPAMD_URL is empty) on
# 127.0.0.1 ports RSPAMD_EMBEDDED_PORT (scan), +1 (controller), +2 (proxy); "0" = never.
RSPAMD_EMBEDDED = env_str("RSPAMD_EMBEDDED", "auto")
RSPAMD_EMBEDDED_PORT = env_int("RSPAMD_EMBEDDED_PORT", 11433)
# --- issue 15 (ops): running Mailroom for real ------------------------------------------------
# Item 1, privilege separation: production mode. Processes started as root bind their ports and
# drop to this user (mailcore.privileges); secrets and mail must be owned by it, mode 0600/0700.
MAILROOM_USER = env_str("MAILROOM_USER", "")
# Item 2, TLS: one certificate per domain by SNI, in TLS_CERT_DIR/<name>/fullchain.pem +
# privkey.pem (certbot's live/ layout); files are re-read when they change, checked at most
# every TLS_RELOAD_SECONDS; the console warns TLS_EXPIRY_WARNING_DAYS before a certificate ends.
TLS_CERT_DIR = env_str("TLS_CERT_DIR", "")
TLS_RELOAD_SECONDS = env_float("TLS_RELOAD_SECONDS", 1.0)
TLS_EXPIRY_WARNING_DAYS = env_int("TLS_EXPIRY_WARNING_DAYS", 14)
# Item 3, behind the HTTPS reverse proxy of deploy/nginx: believe its X-Forwarded-Proto (which
# it always overwrites) so Django knows the request came over HTTPS (CSRF Origin checks,
# secure redirects). Only with a proxy in front: a client could claim it otherwise.
if env_bool("WEB_PROXY_HTTPS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Item 6, client autoconfiguration (mailcore.autoconfig): the host name mail apps are told
# (default MAIL_HOSTNAME), and whether to tell them the standard ports (993, 587 …) rather
# than the bound ones (true behind published container ports, as docker-compose.yml).
AUTOCONFIG_HOSTNAME = env_str("AUTOCONFIG_HOSTNAME", "")
AUTOCONFIG_STANDARD_PORTS = env_bool("AUTOCONFIG_STANDARD_PORTS", False)
# Item 4, mail log and metrics (mailcore.maillog, `python -m mailcore.maillog`, a runall child):
# one line per accepted message and per settled recipient, Postfix-style `text` or `json`
# (`off`: none), read from the queue rows every MAIL_LOG_POLL_SECONDS. METRICS_LISTEN
# (HOST:PORT, off by default) serves Prometheus /metrics from the same process.
MAIL_LOG = env_str("MAIL_LOG", "text")
MAIL_LOG_POLL_SECONDS = env_float("MAIL_LOG_POLL_SECONDS", 1.0)
METRICS_LISTEN = env_listen("METRICS_LISTEN", "off")
MIDDLEWARE.insert(0, "webmail.web.metrics.ApiLatencyMiddleware")  # API latency histogram
# Item 7, MTA-STS (RFC 8461) and TLS-RPT (RFC 8460), mailcore.mtasts. Served: max_age of our
# policies (mode and further MX per domain in the console). Outbound: RELAY_MTA_STS honours
# remote policies (fetch over HTTPS with MTA_STS_CA_FILE or the system CAs, port
# MTA_STS_HTTPS_PORT, at most MTA_STS_FETCH_TIMEOUT seconds). TLSRPT_ADDRESS: the rua mailbox
# the DNS check prints and whose reports are stored ('' = postmaster@<domain>).
MTA_STS_MAX_AGE = env_int("MTA_STS_MAX_AGE", 604800)
RELAY_MTA_STS = env_bool("RELAY_MTA_STS", True)
MTA_STS_CA_FILE = env_str("MTA_STS_CA_FILE", "")
MTA_STS_HTTPS_PORT = env_int("MTA_STS_HTTPS_PORT", 443)
MTA_STS_FETCH_TIMEOUT = env_float("MTA_STS_FETCH_TIMEOUT", 10.0)
TLSRPT_ADDRESS = env_str("TLSRPT_ADDRESS", "")
# From: (and envelope sender) of the daily TLS reports we mail to other domains' rua; '' = none.
TLSRPT_FROM = env_str("TLSRPT_FROM", "")
