"""The Textual terminal UI (`mlops tui`). It talks to the daemon only through
`mlopsd.client`; import-linter forbids it the store, the jobs and the heavy libraries."""
