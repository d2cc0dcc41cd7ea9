"""`samplerbench report` end to end, in-process through `bench.cli.main`."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from bench.cli.main import main
from bench.results.schema import RUN_FILE, TRIALS_FILE, read_table
from reports.reading import describe
from reports.styles import describe_pair
from reports.summaries import summarize_report

FIGURES = ("critical_difference", "best_vs_trial", "best_vs_time", "best_vs_epochs",
           "final_best", "average_rank", "trial_time", "pruning")
Maker = Callable[..., Path]


@pytest.fixture(name="golden_report", scope="module")
def _golden_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A copy of the golden folder reported to its default output, and what was printed."""
    results = shutil.copytree(Path(__file__).parent / "golden",
                              tmp_path_factory.mktemp("golden") / "results")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["report", str(results)]) == 0
    return results, printed.getvalue()


def test_golden_report_writes_everything(golden_report: tuple[Path, str]) -> None:
    out = golden_report[0] / "report"  # the default output folder
    assert f"report: {out / 'report.md'}" in golden_report[1]
    for name in FIGURES:
        assert (out / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (out / "figures" / f"{name}.svg").read_bytes()[:2000]
    summary = pd.read_parquet(out / "tables" / "summary.parquet")
    assert len(summary) == 6 and (summary["n_seeds"] == 5).all()
    pd.testing.assert_frame_equal(summary, pd.read_csv(out / "tables" / "summary.csv"),
                                  check_dtype=False)
    assert len(pd.read_csv(out / "tables" / "statistics.csv")) == 15 * 3  # unordered pairs
    assert len(pd.read_csv(out / "tables" / "per_seed.csv")) == 30
    ranking = pd.read_csv(out / "tables" / "ranking.csv")
    assert len(ranking) == 6 and ranking["mean_rank"].is_monotonic_increasing
    assert not list(out.rglob(".*"))  # no staging folder or temporary file left


def test_golden_report_documents(golden_report: tuple[Path, str]) -> None:
    out = golden_report[0] / "report"
    md = (out / "report.md").read_text(encoding="utf-8")
    for text in ("## Reading", "## Results by sampler and pruner", "## Statistics",
                 "## Suite", "## Machine", "## Versions", "synthetic-host", "| optuna | 5.0.0 |",
                 "| seeds | 5 (0-4) |", "figures/best_vs_trial.png",
                 "figures/critical_difference.png", "reached 97.0% in an expected",
                 "| tpe | median | 5 |", "Final best (optimistic)", "ERT trials",
                 "smallest attainable two-sided p of a paired Wilcoxon test is 0.0625",
                 "Interval from fewer than 10 seeds", "73% at 3 seeds and 84% at 5"):
        assert text in md, text
    reading = md.split("## Reading\n\n", 1)[1]
    assert reading.startswith("- Use TPE with the median pruner: it ranked first on the true "
                              "accuracy")
    assert "had the highest median final best" not in md
    assert "zoom" not in md
    assert "Wall times are simulated" not in md
    assert "Replay fidelity, measured" not in md  # a live run's report
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("src='data:image/png;base64,") == len(FIGURES)
    assert "<table>" in html and "synthetic-host" in html
    assert "figures/" not in html  # self-contained: nothing to fetch


def test_planted_effect_is_read_out(make_results: Maker, tmp_path: Path) -> None:
    path = make_results(tmp_path, pairs=[("random", "none"), ("tpe", "none")], seeds=10,
                        effect={("tpe", "none"): 0.04}, rng_seed=3)
    s = summarize_report(read_table(path, TRIALS_FILE), target=0.95, alpha=0.05)
    findings, warnings = describe(s)
    text = "\n".join(findings)
    assert findings[0].startswith("Use TPE without pruning: it ranked first")
    assert "tell it apart from every other pair" in findings[0]
    assert "TPE without pruning beat random search without pruning on true accuracy" in text
    assert "TPE without pruning reached 95.0% in an expected" in text
    assert "faster than random search with the same pruner" in text
    assert warnings == []


PAIRS9 = [(s, p) for s in ("random", "tpe", "cmaes") for p in ("none", "median", "hyperband")]


@pytest.mark.parametrize(("best", "rng_seed"), [(("tpe", "median"), 5), (("cmaes", "none"), 6)])
def test_first_sentence_names_the_planted_best_pair(make_results: Maker, tmp_path: Path,
                                                    best: tuple[str, str],
                                                    rng_seed: int) -> None:
    effect = {p: 0.01 for p in PAIRS9} | {best: 0.03}
    path = make_results(tmp_path, pairs=PAIRS9, seeds=12, trials=15, effect=effect,
                        rng_seed=rng_seed)
    s = summarize_report(read_table(path, TRIALS_FILE), target=0.95, alpha=0.05)
    first = describe(s)[0][0]
    name = describe_pair(*best)
    assert first.startswith(f"Use {name}: it ranked first on the true accuracy"), first
    assert re.search(r"mean rank 1\.\d of 9 over 12 seeds; Friedman p (< 0\.001|= 0\.00\d+)\)",
                     first), first
    assert first.count(".") <= 6  # one to three sentences (decimals aside)


def test_no_difference_recommends_nothing(make_results: Maker, tmp_path: Path) -> None:
    path = make_results(tmp_path, pairs=[("random", "none"), ("tpe", "none"),
                                         ("cmaes", "none")], seeds=12, rng_seed=8, noise=0.0,
                        learn=0.0)
    s = summarize_report(read_table(path, TRIALS_FILE), target=0.95, alpha=0.05)
    first = describe(s)[0][0]
    assert first.startswith("No sampler/pruner pair can be recommended over the others here")
    assert "the Friedman test cannot tell the pairs apart" in first


def test_target_no_seed_reached_is_reported_not_crashed(
        golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(golden), "-o", str(tmp_path), "--target", "0.9999"]) == 0
    assert ("samplerbench report: warning: No seed of any sampler/pruner pair reached the "
            "target of 100.0%") in capsys.readouterr().err
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "No seed of any sampler/pruner pair reached the target of 100.0%" in md
    assert "| 0/5 |" in md and "| ∞ | ∞ | ∞ | n/a |" in md
    summary = pd.read_csv(tmp_path / "tables" / "summary.csv")
    assert (summary["n_missed"] == 5).all() and summary["speedup_vs_random"].isna().all()
    assert (summary["ert_s"] == float("inf")).all()


