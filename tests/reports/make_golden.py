"""Rebuild the golden results folder `tests/reports/golden/` (deterministic).

Run: `python tests/reports/make_golden.py`. Three strategies x two pruners x 5 seeds x 12
trials on one device, TPE planted 2 points and CMA-ES 1 point above random search.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

HERE = Path(__file__).parent
PAIRS = [(s, p) for s in ("random", "tpe", "cmaes") for p in ("none", "median")]
EFFECT = {**{("tpe", p): 0.02 for p in ("none", "median")},
          **{("cmaes", p): 0.01 for p in ("none", "median")}}


def main() -> None:
    """Write the golden folder from the test synthesiser in `conftest.py`."""
    spec = importlib.util.spec_from_file_location("reports_synth", HERE / "conftest.py")
    assert spec is not None and spec.loader is not None
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    golden = HERE / "golden"
    shutil.rmtree(golden, ignore_errors=True)
    synth.make_results(golden, pairs=PAIRS, seeds=5, trials=12, effect=EFFECT, rng_seed=2026)
    print(f"wrote {golden}")


if __name__ == "__main__":
    main()
