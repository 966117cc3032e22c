"""The extraction core: one participant's exports into donation rows, with the standard
library only, so that the same code runs in ingest and in the participant's browser
(Pyodide): `files` reads an export, `participant` extracts its rows, `donation` makes,
checks and re-keys a donation file."""
