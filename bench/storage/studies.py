"""Study-level storage operations: read a study's labels without its trials, delete a study, and
copy a finished in-memory study into a storage in one write."""

from __future__ import annotations

import copy
import datetime as dt
import functools
from contextlib import suppress
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, distribution_to_json
from optuna.storages import BaseStorage
from optuna.storages.journal._storage import JournalOperation

from bench.core.errors import BenchError
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
        worker_id = storage._replay_result.worker_id  # type: ignore[attr-defined]
        journal.append_indexed(lambda index: [] if name not in index.ids else [
            {"op_code": JournalOperation.DELETE_STUDY, "worker_id": worker_id,
             "study_id": index.ids[name]}])
        return
    with suppress(KeyError):
        storage.delete_study(storage.get_study_id_from_name(name))


def copy_finished_study(study: optuna.Study, storage: BaseStorage,
                        final_attrs: dict[str, Any] | None = None,
                        trial_attrs: dict[int, dict[str, Any]] | None = None) -> None:
    """Write a finished in-memory study to `storage` under the same name.

    `trial_attrs` maps trial numbers to user attributes added to those trials in the copy.

    For a journal file, the study, its attributes, every trial and `final_attrs` go in one
    fsynced append under the journal's lock, in the exact record format of `JournalStorage`,
    with the study id the journal's replay will give it (`JournalFile.append_indexed`); other
    storages get what `optuna.copy_study` does, then `final_attrs`. Either way `final_attrs`
    land last, so they can mark the copy complete.

    Raises:
        BenchError: another process stored a study of that name meanwhile.
    """
    final = dict(final_attrs or {})
    extra = trial_attrs or {}
    trials = [_with_user_attrs(t, extra.get(t.number)) for t in study.get_trials(deepcopy=False)]
    journal = journal_file_of(storage)
    if journal is None:  # as optuna.copy_study, with the trials' added attributes
        target = optuna.create_study(study_name=study.study_name, storage=storage,
                                     directions=study.directions)
        for key, value in study.user_attrs.items():
            target.set_user_attr(key, value)
        target.add_trials(trials)
        for key, value in final.items():
            target.set_user_attr(key, value)
        return
    worker_id = storage._replay_result.worker_id  # type: ignore[attr-defined]
    name = study.study_name

    def records_for(index: JournalIndex) -> list[dict[str, Any]]:
        if name in index.ids:
            raise BenchError(f"study {name!r} was stored by another process while this one "
                             "ran it; two runs share this output: let one finish, then rerun")
        sid = index.next_id

        def attr_log(key: str, value: Any) -> dict[str, Any]:
            return {"op_code": JournalOperation.SET_STUDY_USER_ATTR, "worker_id": worker_id,
                    "study_id": sid, "user_attr": {key: value}}

        logs = [{"op_code": JournalOperation.CREATE_STUDY, "worker_id": worker_id,
                 "study_name": name, "directions": [int(d) for d in study.directions]}]
        logs += [attr_log(k, v) for k, v in study.user_attrs.items()]
        logs += [{"op_code": JournalOperation.CREATE_TRIAL, "worker_id": worker_id,
                  **_trial_log(sid, t)} for t in trials]
        return logs + [attr_log(k, v) for k, v in final.items()]

    journal.append_indexed(records_for)


@functools.lru_cache(maxsize=256)
def _distribution_json(distribution: BaseDistribution) -> str:
    """Optuna's JSON of a distribution; a study's trials share a handful of them."""
    return distribution_to_json(distribution)


def _with_user_attrs(trial: optuna.trial.FrozenTrial,
                     attrs: dict[str, Any] | None) -> optuna.trial.FrozenTrial:
    """A shallow copy of `trial` with `attrs` added to its user attributes."""
    if not attrs:
        return trial
    out = copy.copy(trial)
    out.user_attrs = {**trial.user_attrs, **attrs}
    return out


def _trial_log(study_id: int, t: optuna.trial.FrozenTrial) -> dict[str, Any]:
    def iso(d: dt.datetime | None) -> str | None:
        return None if d is None else d.astimezone(dt.UTC).isoformat(timespec="microseconds")

    log: dict[str, Any] = {
        "study_id": study_id, "state": t.state, "value": t.value, "values": None,
        "datetime_start": iso(t.datetime_start),
        "distributions": {k: _distribution_json(d) for k, d in t.distributions.items()},
        "params": {k: t.distributions[k].to_internal_repr(v) for k, v in t.params.items()},
        "user_attrs": t.user_attrs, "system_attrs": t.system_attrs,
        "intermediate_values": t.intermediate_values,
    }
    if t.datetime_complete is not None:
        log["datetime_complete"] = iso(t.datetime_complete)
    return log
