#!/usr/bin/env python
"""Browser list benchmark: one account with N messages in its Inbox (seeded as bench/api_list.py
does: real Maildir files and a bulk insert), opened in Debian's Chromium (Playwright), and the
time from the first page's HTTP response to its rows painted on screen, p50/p95 over many opens.

Two ways of opening the folder, both measured:
  - "load": a fresh page load of /folders/{inbox} (the app boots, then fetches the page);
  - "switch": inside the running app, from another folder back to the Inbox.

"Response received" is the Resource Timing `responseEnd` of the list request
(GET /api/v1/folders/{id}/messages); "painted" is taken from the page itself: a
MutationObserver sees the first message row enter the grid, then requestAnimationFrame +
setTimeout(0) runs after the frame that contains it has been painted. Also printed: the
request's own time (requestStart → responseEnd) and click → painted for the switch.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench \\
        .venv/bin/python bench/browser_list.py --messages 100000 --opens 40
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.api_list import seed
from bench.stack import ROOT, Api, Stack, machine, percentile, start_stack
from tests.browser.live import User, launch_chromium, sign_in

# Armed before each open; resolves once the first row of the seeded folder is on screen.
ARM = """() => {
  const LIST = /\\/api\\/v1\\/folders\\/\\d+\\/messages/;
  performance.clearResourceTimings();
  window.__benchClick = null;
  window.__benchDone = null;
  new Promise((resolve) => {
    const seen = () => {
      const row = document.querySelector('[role="grid"] [role="row"]');
      return row !== null && row.textContent.includes('seeded ');
    };
    const done = () => {
      const dom = performance.now();
      requestAnimationFrame(() => setTimeout(() => {
        const painted = performance.now();
        const list = performance.getEntriesByType('resource').filter((r) => LIST.test(r.name));
        resolve({ dom, painted, click: window.__benchClick, list: list.map((r) => ({
          name: r.name, requestStart: r.requestStart, responseEnd: r.responseEnd })) });
      }, 0));
    };
    if (seen()) { done(); return; }
    const obs = new MutationObserver(() => { if (seen()) { obs.disconnect(); done(); } });
    obs.observe(document, { subtree: true, childList: true, characterData: true });
  }).then((result) => { window.__benchDone = result; });
}"""


def result_of(page: Any) -> dict[str, Any]:
    """Waits (30 s at most: the app may have failed to load) for the armed measurement."""
    page.wait_for_function("() => window.__benchDone !== null", timeout=30_000)
    return dict(page.evaluate("() => window.__benchDone"))


def first_list_entry(result: dict[str, Any]) -> dict[str, Any] | None:
    entries = [e for e in result["list"] if e["responseEnd"] > 0]
    return min(entries, key=lambda e: e["responseEnd"]) if entries else None


def measure_load(page: Any, url: str) -> tuple[float, float] | None:
    """A fresh load of the folder's URL (the page was armed by an init script)."""
    page.goto(url)
    result = result_of(page)
    entry = first_list_entry(result)
    if entry is None:
        return None
    return result["painted"] - entry["responseEnd"], entry["responseEnd"] - entry["requestStart"]


def measure_switch(page: Any, away: Any, inbox: Any) -> tuple[float, float, float] | None:
    away.click()
    page.wait_for_function(
        '() => !document.querySelector(\'[role="grid"] [role="row"]\')'
        " || !document.querySelector('[role=\"grid\"]').textContent.includes('seeded ')"
    )
    page.evaluate(ARM)
    page.evaluate("() => { window.__benchClick = performance.now() }")
    inbox.click()
    result = result_of(page)
    entry = first_list_entry(result)
    if entry is None:  # rows came from the app's memory before any request: not an open
        return None
    return (
        result["painted"] - entry["responseEnd"],
        entry["responseEnd"] - entry["requestStart"],
        result["painted"] - result["click"],
    )


