"""Real data into the canonical request schema: donated member exports, or a table.

`ingest` is the real-data twin of `simulate`. It is the only stage that sees names,
emails, profile URLs and message text: what leaves it is pseudonymous ids, timestamps,
profile fields and the outputs of the note and label rules.
"""
