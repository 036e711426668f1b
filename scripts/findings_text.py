"""Prose blocks of docs/findings.md that depend on inputs and batches (used by write_findings.py).

The mechanisms name the model's rules (docs/ODD.md, section 7) that bound each
target; every number in them is read from the scenario's resolved inputs.
"""

from __future__ import annotations

from pathlib import Path


def _g(i: dict, key: str) -> str:
    value = i.get(key)
    if value is None:
        return "?"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _projects(i: dict) -> str:
    return (
        "Projects come from Poisson leads (fitted `leads_per_month` = "
        f"{_g(i, 'leads_per_month')}, not identified on its own) scaled by attraction effort and signed with "
        f"probability `p_sign_lead` = {_g(i, 'p_sign_lead')}; the eco threshold refuses leads above it, so the "
        "full package's stricter threshold takes away part of what its extra effort brings. Under the "
        "*registered* and *started* readings signed projects are also lost to drop-out before landing "
        f"(`p_drop_signed_per_month` = {_g(i, 'p_drop_signed_per_month')})."
    )


def _listed(i: dict) -> str:
    return (
        "An exchange listing needs a share reform, an IPO filing (hazard "
        f"{_g(i, 'p_ipo_file_per_year')}/year for a firm that meets a board's standards) and the board's queue "
        "and approval of the year (docs/ODD.md 7.8): main and SME boards under the CSRC profit gates, ChiNext "
        f"(registration from {_g(i, 'chinext_registration_yyyymm')}), STAR from {_g(i, 'star_open_yyyymm')} "
        "with its market-cap routes, BSE from 2021, or Hong Kong / US. Approval boards queued about 25 months "
        "in 2016 and 21 in 2017 and passed 84%, 78% and 49% of reviews in 2016-2018, so few of the park's "
        "young, small firms list on an exchange by end 2020. NEEQ quotation has no profit gate, but its "
        'entries fell after 2017 and delistings rose, so the two readings of "listed" differ less than before.'
    )


def _value(i: dict) -> str:
    return (
        "A firm's market value at listing is drawn around its board's median of real listings "
        f"(main board {_g(i, 'mv_median_main_bn_yuan')} bn, ChiNext {_g(i, 'mv_median_chinext_bn_yuan')} bn, "
        f"STAR {_g(i, 'mv_median_star_bn_yuan')} bn yuan; log-sd {_g(i, 'mv_log_sigma')}) and then moves with "
        f"the firm's revenue and the CSI 300; NEEQ firms are valued at {_g(i, 'ps_neeq')} x revenue. 100 bn "
        "yuan therefore needs about 20 exchange listings at the medians, which the listing pipeline does not deliver."
    )


def _leading(i: dict) -> str:
    return (
        f"A firm counts as leading when its revenue is at least {_g(i, 'leading_revenue_myuan')} m yuan/year. "
        f"From a mean initial revenue of {_g(i, 'init_mean_revenue_myuan')} m yuan and a drift of "
        f"{_g(i, 'growth_drift_per_year')}/year few firms cross that line in 4.5 years; one-enterprise-one-policy "
        f"support adds {_g(i, 'leading_support_growth_per_year')}/year of growth per 10 m yuan, but only to the "
        "supported firms."
    )


def _year_2016(what: str, h1_key: str):
    def text(i: dict) -> str:
        return (
            f"2016 is a hindcast: every run simulates all of 2016 ({what} included) from the 2014 history, under "
            "the status-quo levers until 2016-07, so a package acts on half a year at most; the *registered* "
            "and *started* readings also lose the months that signed projects take to land. Compare the "
            "status quo with the park's record for 2016-2017 (calibration/data)."
        )

    return text


def _graphene(i: dict) -> str:
    return _year_2016("graphene projects", "h1_2016_graphene_projects")(i) + (
        " Many graphene leads lie above a strict eco threshold, so the eco lever works against this target."
    )


MECHANISMS = {
    "tech_projects_each_year": _projects,
    "tech_projects_2016_2020": _projects,
    "listed_companies_2020": _listed,
    "listed_market_value_2020": _value,
    "leading_enterprises_2020": _leading,
    "graphene_new_2016": _graphene,
    "graphene_total_2016": _graphene,
    "internet_projects_2016": _year_2016("internet projects", "h1_2016_internet_projects"),
    "listings_2016": _year_2016("listings", "h1_2016_listings"),
    "listings_2016_level": _year_2016("listed and quoted firms", "h1_2016_listings"),
    "share_reforms_2016": _year_2016("share reforms", "h1_2016_share_reforms"),
    "reserve_firms_2016": _year_2016("reserve firms", "h1_2016_reserve_firms"),
    "key_projects_2016": _year_2016("key projects", "h1_2016_key_projects"),
}


CHANGES = Path(__file__).with_name("findings_changes.md")  # hand-written: what changed in the answer, and why


def changes_section() -> list[str]:
    """What changed in the answer since the previous version of this document (scripts/findings_changes.md)."""
    if not CHANGES.is_file():
        return []
    return ["", "## What changed in the answer, and why", "", *CHANGES.read_text(encoding="utf-8").strip().splitlines()]


