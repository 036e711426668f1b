"""docs/ODD.md stays true to the code, and every declared input has a use.

* The generated sections of docs/ODD.md (parameter, policy, state, target and
  reporter tables, the schedule) must match what scripts/gen_docs.py makes now.
* Every state variable and every call of ParkModel.step has a description.
* Every lever is read by exactly one policy class, and every declared input is
  used somewhere in sim/ (as a string literal outside sim/model/params.py).
"""

from __future__ import annotations

import ast
import importlib.util
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "run `.venv/bin/python scripts/gen_docs.py` and commit docs/ODD.md"


@pytest.fixture(scope="module")
def gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def odd_text(gen_docs):
    assert gen_docs.ODD_PATH.is_file(), f"{gen_docs.ODD_PATH} is missing"
    return gen_docs.ODD_PATH.read_text(encoding="utf-8")


def test_generated_sections_are_current(gen_docs, odd_text):
    stale = gen_docs.stale_sections(odd_text)
    assert not stale, f"docs/ODD.md is stale in sections {stale}: {REGENERATE}"


def test_everything_generated_is_described(gen_docs, odd_text):
    fresh = gen_docs.render(odd_text)
    missing = [line for line in fresh.splitlines() if gen_docs.UNDOCUMENTED in line]
    assert not missing, (
        "state variables or step calls without a description; add them to the *_DOCS / SCHEDULE_SECTIONS "
        f"dicts in scripts/gen_docs.py and describe them in docs/ODD.md: {missing}"
    )


def test_stale_section_is_detected(gen_docs, odd_text):
    # The check must be able to fail: damage one generated table and one hand-kept line.
    damaged = odd_text.replace("| `eco_max_pollution_index` | 0.85 |", "| `eco_max_pollution_index` | 0.5 |")
    assert damaged != odd_text, "lever table row not found in docs/ODD.md"
    assert gen_docs.stale_sections(damaged) == ["params:lever"]
    prose = odd_text.replace("## 1 Purpose and patterns", "## 1 Purpose and patterns (edited)")
    assert gen_docs.stale_sections(prose) == [], "hand-written prose must not count as stale"


def test_missing_marker_is_a_clear_error(gen_docs, odd_text):
    broken = odd_text.replace("<!-- /targets -->", "")
    with pytest.raises(gen_docs.DocsError, match=r"ODD\.md: section 'targets' needs exactly one"):
        gen_docs.render(broken, "docs/ODD.md")


def test_check_mode_writes_nothing_and_fails_when_stale(gen_docs, odd_text, tmp_path, capsys):
    doc = tmp_path / "ODD.md"
    damaged = odd_text.replace("| `eco_max_pollution_index` | 0.85 |", "| `eco_max_pollution_index` | 0.5 |")
    doc.write_text(damaged, encoding="utf-8")
    assert gen_docs.main(["--check", "--path", str(doc)]) == 1
    assert "gen_docs.py" in capsys.readouterr().err
    assert doc.read_text(encoding="utf-8") == damaged, "--check must not write"
    assert gen_docs.main(["--path", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == odd_text
    doc.write_text("no markers here", encoding="utf-8")
    assert gen_docs.main(["--path", str(doc)]) == 2
    assert doc.read_text(encoding="utf-8") == "no markers here", "bad input must leave the file as it was"


def test_every_lever_is_read_by_exactly_one_policy():
    from sim.model.params import LEVERS
    from sim.model.policies import POLICIES

    readers = Counter(lever for cls in POLICIES for lever in cls.levers)
    unknown = sorted(set(readers) - set(LEVERS))
    assert not unknown, f"policies read levers that sim/model/params.py does not declare: {unknown}"
    wrong = {k: readers.get(k, 0) for k in LEVERS if readers.get(k, 0) != 1}
    assert not wrong, f"each lever must be read by exactly one policy class (lever: number of readers): {wrong}"


def _names_used(path: Path) -> set[str]:
    """String literals and attribute names (``ctx.params.NAME``) in one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return literals | {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}


def test_every_declared_input_is_used_in_sim():
    from sim.model.params import PARAMS

    literals: set[str] = set()
    for path in (ROOT / "sim").rglob("*.py"):
        if path.name != "params.py":
            literals |= _names_used(path)
    unused = sorted(set(PARAMS) - literals)
    assert not unused, (
        f"declared inputs never named in sim/ outside params.py: {unused}; "
        "report them to the lead (do not delete declarations here)"
    )
