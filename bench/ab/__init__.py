"""Paired A/B runs of one suite in two Python environments (`samplerbench compare`).

`environments` turns an ENV argument into an interpreter and a PYTHONPATH (building cached
overlays for pip requirements and git refs), `probe` checks in each environment that
samplerbench and Optuna import and fingerprints its suite and table, and `interleave` runs
both sides chunk by chunk. The statistics and the report are in `reports.ab`.
"""
