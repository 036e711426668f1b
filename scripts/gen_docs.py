"""Regenerate the generated sections of docs/ODD.md from the code's declarations.

A generated section sits between two marker comments::

    <!-- params:lever -->
    ...generated, do not edit by hand...
    <!-- /params:lever -->

Everything outside the markers is hand-written and left untouched. Sections:

* ``params:lever|uncertainty|deep|constant|initial``: ``sim.model.params.markdown_table(kind)``;
* ``params:priors``: the prior of every uncertainty (``sim.model.params.UNCERTAINTIES``);
* ``policies``: which policy class reads which levers (``sim.model.policies.POLICIES``);
* ``schedule``: the calls of ``ParkModel.step`` in order, with the ODD section of each;
* ``streams``: the named random streams (``sim.model.park.STREAMS``);
* ``state:firm|talent|investor|zone|finance``: state variables, from the code, with
  the meanings kept in this file (a new variable without a meaning shows up as
  **undocumented** and fails tests/test_docs.py);
* ``code-constants``: module-level numeric constants of the submodels, with their comments;
* ``targets``: ``sim.model.targets.TARGETS``;
* ``reporters``: ``sim.model.metrics.REPORTERS`` and ``UNITS``.

Usage::

    python scripts/gen_docs.py            # rewrite docs/ODD.md in place
    python scripts/gen_docs.py --check    # exit 1 if it is stale, write nothing

Exit codes: 0 up to date / rewritten, 1 stale (``--check``), 2 bad input (missing
file or markers); on bad input nothing is written.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import io
import re
import sys
import textwrap
import tokenize
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ODD_PATH = ROOT / "docs" / "ODD.md"
UNDOCUMENTED = "**undocumented**"

# Modules whose module-level numeric constants are listed under ``code-constants``.
CONSTANT_MODULES = ("arrivals", "zones", "lifecycle", "talent", "finance", "listing", "markets", "initial")
# Index enumerations and aliases, not behavioural numbers.
CONSTANT_SKIP = {
    "NORTH",
    "CENTRAL",
    "SOUTH",
    "FINANCE_CENTRE_ZONE",
    "NO_BOARD",
    "MAIN",
    "CHINEXT",
    "STAR",
    "BSE",
    "OVERSEAS",
}

# ODD section describing each call of ParkModel.step (a new call needs a section).
SCHEDULE_SECTIONS = {
    "self.switch_to_scenario": "3 The fork at `start` (once, in the scenario's first month after the warm-up)",
    "policy.apply": "7.1 Policies",
    "lifecycle.support_step": "7.1 Policies (the one-enterprise-one-policy pick)",
    "arrivals.arrivals_step": "7.2 Arrivals, 7.3 Zone choice",
    "lifecycle.conversion_step": "7.4 Conversion",
    "self.talent.step": "7.5 Talent market",
    "self.finance.step": "7.6 Finance",
    "lifecycle.growth_step": "7.7 Growth",
    "listing.listing_step": "7.8 Listing pipeline",
    "lifecycle.leading_step": "7.9 Leading enterprises",
    "lifecycle.exit_step": "7.10 Exits and relocations",
    "self.zones.update": "7.11 Zone update",
    "self.talent.recount": "7.5 Talent market (bookkeeping)",
    "self.records.append": "7.12 Observation (one row of every reporter)",
}

# ---------------------------------------------------------------- meanings of state variables
FIRM_DOCS = {
    "industry": "index into INDUSTRIES (graphene, health, internet, culture, other_tech)",
    "israeli": "Israeli origin (China-Israel stream)",
    "zone": "index into ZONES (north, central, south); -1 only for a chooser that found no room",
    "stage": "signed, registered, operating, growing, mature, gone",
    "alive": "still in the park (any stage but gone)",
    "born_month": "month index of founding (signing month for projects signed during the run)",
    "signed_month": "month index of signing",
    "registered_month": "month index of company registration (-1 before)",
    "started_month": "month index of starting operation (-1 before)",
    "gone_month": "month index of closing, relocating out or abandoning (-1 while alive)",
    "closed": "the firm left by closing down, not by relocating out of the park or abandoning before landing "
    "(the exit-by-age pattern counts these)",
    "key_project": "planned investment >= key_project_investment_myuan at signing",
    "investment_myuan": "planned investment (m yuan); only used to flag key projects",
    "pollution_index": "pollution intensity, index 0-1, drawn at the lead stage",
    "revenue_myuan": "revenue (m yuan/year)",
    "margin": "firm-specific offset added to the age path of the profit margin",
    "floor_m2": "floor space held in its zone (m2)",
    "talent_agents": "talent agents employed (people = agents x talent_people_per_agent)",
    "cash_myuan": "cash (m yuan): entry equity + profit - investment spending + rounds + loans - repayments;"
    " below 0 the exit hazard is multiplied by cash_out_exit_mult",
    "loan_myuan": "outstanding finance-supermarket loan (m yuan)",
    "vc_backed": "has ever received an equity round",
    "funded_month": "month index of the latest equity round (-1 if none)",
    "profit_y1_myuan": "profit of the last closed book year (m yuan)",
    "profit_y2_myuan": "profit of the book year before",
    "profit_y3_myuan": "profit of the book year before that",
    "profit_ytd_myuan": "profit accumulated in the open book year",
    "leading": "leading ('landmark') enterprise: revenue >= leading_revenue_myuan",
    "supported": "under one-enterprise-one-policy support this year",
    "reserve": "on the listing-reserve list (stays on it)",
    "listing": "listing state: none, reforming, reformed, neeq_filed, neeq, ipo_filed, listed, delisted",
    "listing_timer": "months left in the current timed listing state",
    "pre_ipo_listing": "state an IPO filer returns to if rejected (reformed or neeq)",
    "reform_month": "month index when the share reform completed (-1 if none)",
    "listed_month": "month index of exchange listing (-1 if none)",
    "quoted_month": "month index of NEEQ quotation (-1 if never quoted)",
    "filed_month": "month index of the latest IPO filing (-1 if none); its board's regime is the filing month's",
    "board": "board filed for or listed on, index into markets.BOARDS (none, main, chinext, star, bse, "
    "overseas); none unless ipo_filed or listed",
    "ps_listed": "market value at listing / revenue at listing, at the end-2018 market level (0 unless listed)",
    "listing_revenue_myuan": "revenue when it listed (m yuan/year); market value moves with revenue / this",
    "quality": "latent quality, N(0,1) at entry: raises growth drift by quality_growth_per_year;"
    " investors screen on a noisy signal of it",
    "signal_noise": "N(0,1) noise of investors' signal of quality (x vc_signal_noise_sd), drawn once at entry",
    "foreign": "foreign-capital project: every Israeli project, and a share foreign_other_share of the others",
    "spend_left_months": "months of planned investment still to be paid out of cash",
}
TALENT_DOCS = {
    "scale": "people per talent agent (talent_people_per_agent)",
    "zone": "zone of residence and work, per agent",
    "skill": "skill class 0 general, 1 R&D (firms need their industry's R&D share;"
    " an R&D shortfall weighs more in growth)",
    "employer": "firm row of the employer, -1 when unemployed",
    "arrived_month": "month index of arrival in the park",
    "subsidy_kyuan": "talent subsidy on arrival (1000 yuan/month); its pull fades with time since arrival",
}
INVESTOR_DOCS = {
    "kind": "vc, angel, bank, guarantee or guidance",
    "capital_myuan": "uninvested capital (m yuan); the guarantee pool's may go negative",
    "preference": "weights over the five industries (Dirichlet(1,...,1) draw) for picking deals",
    "holdings": "firm row -> [stake share, cost in m yuan]",
}
ZONE_DOCS = {
    "capacity_m2": "floor space available for firms (m2), grows with land supply",
    "occupied_m2": "floor space held by live firms (m2)",
    "rent_yuan_per_m2_month": "rent (yuan/m2/month), rises with occupancy",
    "services_index": "public services, index 0-1 (the services_* levers)",
    "eco_quality_index": "eco quality, index 0-1, falls with the pollution load",
    "wage_index": "wage level: revenue per employed person relative to 0.6 m yuan",
    "inputs": "declared zone inputs (base rents, rent slope and knee, pollution load weight, Israeli bonus)",
    "base_rent_yuan_per_m2_month": "base rent by zone (yuan/m2/month) before occupancy and rent_index",
}
FINANCE_DOCS = {
    "ctx": "the model context it works in (sim.model.context.ModelContext)",
    "injected_myuan": "capital brought in by investors joining (m yuan)",
    "realised_gain_myuan": "proceeds minus cost of equity exits (m yuan)",
    "written_off_myuan": "equity at cost and unpaid loans of firms that left (m yuan)",
    "loan_left_months": "firm row -> instalments left on its loan",
    "deals_history": "VC deals per month so far (for investor entry)",
    "capital_at_start": "equity capital (vc, angel, guidance) at initialisation, at least 1 m yuan",
    "holders_of": "firm row -> investors with a stake in it (the inverse of their holdings)",
    "_joined": "investors added by add_investor so far (part of the roster's key)",
    "_roster_key": "Mesa's investor set, its size and _joined when the roster was read (a cache key)",
    "_roster": "kinds -> investors of those kinds, in the order they joined (a cache of Mesa's registry)",
}


# ---------------------------------------------------------------- helpers
def _cell(text: object) -> str:
    """Text safe for one Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(value: object) -> str:
    """Compact rendering of a constant's value."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, np.ndarray):
        if value.ndim == 1:
            return "[" + ", ".join(f"{x:g}" for x in value) + "]"
        return "[" + "; ".join(_fmt(row) for row in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _is_number_like(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "if"
    if isinstance(value, dict) and value:
        return all(_is_number_like(v) for v in value.values())
    return False


def _comments_by_line(source: str) -> dict[int, str]:
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def _note_for(node: ast.stmt, lines: list[str], comments: dict[int, str]) -> str:
    """Trailing comment of an assignment, else the comment block right above it."""
    same = [comments[i] for i in range(node.lineno, node.end_lineno + 1) if i in comments]
    if same:
        return "; ".join(same)
    above, i = [], node.lineno - 1
    while i >= 1 and lines[i - 1].lstrip().startswith("#"):
        above.insert(0, comments.get(i, ""))
        i -= 1
    return " ".join(above)


def _assigned_names(node: ast.stmt) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = []
    for t in targets:
        elts = t.elts if isinstance(t, ast.Tuple) else [t]
        names += [e.id for e in elts if isinstance(e, ast.Name)]
    return names


def _self_attributes(cls) -> list[str]:
    """Names assigned as ``self.<name>`` in ``cls.__init__``, in order."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    names.append(t.attr)
    return list(dict.fromkeys(names))


