"""Firm dynamics from evidence (issue 11 item 5): size, cash, latent quality, key projects.

Direction-of-effect tests (STYLE.md layer 2) compare paired seeds on tiny.toml:
the same seeds with a parameter or lever low and high, averaged over the pairs.
Invariant tests check the new columns. Each model is run once per module.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.model.finance import screen_factor
from sim.model.lifecycle import size_exit_factor
from sim.model.params import defaults
from sim.model.park import ParkModel

SEEDS = range(6)


def _run(tiny, seed, **values):
    m = ParkModel(tiny, seed=seed, **values)
    m.run()
    return m


@pytest.fixture(scope="module")
def runs(tiny):
    """runs(key, **values) -> the models of SEEDS under ``values``, computed once per key."""
    cache = {}

    def get(key, **values):
        if key not in cache:
            cache[key] = [_run(tiny, s, **values) for s in SEEDS]
        return cache[key]

    return get


# ---------------------------------------------------------------- invariants
def test_new_columns_hold_their_definitions(runs):
    for m in runs("base"):
        f, n = m.firms, m.firms.n
        assert np.all(f.israeli[:n] <= f.foreign[:n]), "every Israeli project is a foreign-capital project"
        assert np.all(np.isfinite(f.cash_myuan[:n])) and np.all(np.isfinite(f.quality[:n]))
        assert np.all(f.spend_left_months[:n] >= 0)
        assert abs(m.finance.balance_error()) < 1e-6
        assert m.counters.total["closed_cash_out"] <= m.counters.total["closed"]


def test_screen_factor_has_mean_one_and_rises_with_quality():
    p = _params()
    rng = np.random.default_rng(1)
    q = rng.standard_normal(200_000)
    f = screen_factor(p, q, rng.standard_normal(len(q)))
    assert abs(f.mean() - 1.0) < 0.02, "screening moves deals between firms, it does not add deals"
    assert f[q > 1].mean() > 1.5 * f[q < -1].mean()


def test_size_exit_factor_falls_with_size_and_is_capped():
    p = _params()
    r = np.array([0.01, 1.0, 10.0, 100.0, 1000.0])
    f = size_exit_factor(r, p)
    assert np.all(np.diff(f) <= 0) and f.max() <= p.exit_size_factor_max
    assert size_exit_factor(np.array([0.0]), p)[0] == 1.0, "a registered firm (no revenue) keeps the age hazard"


def _params():
    from sim.model.context import Params

    return Params.from_values(defaults())


# ---------------------------------------------------------- direction of effect
def test_small_firms_grow_faster_and_more_volatilely(tiny):
    """One year of growth from the same start: firms below the reference size gain more, and spread more."""
    small, large = [], []
    for seed in SEEDS:
        m = ParkModel(tiny, seed=seed)
        for _ in range(12):
            m.step()
        f = m.firms
        rows = f.in_stage(2, 3, 4)
        r0 = f.revenue_myuan[rows].copy()
        for _ in range(12):
            m.step()
        keep = f.alive[rows]
        g = np.log(f.revenue_myuan[rows[keep]] / r0[keep])
        s0 = r0[keep]
        small.append(g[s0 < 2.0])
        large.append(g[s0 > 20.0])
    small, large = np.concatenate(small), np.concatenate(large)
    assert small.mean() > large.mean()
    assert small.std() > large.std()


def test_more_supermarket_loans_mean_fewer_cash_exits(runs):
    low = runs("no_loans", finance_supermarket_loans_per_year=0.0)
    high = runs("many_loans", finance_supermarket_loans_per_year=60.0, finance_supermarket_loan_myuan=20.0)
    lo = np.array([m.counters.total["closed_cash_out"] for m in low])
    hi = np.array([m.counters.total["closed_cash_out"] for m in high])
    assert hi.mean() < lo.mean(), (lo, hi)


def test_more_vc_means_fewer_cash_exits(runs):
    low = runs("no_vc", vc_cluster_index=0.0)
    high = runs("strong_vc", vc_cluster_index=3.0)
    lo = np.array([m.counters.total["closed_cash_out"] for m in low])
    hi = np.array([m.counters.total["closed_cash_out"] for m in high])
    assert hi.mean() < lo.mean(), (lo, hi)


def test_cash_shortage_raises_exits(runs):
    """With the cash term switched off (multiplier 1) fewer firms close."""
    base = np.array([m.counters.total["closed"] for m in runs("base")])
    off = np.array([m.counters.total["closed"] for m in runs("cash_off", cash_out_exit_mult=1.0)])
    assert base.mean() > off.mean()


def test_vc_backing_is_selection_on_quality(runs):
    """Firms that got a round during the run have higher latent quality than the rest (measured: about 0.6 vs 0)."""
    backed, unbacked = [], []
    for m in runs("base"):
        f, n = m.firms, m.firms.n
        funded = f.funded_month[:n] >= m.start_month
        backed.append(f.quality[:n][funded])
        unbacked.append(f.quality[:n][~funded])
    backed, unbacked = np.concatenate(backed), np.concatenate(unbacked)
    assert len(backed) >= 30
    assert backed.mean() > unbacked.mean() + 0.3


def test_vc_without_screening_picks_at_random(runs):
    models = runs("no_screen", vc_screen_strength=0.0)
    backed = np.concatenate(
        [m.firms.quality[: m.firms.n][m.firms.funded_month[: m.firms.n] >= m.start_month] for m in models]
    )
    assert abs(backed.mean()) < 0.3


def test_vc_treatment_effect_survives_selection(runs):
    """Same seeds, the growth boost of a funding round on and off: funded firms end larger with the boost."""
    on, off = runs("base"), runs("no_boost", funding_growth_boost_per_year=0.0)
    diff = []
    for a, b in zip(on, off, strict=True):
        ra = a.firms.revenue_myuan[a.firms.live()][a.firms.vc_backed[a.firms.live()]]
        rb = b.firms.revenue_myuan[b.firms.live()][b.firms.vc_backed[b.firms.live()]]
        diff.append(np.log(ra[ra > 0]).mean() - np.log(rb[rb > 0]).mean())
    assert np.mean(diff) > 0


def test_key_focus_brings_key_projects(runs):
    low = runs("no_focus", key_project_focus_share=0.0)
    high = runs("full_focus", key_project_focus_share=1.0)
    lo = np.array([m.counters.total["key_projects_signed"] for m in low])
    hi = np.array([m.counters.total["key_projects_signed"] for m in high])
    assert hi.mean() > lo.mean() + 1


def test_foreign_projects_are_counted(runs):
    m = runs("base")[0]
    assert m.counters.total["foreign_projects_signed"] >= m.counters.total["israeli_projects_signed"]
