"""scripts/write_findings.py turns small batches (tiny.toml) into a findings document.

The four batches of scripts/findings.sh are made here at toy size through the
CLI, in tmp_path, so the test checks the real reading path (manifests, Parquet,
sensitivity_indices.csv, PRIM) end to end.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from sim.cli import main as parksim

pytestmark = pytest.mark.slow  # runs the four findings batches in small: about 20 s

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
    """Four toy batches under one root, named as findings.sh names them."""
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
    return runs


def _generate(runs: Path, out: Path, *extra: str) -> str:
    argv = ["--root", str(runs), "--scenarios", "s", "--morris", "m", "--scale", "c", "--packages", "p"]
    argv += ["--out", str(out / "findings.md"), "--img", str(out / "img"), *extra]
    assert _script().main(argv) == 0
    return (out / "findings.md").read_text()


def test_document_has_every_section_and_figures(batches, tmp_path):
    text = _generate(batches, tmp_path)
    for heading in ("## Summary for policy staff", "## 1. How likely", "## 2. Which levers", "## 3. What minimum",
                    "## 4. Caveats", "## How to reproduce"):  # fmt: skip
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
    argv += ["--out", str(tmp_path / "f.md"), "--img", str(tmp_path / "img")]
    assert _script().main(argv) == 0
    text = (tmp_path / "f.md").read_text()
    assert "**Not run (sections left empty):** morris, scale, packages." in text
    assert "## 2. Which levers matter most?\n\nNot run." in text
    assert not (tmp_path / "img" / "findings_morris.png").exists(), "no Morris figure without a Morris batch"
