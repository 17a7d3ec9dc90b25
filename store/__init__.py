"""The metadata store (DuckDB) and the artifact store (content-addressed files).

Kept import-light on purpose: `store.artifacts` is used inside worker processes, which must
never load DuckDB, so nothing here imports `duckdb` at package level.
"""
