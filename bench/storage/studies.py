"""Study-level storage operations: read a study's labels without its trials, delete a study, and
copy a finished in-memory study into a storage in one write."""

from __future__ import annotations

import copy
from contextlib import suppress
from datetime import datetime
from typing import Any

import optuna
from optuna.storages import BaseStorage

from bench.core.errors import BenchError
from bench.core.optuna_internals import (
    journal_create_study,
    journal_create_trial,
    journal_delete_study,
    journal_set_study_user_attr,
    journal_worker_id,
)
from bench.storage.journal import journal_file_of
from bench.storage.journal_index import JournalIndex


def stored_study_attrs(storage: BaseStorage, name: str) -> dict[str, Any] | None:
    """The user attributes of the stored study `name`, or None when there is none.

    A journal file answers from its study index, without replaying trials.
    """
    journal = journal_file_of(storage)
    if journal is not None:
        return journal.index.study_attrs(name)
    try:
        return storage.get_study_user_attrs(storage.get_study_id_from_name(name))
    except KeyError:
        return None


def delete_stored_study(storage: BaseStorage, name: str) -> None:
    """Delete the stored study `name`, if there is one."""
    journal = journal_file_of(storage)
    if journal is not None:
        worker_id = journal_worker_id(storage)
        journal.append_indexed(lambda index: [] if name not in index.ids else [
            journal_delete_study(worker_id, index.ids[name])])
        return
    with suppress(KeyError):
        storage.delete_study(storage.get_study_id_from_name(name))


def copy_finished_study(study: optuna.Study, storage: BaseStorage,
                        final_attrs: dict[str, Any] | None = None,
                        trial_attrs: dict[int, dict[str, Any]] | None = None,
                        trial_times: dict[int, tuple[datetime, datetime]] | None = None
                        ) -> list[optuna.trial.FrozenTrial]:
    """Write a finished in-memory study to `storage` under the same name; return its trials
    as written.

    `trial_attrs` maps trial numbers to user attributes added to those trials in the copy,
    `trial_times` to the (start, complete) datetimes the copy gives them instead of their own.

    For a journal file, the study, its attributes, every trial and `final_attrs` go in one
    fsynced append under the journal's lock, in the exact record format of `JournalStorage`,
    with the study id the journal's replay will give it (`JournalFile.append_indexed`); other
    storages get what `optuna.copy_study` does, then `final_attrs`. Either way `final_attrs`
    land last, so they can mark the copy complete.

    Raises:
        BenchError: another process stored a study of that name meanwhile.
    """
    final = dict(final_attrs or {})
    extra, times = trial_attrs or {}, trial_times or {}
    trials = [_amended(t, extra.get(t.number), times.get(t.number))
              for t in study.get_trials(deepcopy=False)]
    journal = journal_file_of(storage)
    if journal is None:  # as optuna.copy_study, with the trials' added attributes
        target = optuna.create_study(study_name=study.study_name, storage=storage,
                                     directions=study.directions)
        for key, value in study.user_attrs.items():
            target.set_user_attr(key, value)
        target.add_trials(trials)
        for key, value in final.items():
            target.set_user_attr(key, value)
        return trials
    worker_id = journal_worker_id(storage)
    name = study.study_name

    def records_for(index: JournalIndex) -> list[dict[str, Any]]:
        if name in index.ids:
            raise BenchError(f"study {name!r} was stored by another process while this one "
                             "ran it; two runs share this output: let one finish, then rerun")
        sid = index.next_id
        logs = [journal_create_study(worker_id, name, study.directions)]
        logs += [journal_set_study_user_attr(worker_id, sid, k, v)
                 for k, v in study.user_attrs.items()]
        logs += [journal_create_trial(worker_id, sid, t) for t in trials]
        return logs + [journal_set_study_user_attr(worker_id, sid, k, v)
                       for k, v in final.items()]

    journal.append_indexed(records_for)
    return trials


def _amended(trial: optuna.trial.FrozenTrial, attrs: dict[str, Any] | None,
             times: tuple[datetime, datetime] | None) -> optuna.trial.FrozenTrial:
    """A shallow copy of `trial` with `attrs` added to its user attributes and `times` as its
    start and complete datetimes."""
    if not attrs and times is None:
        return trial
    out = copy.copy(trial)
    if attrs:
        out.user_attrs = {**trial.user_attrs, **attrs}
    if times is not None:
        out.datetime_start, out.datetime_complete = times
    return out
