"""The tables' trial datetimes are naive local time whatever form the storage gives them in:
Optuna 4.5 to 4.9 give a timezone-aware datetime for a journal record that Optuna 5 wrote."""

from __future__ import annotations

import datetime as dt

import optuna
import pandas as pd
from optuna.distributions import FloatDistribution

from bench.core.attrs import STUDY_SPEC, STUDY_SUITE
from bench.core.optuna_internals import naive_local, study_storage
from bench.results.export import build_tables

SPEC = {"objective": {"kind": "mnist-table", "dataset": "digits", "space": "seed"},
        "strategy": {"name": "random", "label": "random"}, "pruner": {"label": "none"},
        "seed": 0, "device": "cpu"}


def test_aware_and_naive_trial_datetimes_export_as_naive_local_time() -> None:
    study = optuna.create_study(study_name="cell", direction="maximize")
    study.set_user_attr(STUDY_SPEC, SPEC)
    study.set_user_attr(STUDY_SUITE, "s")
    starts = [dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),  # as 4.x reads 5.0's records
              dt.datetime(2024, 5, 6, 7, 9, 0),  # as every storage gives them otherwise
              dt.datetime(2024, 5, 6, 9, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))]
    for start in starts:
        trial = optuna.trial.create_trial(params={"x": 0.5}, value=0.5,
                                          distributions={"x": FloatDistribution(0.0, 1.0)})
        trial.datetime_start, trial.datetime_complete = start, start + dt.timedelta(seconds=2)
        study.add_trial(trial)
    trials, _ = build_tables(study_storage(study))
    assert str(trials["datetime_start"].dtype) == "datetime64[ns]"
    assert trials["datetime_start"].tolist() == [pd.Timestamp(naive_local(s)) for s in starts]
    assert trials["duration_s"].tolist() == [2.0] * 3