def _state_table(names: list[str], docs: dict[str, str], types: dict[str, str] | None = None) -> str:
    if types is None:
        rows = ["| variable | meaning |", "|---|---|"]
        rows += [f"| `{n}` | {_cell(docs.get(n, UNDOCUMENTED))} |" for n in names]
    else:
        rows = ["| variable | type | meaning |", "|---|---|---|"]
        rows += [f"| `{n}` | {types.get(n, '')} | {_cell(docs.get(n, UNDOCUMENTED))} |" for n in names]
    return "\n".join(rows)


# ---------------------------------------------------------------- section renderers
def params_section(kind: str) -> str:
    from sim.model.params import markdown_table

    return markdown_table(kind)


def priors_section() -> str:
    from sim.model.params import UNCERTAINTIES

    groups: dict[tuple, list[str]] = {}
    for name, p in UNCERTAINTIES.items():
        groups.setdefault(tuple(p.prior), []).append(name)
    lines = []
    for prior, names in groups.items():
        desc = {"uniform": "uniform on [low, high]", "loguniform": "log-uniform on [low, high]"}.get(
            prior[0], f"{prior[0]}{tuple(prior[1:])} truncated to [low, high]"
        )
        lines.append(f"- {desc} ({len(names)}): " + ", ".join(f"`{n}`" for n in names))
    return "\n".join(lines)