def caveats_section(fitted: dict, batches: dict) -> list[str]:
    """Parameter uncertainty, definitions, what the model leaves out."""
    lines = ["", "## 4. Caveats", "", "### Parameter uncertainty", ""]
    if fitted:
        notes = fitted["notes"]
        ident = [k for k, n in notes.items() if "NOT identified" not in n]
        loose = [k for k, n in notes.items() if "NOT identified" in n]
        lines += [
            f"The fitted parameters are those of `{fitted['path']}` (its posterior medians are the point estimate "
            "that `--at-point` runs use; every batch here samples its posterior draws instead). "
            f"Of its {len(notes)} fitted parameters the data identify {len(ident)} "
            f"({', '.join(f'`{k}`' for k in ident) or 'none'}); the other {len(loose)} are prior-dominated:", "",
            *[f"- `{k}` = {fitted['values'][k]:g}: {notes[k]}" for k in notes], "",
            "What this means for the findings: every batch above samples the fitted posterior (`parksim run` and "
            "`sweep` pair replication i with posterior draw i and seed i, the same pairs in every scenario), so "
            "the P(reach) intervals include parameter uncertainty as well as the model's own randomness, and the "
            "variance split of section 1 says how much of each reading's spread is which. The prior-dominated "
            f"parameters ({', '.join(f'`{k}`' for k in loose) or 'none'}) are sampled over nearly their whole prior "
            "ranges, so the intervals are wide where a target leans on them (the NEEQ reading of the listing "
            "targets on `p_neeq_file_per_year`; the project counts on `leads_per_month` and `p_sign_lead`, whose "
            "product the data pin down; see docs/calibration.md). The comparisons between packages (the same "
            "(draw, seed) pairs in every scenario) and the ranking of levers are more robust than the levels.", "",
        ]  # fmt: skip
    lines += [
        "### Definitions", "",
        "- *Introduced* has three readings: **signed** (an investment agreement), **registered** (the firm "
        "is set up in the park) and **started** (operating). The plan does not say which; the probabilities "
        "differ by reading, often from likely to impossible, so every table gives all three.",
        "- *Listed* has two readings: **exchange** (Shanghai/Shenzhen exchanges, incl. ChiNext and STAR) and "
        "**exchange_neeq** (adds NEEQ quotation, the 'New Third Board'). Section 1 gives both; they differ "
        "because NEEQ quotation has no profit gate.",
        "- Targets for 2016 count the run's own January-December 2016 (the run starts in 2014-01 and forks "
        "at 2016-07): 2016 and 2017 are a hindcast, to be compared with the park's record. 'Reach 3 listed "
        "or quoted' is read both as a flow during 2016 and as the level at December 2016.", "",
        "### What the model leaves out", "",
        "- Macroeconomic shocks after 2016 (the 2018 trade tensions, the 2020 pandemic) beyond what the dated "
        "market tables carry (approval rates, queues, the index level), and mergers and acquisitions. "
        "Competing parks enter only as one outside option in every location choice.",
        "- Market values after listing move with revenue and the index from a draw around each board's "
        "median; they are not calibrated to the values of real park listings.",
        "- Lever costs are declared, mostly [assumption] figures (docs/ODD.md 7.1): compare packages' costs "
        "with each other rather than reading them as budgets.",
        "- Feedback from targets to policy (the park reacting mid-course to missed targets).", "",
    ]  # fmt: skip
    return lines


def reproduce_section(batches: dict, args, generate_s: float, searches: dict | None = None) -> list[str]:
    """The commands, and how long each batch (from its manifest) and each robust search group took."""
    lines = ["## How to reproduce", "", "```", "scripts/findings.sh                      # runs the five batches and "
             "the robust search (skips finished ones, resumes interrupted batches), then:",
             ".venv/bin/python scripts/write_findings.py   # writes this file and docs/img/findings_*.png",
             "```", "", "| batch | runs | workers | wall time | runs/s | code commit |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    total = 0.0
    for key, batch in batches.items():
        if batch is None:
            lines.append(f"| `{getattr(args, key)}` | not run | | | | |")
            continue
        m = batch.manifest
        wall = sum(s.get("wall_seconds", 0.0) or 0.0 for s in m.get("sessions", [])) or m["timings"]["wall_seconds"]
        total += wall
        workers = ",".join(str(s.get("workers", "?")) for s in m.get("sessions", [])) or "?"
        commit = (m.get("code", {}).get("git_commit") or "?")[:8]
        rate = m["timings"].get("runs_per_second") or 0.0
        lines.append(f"| `{m['id']}` | {m['counts']['ok']} ok / {m['counts']['planned']} | {workers} | "
                     f"{wall:.0f} s | {rate:.1f} | {commit} |")  # fmt: skip
    longest = process_s = 0.0
    for folder, (n, seconds) in (searches or {}).items():
        longest, process_s = max(longest, seconds), process_s + seconds
        lines.append(f"| `{folder}` (robust search) | {n} readings | 1 | {seconds:.0f} s | | |")
    # the groups run as processes side by side (findings.sh), each timed reading by reading, so the
    # search's wall time lies between its longest group and the sum over the groups
    lines += ["", f"Total wall time of the batches here: {total / 60:.1f} minutes"
              + (f", and {process_s / 60:.1f} process-minutes for the robust search, in {len(searches)} groups "
                 f"run side by side (the longest {longest / 60:.1f} minutes)" if searches else "")
              + " on this project's 2-core development machine (shared with other work); `write_findings.py` took "
              f"{generate_s:.0f} s to this point.",
              "Seeds, replications and designs are fixed in `scripts/findings.sh`, `scripts/findings_packages.toml` "
              "and `scripts/findings_scale.toml`, so a rerun gives the same tables."]  # fmt: skip
    return lines
