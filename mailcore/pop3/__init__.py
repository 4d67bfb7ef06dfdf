"""POP3 server (issue 11): protocol (wire format), session (state machine), server (asyncio)."""