def policies_section() -> str:
    from sim.model.policies import POLICIES

    rows = ["| policy class | name | levers read | what it does |", "|---|---|---|---|"]
    for cls in POLICIES:
        doc = (inspect.getdoc(cls) or "").splitlines()[0]
        levers = ", ".join(f"`{k}`" for k in cls.levers)
        rows.append(f"| `{cls.__name__}` | {cls.name} | {levers} | {_cell(doc)} |")
    return "\n".join(rows)


def _step_calls() -> list[str]:
    """Dotted names of the statement-level calls in ``ParkModel.step``, in order (loops included)."""
    from sim.model.park import ParkModel

    def walk(body):
        for stmt in body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                yield ast.unparse(stmt.value.func)
            for field in ("body", "orelse"):
                if isinstance(stmt, (ast.For, ast.While, ast.If, ast.With)):
                    yield from walk(getattr(stmt, field, []))

    func = ast.parse(textwrap.dedent(inspect.getsource(ParkModel.step))).body[0]
    return list(walk(func.body))


def schedule_section() -> str:
    rows = ["| # | call in `ParkModel.step` | described in |", "|---|---|---|"]
    for i, name in enumerate(_step_calls(), 1):
        rows.append(f"| {i} | `{name}` | {SCHEDULE_SECTIONS.get(name, UNDOCUMENTED)} |")
    return "\n".join(rows)


