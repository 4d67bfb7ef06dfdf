"""New-device alerts (새로운 환경 로그인 알림): a successful web login from a browser not seen
before on this account puts a notice mail into the user's INBOX, with a "this was not me" link.

What counts as known, in order (Gmail's rule, cookie first):
1. the browser presents this account's device cookie (set at each web login, signed, 2 years);
2. else an earlier successful web login in the history (LOGIN_HISTORY_DAYS) came from the same
   browser and system (family, from the user agent) and the same IP block (/24, IPv6 /48).
The very first web login of an account alerts nobody: there is nothing to compare it with.

The link carries a signed token naming the account and its current password hash, valid
NOT_ME_LINK_DAYS: once the password changes — which is what following it does — it is void."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing

from mailcore.directory.models import Account, LoginRecord
from mailcore.mime.build import ComposeRequest, build_message, make_recipient

log = logging.getLogger("mailroom.auth")

NOT_ME_SALT = "mailroom.not-me"
DEVICE_SALT = "mailroom.device"

_BROWSERS = (
    ("Edge", re.compile(r"Edg(e|A|iOS)?/")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/")),
    ("Whale", re.compile(r"Whale/")),
    ("Opera", re.compile(r"OPR/|Opera")),
    ("Firefox", re.compile(r"Firefox/|FxiOS/")),
    ("Chrome", re.compile(r"Chrome/|CriOS/|Chromium/")),
    ("Safari", re.compile(r"Safari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"Android")),
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Mac OS X|Macintosh")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Linux", re.compile(r"Linux|X11")),
)


def browser_of(user_agent: str) -> str:
    """'Chrome on Windows', 'Safari on iOS' …; the raw text (cut) when nothing is recognised."""
    browser = next((name for name, rx in _BROWSERS if rx.search(user_agent)), "")
    system = next((name for name, rx in _SYSTEMS if rx.search(user_agent)), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent[:60] or "unknown"


def ip_block(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def device_cookie(account: Account) -> str:
    return signing.dumps({"a": account.pk}, salt=DEVICE_SALT, compress=True)


def cookie_knows(account: Account, cookie: str | None) -> bool:
    if not cookie:
        return False
    try:
        data = signing.loads(cookie, salt=DEVICE_SALT, max_age=2 * 365 * 86400)
    except signing.BadSignature:
        return False
    return isinstance(data, dict) and data.get("a") == account.pk


def is_new_device(account: Account, ip: str, user_agent: str, current: int | None) -> bool:
    """Whether this web login (its LoginRecord id: `current`) comes from a browser and network
    this account's web logins have not used; False for the account's first web login."""
    earlier = LoginRecord.objects.filter(
        account=account, door=LoginRecord.Door.WEB, result=LoginRecord.Result.OK
    ).exclude(pk=current or 0)
    seen = list(earlier.order_by("-id").values_list("ip", "client")[:500])
    if not seen:
        return False
    here = (browser_of(user_agent), ip_block(ip))
    return all((browser_of(ua), ip_block(addr)) != here for addr, ua in seen)


def _fingerprint(account: Account) -> str:
    return hashlib.sha256(account.password.encode()).hexdigest()[:16]


def not_me_token(account: Account) -> str:
    return signing.dumps({"a": account.pk, "p": _fingerprint(account)}, salt=NOT_ME_SALT)


def account_for_not_me(token: str) -> Account | None:
    """The account a "this was not me" token names, while it is valid: signed by us, younger
    than NOT_ME_LINK_DAYS, and the password unchanged since it was made."""
    try:
        data = signing.loads(token, salt=NOT_ME_SALT, max_age=settings.NOT_ME_LINK_DAYS * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int):
        return None
    account = Account.objects.filter(pk=data["a"], is_active=True).first()
    if account is None or data.get("p") != _fingerprint(account):
        return None
    return account


def deliver_notice(account: Account, *, ip: str, user_agent: str, link: str) -> bool:
    """Put the new-device notice into the account's INBOX (Korean and English in one mail, as
    the quota warning). A notice is a courtesy: failing to deliver it never fails the login."""
    from mailcore.store.actions import do_deliver
    from mailcore.store.models import Folder, Source, SpecialUse

    inbox = Folder.objects.filter(account=account, special_use=SpecialUse.INBOX).first()
    if inbox is None:
        return False
    now = datetime.now(tz=UTC)
    data = _notice(account, ip=ip, browser=browser_of(user_agent), link=link, now=now)
    key = f"new-device.{account.pk}.{now:%Y%m%d%H%M%S%f}.{settings.MAIL_HOSTNAME},S={len(data)}"
    try:
        do_deliver(account, inbox, data, key=key, source=Source.SMTP)
    except Exception:
        log.warning("could not deliver the new-device notice to %s", account.address, exc_info=True)
        return False
    log.info("new-device notice for %s (ip=%s, %s)", account.address, ip, browser_of(user_agent))
    return True


def _notice(account: Account, *, ip: str, browser: str, link: str, now: datetime) -> bytes:
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    request = ComposeRequest(
        sender=make_recipient("Mail system", f"postmaster@{account.domain.name}"),
        to=(make_recipient("", account.address),),
        subject="새로운 환경에서 로그인되었습니다 / New sign-in to your account",
        text=(
            f"{account.address} 계정에 새로운 환경에서 로그인되었습니다.\n\n"
            f"  시간: {when}\n  IP 주소: {ip}\n  브라우저: {browser}\n\n"
            "본인이 로그인했다면 이 메일은 무시하세요.\n"
            "본인이 아니라면 아래 링크에서 비밀번호를 바꾸세요. 모든 기기에서 로그아웃되고\n"
            "앱 비밀번호도 모두 해지됩니다.\n\n"
            f"  {link}\n\n"
            f"Someone signed in to {account.address} from a browser not seen before.\n\n"
            f"  Time: {when}\n  IP address: {ip}\n  Browser: {browser}\n\n"
            "If this was you, ignore this mail. If it was not, open the link above and set a\n"
            "new password: every session and app password is ended at once.\n"
        ),
        date=now,
    )
    return build_message(request, max_bytes=1024 * 1024).data
