""" "This was not me": the page a new-device notice links to (mailcore.directory.newdevice).

Server-rendered, no script, so it works from any mail reader's browser and under the strict
CSP. GET shows what will happen and asks for a new password (a link a mail scanner follows
changes nothing); POST, with the CSRF token and the link's token, sets it, ends every session,
the API token and every app password (webmail.accounts.actions.do_secure_account)."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.html import escape

from mailcore.directory.newdevice import account_for_not_me
from webmail.accounts.actions import do_secure_account
from webmail.api.clientip import client_ip
from webmail.web.views import SPA_CSP

MAX_PASSWORD_CHARS = 1024


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    html = (
        '<!doctype html><html lang="ko"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>{body}"
        "</main></body></html>"
    )
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = SPA_CSP
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


def _form(request: HttpRequest, token: str, errors: list[str]) -> str:
    problems = "".join(f"<li>{escape(e)}</li>" for e in errors)
    return (
        "<p>새 비밀번호를 정하면 모든 기기에서 로그아웃되고 앱 비밀번호가 모두 해지됩니다.<br>"
        "Set a new password: every session ends and every app password is revoked.</p>"
        + (f'<ul role="alert">{problems}</ul>' if problems else "")
        + '<form method="post">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(get_token(request))}">'
        f'<input type="hidden" name="t" value="{escape(token)}">'
        '<p><label for="p1">새 비밀번호 / New password</label><br>'
        '<input id="p1" name="new_password" type="password" autocomplete="new-password" required>'
        '</p><p><label for="p2">비밀번호 확인 / Confirm</label><br>'
        '<input id="p2" name="confirm" type="password" autocomplete="new-password" required></p>'
        '<p><button type="submit">비밀번호 바꾸고 모두 로그아웃 / Change and sign out everywhere'
        "</button></p></form>"
    )


INVALID = (
    "<p>이 링크는 만료되었거나 이미 사용되었습니다. 로그인해서 비밀번호를 바꾸거나 관리자에게 "
    "문의하세요.<br>This link has expired or was used already. Sign in and change your "
    "password, or ask your administrator.</p>"
)


def not_me(request: HttpRequest) -> HttpResponse:
    title = "계정 보호 / Secure your account"
    token = (request.POST if request.method == "POST" else request.GET).get("t", "")[:2000]
    account = account_for_not_me(token)
    if account is None:
        return _page(title, INVALID, status=400)
    if request.method != "POST":
        return _page(title, _form(request, token, []))
    new = request.POST.get("new_password", "")
    errors: list[str] = []
    if new != request.POST.get("confirm", ""):
        errors.append("비밀번호가 서로 다릅니다. / The passwords do not match.")
    elif len(new) > MAX_PASSWORD_CHARS:
        errors.append(f"{MAX_PASSWORD_CHARS}자 이하로 / At most {MAX_PASSWORD_CHARS} characters.")
    else:
        try:
            validate_password(new, account)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        return _page(title, _form(request, token, errors), status=400)
    ended = do_secure_account(account=account, new_password=new, ip=client_ip(request))
    done = (
        f"<p>비밀번호를 바꿨습니다. {ended}개 세션이 종료되고 앱 비밀번호가 모두 해지되었습니다. "
        "메일 앱은 새 앱 비밀번호로 다시 연결하세요.<br>"
        f"Your password is changed; {ended} sessions were ended and every app password revoked. "
        'Create new app passwords for your mail apps.</p><p><a href="/">로그인 / Sign in</a></p>'
    )
    return _page(title, done)
