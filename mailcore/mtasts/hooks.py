"""The MTA-STS hooks the outbound relay calls (relay.StsHooks): policy lookup with the cache,
and TLS-RPT session counts."""

from __future__ import annotations

from mailcore.delivery.relay import RelayConfig
from mailcore.mtasts.policy import Lookup
from mailcore.mtasts.remote import lookup_policy
from mailcore.mtasts.tlsrpt import record_session


class RelaySts:
    def __init__(self, cfg: RelayConfig) -> None:
        self.cfg = cfg

    def lookup(self, domain: str) -> Lookup:
        return lookup_policy(domain, self.cfg)

    def record(self, lookup: Lookup, result_type: str, mx: str, ip: str) -> None:
        record_session(lookup, result_type, mx, ip)
