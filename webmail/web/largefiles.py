"""The public link of a 대용량 첨부 (issue 14 §4): /f/<token> is a small page (name, size,
expiry, a download button), /f/<token>/download the file itself, both without login.

Server-rendered, no script (works in any mail reader's browser, under the SPA's CSP). The file
is streamed from disk (FileResponse, or a ranged generator for one `Range`), served as
attachment with nosniff and a sandbox CSP as mail attachments are. Ended files answer 410.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.html import escape
from django.views.decorators.http import require_safe

from mailcore.errors import StorageError
from mailcore.outbox import largefile_storage as storage
from mailcore.outbox.largefiles import (
    do_count_download,
    download_limit_reached,
    file_for_token,
    human_size,
)
from mailcore.outbox.models import LargeFile, LargeFileState
from webmail.api.downloads import content_disposition, display_filename, download_type, harden
from webmail.web.views import SPA_CSP

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    html = (
        '<!doctype html><html lang="ko"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>{body}"
        "</main></body></html>"
    )
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = SPA_CSP
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    response["X-Robots-Tag"] = "noindex"
    return response


def _not_found() -> HttpResponse:
    return _page(
        "대용량 첨부 / Large file",
        '<p data-testid="largefile-missing">이 링크의 파일이 없습니다. 주소를 확인하세요.<br>'
        "There is no file at this link. Check the address.</p>",
        status=404,
    )


def _gone(found: LargeFile) -> HttpResponse:
    if found.state == LargeFileState.REVOKED:
        why = "보낸 사람이 파일을 만료시켰습니다. / The sender expired this file."
    elif found.state == LargeFileState.SENT and download_limit_reached(found):
        why = (
            f"다운로드 횟수({settings.LARGE_FILE_MAX_DOWNLOADS}회)를 모두 사용했습니다. / This "
            "file reached its download limit."
        )
    else:
        when = found.expires_at.date().isoformat() if found.expires_at else ""
        why = f"보관 기간이 끝났습니다({when}). / The file expired ({when})."
    return _page(
        "대용량 첨부 / Large file",
        f'<p data-testid="largefile-gone"><b>{escape(display_filename(found.filename))}</b>'
        f"</p><p>{escape(why)}<br>보낸 사람에게 다시 보내 달라고 하세요. / Ask the sender to "
        "send it again.</p>",
        status=410,
    )


def _live(token: str) -> tuple[LargeFile | None, HttpResponse | None]:
    found = file_for_token(token)
    if found is None or found.state in (LargeFileState.UPLOADING, LargeFileState.READY):
        return None, _not_found()
    if (
        found.state != LargeFileState.SENT
        or found.expires_at is None
        or found.expires_at <= timezone.now()
        or download_limit_reached(found)
    ):
        return None, _gone(found)
    return found, None


@require_safe
def largefile_page(request: HttpRequest, token: str) -> HttpResponse:
    found, refusal = _live(token)
    if found is None:
        assert refusal is not None
        return refusal
    name = display_filename(found.filename)
    until = timezone.localtime(found.expires_at).strftime("%Y-%m-%d %H:%M %Z")
    body = (
        '<dl><dt>파일 / File</dt><dd data-testid="largefile-name">'
        f"{escape(name)}</dd><dt>크기 / Size</dt><dd>{escape(human_size(found.size))} "
        f"({found.size:,} bytes)</dd><dt>만료 / Expires</dt><dd>{escape(until)}</dd>"
        f"<dt>SHA-256</dt><dd><code>{escape(found.sha256)}</code></dd></dl>"
        f'<p><a data-testid="largefile-download" href="/f/{escape(token)}/download" '
        f'download="{escape(name)}">다운로드 / Download</a></p>'
    )
    return _page("대용량 첨부 / Large file", body)


def _parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(start, end inclusive) for one satisfiable range; False if unsatisfiable (416);
    None to ignore the header (absent, malformed, or several ranges: a 200 with it all,
    as RFC 9110 §14.2 allows)."""
    match = _RANGE.fullmatch(header.strip())
    if not match or "," in header:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            return False
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        return False
    return start, min(end, size - 1)


@require_safe
def largefile_download(request: HttpRequest, token: str) -> HttpResponseBase:
    found, refusal = _live(token)
    if found is None:
        assert refusal is not None
        return refusal
    size = found.size
    etag = f'"{found.sha256}"'
    wanted = _parse_range(request.headers.get("Range", ""), size)
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None  # RFC 9110 §13.1.5: not the same file any more → the whole of it
    if wanted is False:
        response: HttpResponseBase = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return harden(response)
    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    if request.method == "GET" and start == 0 and not do_count_download(found):
        found.refresh_from_db()
        return _gone(found)
    try:
        ctype = download_type(found.content_type, storage.read_head(found.storage_name))
        if request.method == "HEAD":
            response = HttpResponse(content_type=ctype, status=206 if wanted else 200)
        elif isinstance(wanted, tuple):
            response = StreamingHttpResponse(
                storage.RangeReader(found.storage_name, start, end - start + 1),
                status=206,
                content_type=ctype,
            )
        else:
            response = FileResponse(
                open(storage.path_of(found.storage_name), "rb"),  # noqa: SIM115 - closed by it
                content_type=ctype,
            )
        if isinstance(wanted, tuple):
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    except (StorageError, OSError):
        return _page(
            "대용량 첨부 / Large file",
            "<p>파일을 지금 읽을 수 없습니다. 잠시 후 다시 시도하세요.<br>"
            "The file cannot be read right now; try again later.</p>",
            status=503,
        )
    response["Content-Disposition"] = content_disposition(found.filename)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    response["Referrer-Policy"] = "no-referrer"
    return harden(response)
