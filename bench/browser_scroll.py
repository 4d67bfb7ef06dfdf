#!/usr/bin/env python
"""Browser scroll benchmark for the virtualised message list: one account with N messages in its
Inbox (seeded as bench/api_list.py does), page size 100, opened in Debian's Chromium; the grid is
scrolled 4000 px per animation frame until its last row (keyset pages are fetched as the window
nears the end of what is loaded), then 300 random jumps across the whole loaded list.

Printed: time to the first rows, time to reach row N, frame times (p50/p95/p99/max) while
scrolling and while jumping, the most rows ever in the DOM, and the JS heap at the end.

    .venv/bin/python bench/browser_scroll.py --messages 100000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.browser.live import ROOT, LiveStack, launch_chromium, sign_in

SCROLL = """async ([n, capMs]) => {
  const grid = document.querySelector('[role=grid]');
  const frames = [];
  let maxRows = 0;
  let last = performance.now();
  const t0 = last;
  const pct = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  return await new Promise((resolve) => {
    const tick = (now) => {
      frames.push(now - last);
      last = now;
      const rows = grid.querySelectorAll('[role=row]');
      maxRows = Math.max(maxRows, rows.length);
      grid.scrollTop += 4000;
      const lastRow = rows.length ? Number(rows[rows.length - 1].getAttribute('aria-rowindex')) : 0;
      if (lastRow >= n || now - t0 > capMs) {
        frames.sort((a, b) => a - b);
        resolve({ reachedRow: lastRow, seconds: (now - t0) / 1000, frames: frames.length,
          p50: pct(frames, 0.5), p95: pct(frames, 0.95), p99: pct(frames, 0.99),
          max: frames[frames.length - 1], maxDomRows: maxRows });
        return;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}"""

JUMP = """async () => {
  const grid = document.querySelector('[role=grid]');
  const frames = [];
  let last = performance.now();
  for (let i = 0; i < 300; i++) {
    grid.scrollTop = Math.random() * grid.scrollHeight;
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    frames.push(now - last);
    last = now;
  }
  frames.sort((a, b) => a - b);
  return { jumps: frames.length, p50: frames[150], p95: frames[285], max: frames[299],
    domRows: grid.querySelectorAll('[role=row]').length,
    heapMB: performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1e6) : null };
}"""


def serve_assets_from_dist(page: Any) -> None:
    """Seeding takes minutes; a rebuild of frontend/dist meanwhile would leave the server's
    static file list stale, so the app's assets come straight from dist/."""
    dist = ROOT / "frontend" / "dist" / "assets"

    def handle(route: Any) -> None:
        name = route.request.url.split("/static/assets/", 1)[1].split("?", 1)[0]
        path = dist / Path(name).name
        ctype = "text/css" if path.suffix == ".css" else "text/javascript"
        route.fulfill(status=200, body=path.read_bytes(), headers={"Content-Type": ctype})

    page.route("**/static/assets/**", handle)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--cap-seconds", type=int, default=600, help="give up scrolling after this")
    args = ap.parse_args()

    stack = LiveStack()
    try:
        user = stack.new_user("scroll")
        os.environ["DATABASE_URL"] = stack.env["DATABASE_URL"]
        os.environ["MAIL_HOSTNAME"] = stack.env["MAIL_HOSTNAME"]
        from bench.api_list import seed

        t0 = time.perf_counter()
        seed(stack.var, user.address, args.messages)
        print(f"seeded {args.messages} messages in {time.perf_counter() - t0:.0f} s", flush=True)
        status, _ = stack.api(user).call("PATCH", "/api/v1/settings", {"page_size": 100})
        assert status == 200, status

        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = launch_chromium(p)
            ctx = browser.new_context(
                base_url=stack.base_url, viewport={"width": 1366, "height": 850}
            )
            sign_in(ctx, stack.base_url, user)
            page = ctx.new_page()
            page.set_default_timeout((args.cap_seconds + 120) * 1000)
            serve_assets_from_dist(page)
            t1 = time.perf_counter()
            page.goto("/")
            page.locator("[role=grid] [role=row]").first.wait_for(state="attached")
            print(f"first rows on screen after {time.perf_counter() - t1:.1f} s")
            print(
                "scroll to the end:",
                json.dumps(page.evaluate(SCROLL, [args.messages, args.cap_seconds * 1000])),
            )
            print("random jumps:     ", json.dumps(page.evaluate(JUMP)))
            browser.close()
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