def streams_section() -> str:
    from sim.model.park import STREAMS

    return "Streams, in spawn order: " + ", ".join(f"`{s}`" for s in STREAMS) + "."


def state_section(which: str) -> str:
    if which == "firm":
        from sim.model.firms import _FIELDS

        types = {k: np.dtype(v).name for k, v in _FIELDS.items()}
        return _state_table(list(_FIELDS), FIRM_DOCS, types)
    if which == "talent":
        from sim.model.talent import TalentPool

        return _state_table(_self_attributes(TalentPool), TALENT_DOCS)
    if which == "investor":
        from sim.model.finance import Investor

        return _state_table(_self_attributes(Investor), INVESTOR_DOCS)
    if which == "zone":
        from sim.model.zones import Zones

        return _state_table(_self_attributes(Zones), ZONE_DOCS, {k: "array[3]" for k in ZONE_DOCS})
    if which == "finance":
        from sim.model.finance import Finance

        return _state_table(_self_attributes(Finance), FINANCE_DOCS)
    raise KeyError(which)


def code_constants_section() -> str:
    from sim.model.params import INDUSTRIES, ZONES

    rows = [
        f"Arrays follow the order of INDUSTRIES ({', '.join(INDUSTRIES)}) or ZONES ({', '.join(ZONES)}); "
        "dicts are keyed by lifecycle stage index (2 operating, 3 growing, 4 mature).",
        "",
        "| module | name | value | note (from the code) |",
        "|---|---|---|---|",
    ]
    for mod_name in CONSTANT_MODULES:
        module = importlib.import_module(f"sim.model.{mod_name}")
        source = inspect.getsource(module)
        lines, comments = source.splitlines(), _comments_by_line(source)
        for node in ast.parse(source).body:
            if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                continue
            for name in _assigned_names(node):
                if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name) or name in CONSTANT_SKIP:
                    continue
                value = getattr(module, name, None)
                if not _is_number_like(value):
                    continue
                note = _note_for(node, lines, comments)
                rows.append(f"| {mod_name} | `{name}` | {_cell(_fmt(value))} | {_cell(note)} |")
    return "\n".join(rows)


