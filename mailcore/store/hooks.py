"""Callbacks other mailcore apps register at startup for two store events the store itself
has no use for: a message's first \\Seen (by any door: web, API, IMAP, POP3) and an arrival.
The outbox's read status and MDN intake use them (mailcore.outbox.apps); the store never
imports those apps. A callback runs after the change committed and must be cheap for
messages it does not track; its failure is logged, never the caller's failure."""

from __future__ import annotations

import logging
from collections.abc import Callable

from mailcore.directory.models import Account
from mailcore.mime import ParsedMessage
from mailcore.store.models import Message

log = logging.getLogger("mailroom")

SeenHook = Callable[[Account, list[Message]], None]
ArrivalHook = Callable[[list[tuple[Message, ParsedMessage]]], None]
_seen: list[SeenHook] = []
_arrival: list[ArrivalHook] = []


def on_first_seen(hook: SeenHook) -> None:
    if hook not in _seen:
        _seen.append(hook)


def on_arrival(hook: ArrivalHook) -> None:
    if hook not in _arrival:
        _arrival.append(hook)


def first_seen(account: Account, messages: list[Message]) -> None:
    """`messages` of `account` went from unseen to \\Seen (committed). A hook must decide
    from the rows it is given (their Maildir keys) whether to query at all: this runs on
    every flag change of every door."""
    if not messages:
        return
    for hook in _seen:
        try:
            hook(account, messages)
        except Exception:
            log.exception("first-seen hook %s failed", hook)


def arrived(messages: list[tuple[Message, ParsedMessage]]) -> None:
    """Messages newly stored by a delivery (committed), each with its parse."""
    if not messages:
        return
    for hook in _arrival:
        try:
            hook(messages)
        except Exception:
            log.exception("arrival hook %s failed", hook)
