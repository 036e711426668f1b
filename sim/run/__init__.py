"""Running the model: one replication (runner), batch plans and sessions, executors (process pool, Dask), bench."""