def test_simulated_times_and_too_few_seeds_are_declared(make_results: Maker,
                                                        tmp_path: Path) -> None:
    table = {"device": "cpu", "device_model": "Intel Xeon Test", "checksum": "c0ffee"}
    path = make_results(tmp_path / "r", seeds=2, time_simulated=True, table=table)
    assert main(["report", str(path), "-o", str(tmp_path / "o")]) == 0
    for name in ("report.md", "report.html"):
        text = (tmp_path / "o" / name).read_text(encoding="utf-8")
        assert "Wall times are simulated" in text and "Intel Xeon Test" in text
        assert "c0ffee" in text
        assert "Replay fidelity, measured" in text and "docs/fidelity.md" in text
        assert ("With 2 seeds shared by every pair the smallest attainable two-sided p of a "
                "paired Wilcoxon test is 0.5") in text


def test_empty_folder_is_a_clear_error(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("samplerbench report: error:") and "no run.json" in err
    assert "\n" not in err


def test_missing_folder_and_table(golden: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    shutil.copy(golden / RUN_FILE, tmp_path / RUN_FILE)
    assert main(["report", str(tmp_path)]) == 2
    assert "samplerbench export" in capsys.readouterr().err


def test_other_schema_version_is_a_clear_error(golden: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    results = shutil.copytree(golden, tmp_path / "r")
    trials = pd.read_parquet(results / TRIALS_FILE)
    trials["schema_version"] = 1
    trials.to_parquet(results / TRIALS_FILE)
    assert main(["report", str(results)]) == 2
    err = capsys.readouterr().err
    assert "schema_version 1" in err and "samplerbench export" in err
    info = json.loads((golden / RUN_FILE).read_text(encoding="utf-8"))
    (results / RUN_FILE).write_text(json.dumps({**info, "schema_version": 0}), encoding="utf-8")
    assert main(["report", str(results)]) == 2
    assert "schema_version 0" in capsys.readouterr().err


def test_two_reports_of_the_same_results_are_byte_identical(golden: Path,
                                                             tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main(["report", str(golden), "-o", str(tmp_path / name)]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                   if p.is_file())
    assert any(f.suffix == ".svg" for f in files)
    assert [f for f in files if (tmp_path / "a" / f).read_bytes() !=
            (tmp_path / "b" / f).read_bytes()] == []


def test_a_numeric_column_of_text_is_one_line(golden: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    results = shutil.copytree(golden, tmp_path / "r")
    trials = pd.read_parquet(results / TRIALS_FILE)
    trials["value"] = trials["value"].astype(str)
    trials.to_parquet(results / TRIALS_FILE)
    assert main(["report", str(results)]) == 2
    err = capsys.readouterr().err
    assert "column value holds" in err and "not numbers" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("content", ["[1, 2]", '{"schema_version": 1, "suite": "x"}', "7"])
def test_a_run_json_of_another_shape_is_one_line(golden: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 content: str) -> None:
    results = shutil.copytree(golden, tmp_path / "r")
    (results / RUN_FILE).write_text(content, encoding="utf-8")
    assert main(["report", str(results)]) == 2
    err = capsys.readouterr().err
    assert "is not a samplerbench run.json" in err and len(err.strip().splitlines()) == 1, err


def test_empty_table_and_bad_arguments(golden: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    results = shutil.copytree(golden, tmp_path / "r")
    pd.read_parquet(results / TRIALS_FILE).iloc[:0].to_parquet(results / TRIALS_FILE)
    assert main(["report", str(results)]) == 2
    assert "holds no trials" in capsys.readouterr().err
    assert main(["report", str(golden), "-o", str(tmp_path / "o"), "--target", "97"]) == 2
    assert "--target is a validation accuracy in (0, 1]" in capsys.readouterr().err
    assert main(["report", str(golden), "-o", str(tmp_path / "o"), "--alpha", "5"]) == 2
    assert "--alpha" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_single_strategy_and_pruner_is_reported_without_pairwise_tests(
        make_results: Maker, tmp_path: Path) -> None:
    path = make_results(tmp_path / "r", pairs=[("tpe", "median")], seeds=3)
    assert main(["report", str(path), "-o", str(tmp_path / "o")]) == 0
    md = (tmp_path / "o" / "report.md").read_text(encoding="utf-8")
    assert "Only TPE with the median pruner was run, so there is nothing to compare" in md
    assert "Figure critical_difference skipped" in md
    assert "can never be significant" not in md  # no pair: nothing to warn about
