"""No bare numbers in process code (issue 11 item 7; STYLE.md evidence rules).

Every number a process uses is a declared parameter (:mod:`sim.model.params`),
a unit conversion (:mod:`sim.model.units`) or an entry of a sourced fact table
at module level. This test parses the process modules and fails on any numeric
literal other than ``ALLOWED_LITERALS`` outside the module-level tables named in
``TABLES``; each table must carry a source comment (on its lines or on the
comment lines just above it).

``CHECKED`` is every process module (issue 11 item 7 is complete): a new module
in sim/model is checked as soon as it exists. Running this file as a script
prints what the check finds in every process module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MODEL = Path(__file__).resolve().parents[1] / "sim" / "model"
NOT_PROCESS = {"__init__.py", "params.py", "context.py", "units.py", "portable.py"}
ALLOWED_LITERALS = {0, 1, -1, 0.5, 2}
# Every process module (all of sim/model but NOT_PROCESS); a new module is checked as soon as it exists.
CHECKED = tuple(sorted(p.name for p in MODEL.glob("*.py") if p.name not in NOT_PROCESS))
# Module-level fact tables and definitions allowed to hold numbers: file -> names (each with a source comment).
TABLES = {
    "markets.py": {
        "YYYYMM_PER_YEAR",
        "MAIN_REVENUE_TEST_YEARS",
        "BOARDS",
        "NO_BOARD",
        "STAR_EXCLUDED_INDUSTRY",
        "RD_INDUSTRIES",
        "HEALTH_INDUSTRY",
        "APPROVAL_RATE_BY_YEAR",
        "REGISTRATION_PASS_RATE_BY_YEAR",
        "APPROVAL_QUEUE_MONTHS_BY_YEAR",
        "REGISTRATION_QUEUE_MONTHS_BY_YEAR",
        "_CSI300_CLOSE",
        "MARKET_LEVEL_BY_YEAR",
        "NEEQ_ENTRY_INDEX_BY_YEAR",
        "NEEQ_DELIST_PER_YEAR_BY_YEAR",
        "MAIN_REG_MIN_PROFIT_3Y_MYUAN",
        "MAIN_REG_MIN_PROFIT_1Y_MYUAN",
        "MAIN_REG_MIN_REVENUE_3Y_MYUAN",
        "CHINEXT_MIN_PROFIT_1Y_MYUAN",
        "CHINEXT_MIN_REVENUE_MYUAN",
        "CHINEXT_REG_MIN_PROFIT_2Y_MYUAN",
        "CHINEXT_REG_MIN_VALUE_MYUAN",
        "CHINEXT_REG_MIN_REVENUE_MYUAN",
        "STAR1_MIN_VALUE_MYUAN",
        "STAR1_MIN_PROFIT_2Y_MYUAN",
        "STAR1_MIN_REVENUE_MYUAN",
        "STAR2_MIN_VALUE_MYUAN",
        "STAR2_MIN_REVENUE_MYUAN",
        "STAR4_MIN_VALUE_MYUAN",
        "STAR4_MIN_REVENUE_MYUAN",
        "BSE_MIN_VALUE_MYUAN",
        "BSE_MIN_PROFIT_1Y_MYUAN",
        "BSE_MIN_QUOTED_MONTHS",
        "HK_MIN_PROFIT_3Y_MYUAN",
        "HK_MIN_PROFIT_1Y_MYUAN",
        "HK_18A_YYYYMM",
        "HK_18A_MIN_VALUE_MYUAN",
        "INNOVATION_MIN_MEAN_PROFIT_MYUAN",
        "SELECT_MIN_PROFIT_MYUAN",
        "SELECT_MIN_QUOTED_MONTHS",
    },
    "listing.py": {"SHOW_BAD"},
    "policies.py": {"YUAN_PER_KYUAN", "SUPPORT_MYUAN_UNIT"},
    "costs.py": {"KYUAN_PER_MYUAN"},
    # sourced or judgement fact tables (industry and category mixes, pollution by EIA category) and
    # the reporting threshold for "high-pollution" firms (a definition for reports, not behaviour)
    "arrivals.py": {"INDUSTRY_MIX", "ISRAELI_MIX", "CATEGORY_MIX", "CATEGORY_POLLUTION_MEAN", "HIGH_POLLUTION_INDEX"},
    # definition: rows the firm table holds before it first grows (storage, not behaviour)
    "firms.py": {"DEFAULT_CAPACITY"},
    # definitions: numpy's pairwise-summation block and unroll (its source), the summation stack's depth
    "_jit.py": {
        "_PAIRWISE_BLOCK",
        "_UNROLL",
        "_PAIRWISE_DEPTH",
        "_POW2_MIN_EXPONENT",
        "_POW2_MAX_EXPONENT",
        "_EXPONENT_BIAS",
        "_MANTISSA_BITS",
    },
    # definition: "unbounded" zone capacity while the initial firms choose their zones
    "initial.py": {"UNBOUNDED_M2"},
    # definitions: seed spawn-key suffixes (reproducibility contract) and the firm table's initial size
    "park.py": {"MESA_RNG_SPAWN_KEY", "STREAMS_SPAWN_KEY", "FIRM_TABLE_CAPACITY"},
    # definition: the YYYY-MM input format
    "scenario.py": {"YEAR_DIGITS"},
    # the plan's targets (a sourced table: the 2016 work plan), its first target year, the label format
    "targets.py": {"TARGETS", "PLAN_FIRST_YEAR", "YEAR_DIGITS"},
    # judgement tables of zone fit read off the plan's zone roles; the layout of the logit's betas
    "zones.py": {"INDUSTRY_AFFINITY", "YOUNG_STAGE_AFFINITY", "GROWN_STAGE_AFFINITY", "N_LOGIT_BETAS"},
}


def _targets(node: ast.stmt) -> set[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    names = set()
    for t in targets:
        for sub in ast.walk(t) if t is not None else ():
            if isinstance(sub, ast.Name):
                names.add(sub.id)
    return names


def _has_source_comment(lines: list[str], node: ast.stmt) -> bool:
    """A ``#`` comment on the statement's lines or in the block of lines above it (up to a blank line)."""
    if any("#" in lines[i] for i in range(node.lineno - 1, node.end_lineno)):
        return True
    i = node.lineno - 2
    while i >= 0 and lines[i].strip():
        if "#" in lines[i]:
            return True
        i -= 1
    return False


