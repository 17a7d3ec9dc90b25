"""MLflow's REST API for its Python client, as an adapter over our services (`app.py`
builds it; mounted at /api/2.0)."""
