#!/usr/bin/env python
"""Where a process's samples go, from py-spy's collapsed stacks (`bench/compare.py --profile DIR
--profile-format raw`): the functions with the largest inclusive and self shares, line numbers
folded, so a profile can be read as text.

    .venv/bin/python bench/profile_top.py DIR/accept/smtp-0.txt [--top 40] [--idle]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")
# Frames where a thread only waits (a selector, a lock, a queue): left out unless --idle.
_IDLE = ("select (selectors.py", "wait (threading.py", "_worker (concurrent/futures/thread.py")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("stacks", type=Path)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--idle", action="store_true", help="keep samples that end in a wait")
    args = ap.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in args.stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_LINE.sub(")", f) for f in stack.split(";")[1:]]
        if not frames or (not args.idle and frames[-1].startswith(_IDLE)):
            continue
        n = int(count)
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    print(f"{total} samples (busy)")
    print("inclusive %  self %  function")
    for frame, n in inclusive.most_common(args.top):
        print(f"{100 * n / total:10.1f}  {100 * own[frame] / total:6.1f}  {frame}")
    print("\nself %  function")
    for frame, n in own.most_common(args.top // 2):
        print(f"{100 * n / total:6.1f}  {frame}")


if __name__ == "__main__":
    main()
