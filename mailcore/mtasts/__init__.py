"""MTA-STS (RFC 8461) and SMTP TLS reporting (RFC 8460): the policy we serve for our domains,
remote domains' policies fetched, cached and enforced when relaying, and TLS-RPT counts and
received reports."""
