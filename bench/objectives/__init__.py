"""Objectives a cell evaluates: live training (`live`, imports torch) or replay of a recorded
table (`replay`, `table`; no torch), built by `base.build_objective`; `tabulate` records a table."""
