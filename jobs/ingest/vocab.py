"""The dtype names used everywhere (configs, params, schemas, profiles); no polars here, so
the daemon can check params without loading it. Their polars types are in dtypes.py."""

DTYPES = ("int64", "float64", "bool", "string", "date", "datetime")
