"""scripts/write_findings.py turns small batches (tiny.toml) into a findings document.

The five batches and the robust search of scripts/findings.sh are made here at
toy size through the CLI, in tmp_path, so the test checks the real reading path
(manifests, Parquet, sensitivity_indices.csv, PRIM, optimise's result JSON) end
to end.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from sim.cli import main as parksim

pytestmark = pytest.mark.slow  # runs the findings batches and a robust search in small: about 30 s

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "scenarios" / "tiny.toml"


def _script():
    spec = importlib.util.spec_from_file_location("write_findings", ROOT / "scripts" / "write_findings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def batches(tmp_path_factory) -> Path:
    """Five toy batches under one root, named as findings.sh names them, and a robust search beside them."""
    tmp = tmp_path_factory.mktemp("findings")
    runs = tmp / "runs"
    base = _write(tmp / "baseline.toml", f'base = "{TINY}"\nname = "baseline"\n')
    pkg = _write(
        tmp / "full_package.toml",
        f'base = "{base}"\nname = "full_package"\n[levers]\nattraction_effort_index = 1.8\n'
        "listing_subsidy_myuan = 3.0\nleading_support_firms = 30\n",
    )
    common = ["--out", str(runs), "--seed", "7", "--quiet"]
    assert parksim(["run", str(base), str(pkg), "--reps", "3", "--no-figure", "--id", "s", *common]) == 0
    levers = "[levers]\nattraction_effort_index = [1.0, 2.4]\nlisting_subsidy_myuan = [0.5, 5.0]\n"
    morris = _write(tmp / "morris.toml", 'label = "toy"\n' + levers)
    args = ["sensitivity", str(base), "--method", "morris", "--design", str(morris), "--n", "2", "--reps", "1"]
    assert parksim([*args, "--id", "m", *common]) == 0
    _write(tmp / "scale.csv", "name,attraction_effort_index\nscale_000,1.0\nscale_100,1.8\n")
    scale = _write(tmp / "scale.toml", 'name = "scale"\nmethod = "table"\ntable = "scale.csv"\n')
    assert parksim(["sweep", str(base), "--design", str(scale), "--reps", "2", "--id", "c", *common]) == 0
    lhs = _write(tmp / "lhs.toml", 'name = "p"\nmethod = "lhs"\npoints = 8\nsample_seed = 1\n' + levers)
    assert parksim(["sweep", str(base), "--design", str(lhs), "--reps", "2", "--id", "p", *common]) == 0
    split = ["run", str(base), str(pkg), "--reps", "6", "--seeds-per-draw", "3", "--no-figure", "--id", "v"]
    assert parksim([*split, *common]) == 0
    search = ["optimise", str(base), "--target", "share_reforms_2016:completed", "--end", "2016-12", "--nfe", "8",
              "--reps", "2", "--deep", "2", "--confirm", "4", "--levers", "attraction_effort_index",
              "listing_subsidy_myuan", "--out", str(tmp / "optimise" / "findings-2016")]  # fmt: skip
    assert parksim(search) == 0
    return runs


def _generate(runs: Path, out: Path, *extra: str) -> str:
    argv = ["--root", str(runs), "--scenarios", "s", "--morris", "m", "--scale", "c", "--packages", "p"]
    argv += ["--split", "v", "--optimise", str(runs.parent / "optimise")]
    argv += ["--out", str(out / "findings.md"), "--img", str(out / "img"), *extra]
    assert _script().main(argv) == 0
    return (out / "findings.md").read_text()


def test_document_has_every_section_and_figures(batches, tmp_path):
    text = _generate(batches, tmp_path)
    for heading in ("## Summary for policy staff", "## 0. Does the fitted model reproduce", "## 1. How likely",
                    "### How much of the spread is parameter uncertainty?", "## 2. Which levers",
                    "## 3. What minimum", "### Cheapest robust packages", "## 4. Caveats",
                    "## How to reproduce"):  # fmt: skip
        assert heading in text, f"missing section {heading!r}"
    assert "Not run" not in text, "every batch exists, so no section may say 'Not run'"
    for name in ("probabilities", "morris", "scale"):
        png = tmp_path / "img" / f"findings_{name}.png"
        assert png.exists() and png.stat().st_size < 300_000, f"{png.name} missing or too large"
        assert f"img/findings_{name}.png" in text, f"{png.name} not shown in the document"


def test_probabilities_match_the_batch(batches, tmp_path):
    """The status-quo P of a target in the document equals the share computed straight from the outcomes."""
    from sim.run.batch import load_batch

    text = _generate(batches, tmp_path)
    out = load_batch(batches / "s").outcomes
    runs = out[out["scenario"] == "baseline"]
    share = (runs["listed_companies_2020__exchange_neeq"] >= 30).mean()
    row = next(line for line in text.splitlines() if line.startswith("| listed_companies_2020 (exchange_neeq) |"))
    assert re.search(rf"\| {100 * share:.0f}% \[", row), f"expected P = {share:.0%} in the row {row!r}"
    assert "3 replications" not in text or "ran 3 replications" in text


def test_missing_batches_are_reported_not_invented(batches, tmp_path):
    """A batch id that does not exist leaves its section empty and says so."""
    argv = ["--root", str(batches), "--scenarios", "s", "--morris", "nope", "--scale", "nope", "--packages", "nope"]
    argv += ["--split", "nope", "--optimise", str(tmp_path / "no-search")]
    argv += ["--out", str(tmp_path / "f.md"), "--img", str(tmp_path / "img")]
    assert _script().main(argv) == 0
    text = (tmp_path / "f.md").read_text()
    assert "**Not run (sections left empty):** morris, scale, packages, split." in text
    assert "Batch `nope` not run." in text, "the variance split says its batch is missing"
    assert "Not run (no `robust_*_result.json`" in text, "the robust section says no search was found"
    assert "## 2. Which levers matter most?\n\nNot run." in text
    assert not (tmp_path / "img" / "findings_morris.png").exists(), "no Morris figure without a Morris batch"


def test_variance_split_and_robust_package_match_their_sources(batches, tmp_path):
    """The split's parameter share and the robust package's cost and confirmed P are those of the files."""
    import json

    from sim.analysis.uncertainty import split_one
    from sim.run.batch import load_batch

    text = _generate(batches, tmp_path)
    out = load_batch(batches / "v").outcomes
    runs = out[out["scenario"] == "baseline"]
    col = "listed_companies_2020__exchange_neeq"
    share = split_one(runs[col].to_numpy(float), runs["replicate"].to_numpy(int) // 3)["parameter_share"]
    section = text.split("### How much of the spread is parameter uncertainty?")[1].split("\n## ")[0]
    row = next(line for line in section.splitlines() if line.startswith("| listed_companies_2020 (exchange_neeq) | "))
    expected = "-" if share != share else f"{100 * share:.0f}%"
    assert row.split("|")[2].strip() == expected, f"split row {row!r}: expected {expected}"

    result = json.loads(next((batches.parent / "optimise").rglob("robust_*_result.json")).read_text())
    choice = result["choices"][0]
    robust = text.split("### Cheapest robust packages")[1].split("\n### ")[0]
    line = next(x for x in robust.splitlines() if x.startswith("| share_reforms_2016 (completed) | 50% |"))
    if choice["reachable"]:
        assert f"| {choice['cost_myuan']:,.0f} |" in line, line
        assert f"of {choice['confirm']['n']}" in line, line
    else:
        assert "**unreachable**" in line, line
