"""Execution, the one stage that combines spec, storage, strategies and objectives: the cell
runner (one prelude, then a trial loop from a dispatch table), executors (serial, processes,
dask), progress, and `run_suite`, which runs a whole suite and exports its tables."""
