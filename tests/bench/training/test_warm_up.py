"""A process's one-off training costs are paid before the first trial's clock starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers.suites import ONE_THREAD_ENV

# In a fresh process: load the data as a cell does (before its first ask), then run two
# identical trainings and list the modules each one imported. Without the warm-up the first
# optimizer imports torch._dynamo and the rest of torch's compiler stack inside the first
# trial (hundreds of modules, seconds), 40x the training itself on digits.
PROBE = """
import json, sys
import optuna
from bench.objectives.live import LiveObjective
from bench.spec.objective import ObjectiveSpec
from bench.training.loop import NetworkConfig, train
objective = LiveObjective(ObjectiveSpec(dataset="digits", epochs=1))
objective.data
imported = "torch._dynamo" in sys.modules
imports = []
for _ in range(2):
    before = set(sys.modules)
    train(NetworkConfig((64,), 1e-3), objective.data, objective.spec.settings(), 0)
    imports.append(sorted(set(sys.modules) - before))
print(json.dumps({"imported": imported, "imports": imports}))
"""


@pytest.mark.slow  # a fresh interpreter: imports torch, then torch._dynamo
def test_first_trial_of_a_process_is_not_charged_for_warm_up() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, **ONE_THREAD_ENV})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"]  # paid while loading the data, before any trial
    first, second = result["imports"]
    # The first trial trains exactly as the second: it imports nothing the warm-up left.
    assert first == [] and second == [], first[:20]
