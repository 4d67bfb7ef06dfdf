"""IMAP4rev2/rev1 server on the one store: protocol (pure wire format), session (state
machine over store queries and actions), server (asyncio listeners)."""