def restart(stack: Stack) -> Stack:
    """Stops the stack and starts web + SMTP again on the same database and files."""
    stack.stop()
    log = (stack.var / "stack.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runall", "--skip", "worker", "--skip", "beat"],
        cwd=ROOT,
        env=stack.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    again = Stack(proc, stack.env, stack.web_port, stack.smtp_port, stack.var)
    deadline = time.monotonic() + 120
    while True:
        try:
            with socket.create_connection(("127.0.0.1", stack.web_port), timeout=1):
                return again
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                again.stop()
                raise RuntimeError(f"stack did not come back: {stack.var / 'stack.log'}") from None
            time.sleep(0.3)


def report(name: str, values: list[float]) -> None:
    if not values:
        print(f"  {name:<44} no samples")
        return
    print(
        f"  {name:<44} p50 {percentile(values, 50):7.1f} ms   p95 {percentile(values, 95):7.1f} ms"
        f"   max {max(values):7.1f} ms   (n={len(values)})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--opens", type=int, default=40, help="opens per way of opening")
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--height", type=int, default=850)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    stack = start_stack(skip=("worker", "beat"))
    try:
        stack.manage("domain", "add", "bench.test")
        stack.manage(
            "account", "add", "big@bench.test", "--password-stdin", stdin=b"bench-password\n"
        )
        print(f"machine: {machine()}")
        seed(stack.var, "big@bench.test", args.messages)
        # A fresh web server right before measuring: it serves the frontend/dist/ of now
        # (in a shared checkout someone may have rebuilt it while the folder was filling).
        stack = restart(stack)
        api = Api(stack.web_port)
        api.login("big@bench.test", "bench-password")
        inbox = api.inbox_id()
        _, folders = api.call("GET", "/api/v1/folders")
        sent = next(f["id"] for f in folders["results"] if f["special_use"] == "sent")  # type: ignore[index]
        base = f"http://127.0.0.1:{stack.web_port}"
        with sync_playwright() as p:
            browser = launch_chromium(p)
            print(f"browser: Chromium {browser.version}, headless, {args.width}x{args.height}")
            ctx = browser.new_context(
                base_url=base, viewport={"width": args.width, "height": args.height}
            )
            sign_in(ctx, base, User("big@bench.test", "bench-password"))

            loads: list[float] = []
            load_server: list[float] = []
            page = ctx.new_page()
            page.add_init_script(script=f"({ARM})()")
            measure_load(page, f"/folders/{inbox}")  # warm up caches and connections
            t0 = time.perf_counter()
            for _ in range(args.opens):
                got = measure_load(page, f"/folders/{inbox}")
                if got:
                    loads.append(got[0])
                    load_server.append(got[1])
            elapsed = time.perf_counter() - t0
            page.close()

            switches: list[float] = []
            switch_server: list[float] = []
            clicks: list[float] = []
            cached = 0
            page = ctx.new_page()
            page.goto(f"/folders/{inbox}")
            page.locator('[role="grid"] [role="row"]').first.wait_for()
            nav = page.locator("nav").first
            away = nav.locator(f'a[href$="/folders/{sent}"]').first
            back = nav.locator(f'a[href$="/folders/{inbox}"]').first
            measure_switch(page, away, back)  # warm up
            for _ in range(args.opens):
                got = measure_switch(page, away, back)
                if got is None:
                    cached += 1
                    continue
                switches.append(got[0])
                switch_server.append(got[1])
                clicks.append(got[2])
            browser.close()

        print(
            f"browser_list: {args.messages} messages in the Inbox, {args.opens} opens each "
            f"({elapsed / max(1, args.opens):.2f} s per full load)"
        )
        report("load: response → first rows painted", loads)
        report("load: list request (request → response end)", load_server)
        report("switch: response → first rows painted", switches)
        report("switch: list request (request → response end)", switch_server)
        report("switch: click → first rows painted", clicks)
        if cached:
            print(f"  switch: {cached} opens showed rows before any request (from memory)")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