def targets_section() -> str:
    from sim.model.targets import TARGETS

    rows = [
        "| target | as the plan states it | threshold | unit | by end of | measured as | definition: monthly column | "
        "Jan-Jun 2016 added from |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in TARGETS:
        defs = "; ".join(
            f"{d}: " + (" + ".join(f"`{c}`" for c in col) if isinstance(col, tuple) else f"`{col}`")
            for d, col in t.columns.items()
        )
        h1 = f"`{t.h1_input}`" if t.h1_input else ""
        rows.append(
            f"| `{t.name}` | {_cell(t.text)} | {t.threshold:g} | {t.unit} | {t.year} | {t.how} | {defs} | {h1} |"
        )
    return "\n".join(rows)


def reporters_section() -> str:
    from sim.model.metrics import REPORTERS, UNITS

    rows = ["| reporter (monthly column) | unit |", "|---|---|"]
    rows += [f"| `{name}` | {_cell(UNITS[name])} |" for name in REPORTERS]
    return "\n".join(rows)


SECTIONS = {
    "params:lever": lambda: params_section("lever"),
    "params:uncertainty": lambda: params_section("uncertainty"),
    "params:deep": lambda: params_section("deep"),
    "params:constant": lambda: params_section("constant"),
    "params:initial": lambda: params_section("initial"),
    "params:priors": priors_section,
    "policies": policies_section,
    "schedule": schedule_section,
    "streams": streams_section,
    "state:firm": lambda: state_section("firm"),
    "state:talent": lambda: state_section("talent"),
    "state:investor": lambda: state_section("investor"),
    "state:zone": lambda: state_section("zone"),
    "state:finance": lambda: state_section("finance"),
    "code-constants": code_constants_section,
    "targets": targets_section,
    "reporters": reporters_section,
}


# ---------------------------------------------------------------- document handling
class DocsError(ValueError):
    """A document that cannot be regenerated (missing file or markers)."""


def _open_close(key: str) -> tuple[str, str]:
    return f"<!-- {key} -->", f"<!-- /{key} -->"


def render(text: str, path: Path | str = ODD_PATH) -> str:
    """Return ``text`` with every generated section replaced by fresh content.

    Raises:
        DocsError: when a section's markers are missing, repeated or out of order.
    """
    for key, make in SECTIONS.items():
        open_m, close_m = _open_close(key)
        n_open, n_close = text.count(open_m), text.count(close_m)
        if n_open != 1 or n_close != 1:
            raise DocsError(
                f"{path}: section '{key}' needs exactly one '{open_m}' and one '{close_m}' line "
                f"(found {n_open} and {n_close}); sections allowed: {', '.join(SECTIONS)}"
            )
        start, end = text.index(open_m) + len(open_m), text.index(close_m)
        if end < start:
            raise DocsError(f"{path}: section '{key}': '{close_m}' comes before '{open_m}'")
        text = text[:start] + "\n" + make() + "\n" + text[end:]
    return text


def stale_sections(text: str, path: Path | str = ODD_PATH) -> list[str]:
    """Names of the generated sections whose content differs from the code."""
    fresh = render(text, path)
    out = []
    for key in SECTIONS:
        open_m, close_m = _open_close(key)
        old = text[text.index(open_m) : text.index(close_m)]
        new = fresh[fresh.index(open_m) : fresh.index(close_m)]
        if old != new:
            out.append(key)
    return out


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` only verify) the generated sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the document is stale; write nothing")
    parser.add_argument("--path", type=Path, default=ODD_PATH, help="document to regenerate (default docs/ODD.md)")
    args = parser.parse_args(argv)
    path: Path = args.path
    if not path.is_file():
        print(f"gen_docs: error: {path}: file not found", file=sys.stderr)
        return 2
    text = path.read_text(encoding="utf-8")
    try:
        stale = stale_sections(text, path)
    except DocsError as exc:
        print(f"gen_docs: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if stale:
            print(f"{path} is stale in: {', '.join(stale)}; run `python scripts/gen_docs.py`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    if stale:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(render(text, path), encoding="utf-8")
        tmp.replace(path)  # atomic: a failure above leaves the old file whole
    print(f"{path}: regenerated {', '.join(stale)}" if stale else f"{path} is up to date")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
