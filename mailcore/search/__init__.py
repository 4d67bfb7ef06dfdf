"""Search over an account's mail: one SearchBackend (mailcore.search.backend) per database,
the query language (mailcore.search.query) and the tokens (mailcore.search.text)."""