def bare_literals(path: Path, tables: set[str]) -> tuple[list[str], list[str]]:
    """(``file:line: literal`` for each bare number, tables without a source comment)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    skip: set[int] = set()
    unsourced = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and _targets(node) & tables:
            skip.update(id(sub) for sub in ast.walk(node))
            if not _has_source_comment(lines, node):
                unsourced.append(f"{path.name}:{node.lineno}: {sorted(_targets(node))} has no source comment")
    found = []
    for sub in ast.walk(tree):
        if id(sub) in skip or not isinstance(sub, ast.Constant):
            continue
        value = sub.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if value not in ALLOWED_LITERALS:
            found.append(f"{path.name}:{sub.lineno}: {value!r}")
    return found, unsourced


@pytest.mark.parametrize("name", CHECKED)
def test_no_bare_numbers_in_converted_process_modules(name):
    found, unsourced = bare_literals(MODEL / name, TABLES.get(name, set()))
    assert not found, "bare numbers in process code (declare them in sim/model/params.py):\n" + "\n".join(found)
    assert not unsourced, "\n".join(unsourced)


def test_allowlisted_tables_exist():
    for name, tables in TABLES.items():
        tree = ast.parse((MODEL / name).read_text(encoding="utf-8"))
        defined = set().union(*(_targets(n) for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign)))
        assert tables <= defined, f"{name}: allowlisted tables not defined: {sorted(tables - defined)}"


def test_the_check_catches_a_bare_number(tmp_path):
    src = tmp_path / "fake.py"
    src.write_text("TABLE = {2016: 0.3}  # source: somewhere\n\ndef f(x):\n    return x * 0.98\n", encoding="utf-8")
    found, unsourced = bare_literals(src, {"TABLE"})
    assert found == ["fake.py:4: 0.98"] and not unsourced
    src.write_text("TABLE = {2016: 0.3}\n", encoding="utf-8")
    assert bare_literals(src, {"TABLE"})[1], "a table without a source comment is reported"


if __name__ == "__main__":  # what the check finds in every process module
    for path in sorted(MODEL.glob("*.py")):
        if path.name not in NOT_PROCESS:
            found, unsourced = bare_literals(path, TABLES.get(path.name, set()))
            print(f"{path.name}: {len(found)} bare literal(s)")
            for line in found + unsourced:
                print("   ", line)
