"""Investors (Mesa agents) and the monthly finance process.

Investor kinds: ``vc`` funds, ``angel`` investors, ``bank`` lenders (through the
finance supermarket), the ``guarantee`` pool and the government ``guidance`` fund.

* VC deals: every young firm (registered, operating or growing, not yet
  listed) gets a round with monthly probability
  ``vc_deals_per_firm_year / 12 * deal_rate_mult * sqrt(capital / capital_at_start) * screen``
  (more capital in the cluster, more deals), ``finance_centre_bonus`` higher in the south zone
  where the finance centre is. ``screen = exp(s * signal - s**2 / 2)`` with ``signal`` the
  firm's latent quality seen through the firm's own noise draw times ``vc_signal_noise_sd``
  (drawn at entry, so investors' view of a firm persists; standardised), so
  investors select better firms (selection) and the round then boosts growth (treatment).
  The round (``vc_deal_share`` of the private valuation, at least ``vc_min_deal_myuan``)
  goes to one investor with enough capital, drawn by its preference for the firm's
  industry, and is paid into the firm's cash.
* Exits: when a backed firm is quoted or listed, its investors sell their stake at
  the listed valuation and the money returns to their capital (recycling); when
  it closes, the stake is written off.
* Supermarket loans: a Poisson number a month, to operating or growing firms without a
  loan whose cash is below zero (all such firms when none is), weighted by revenue;
  paid into its cash and repaid from it over ``loan_months``; unpaid balance of a closed
  firm is taken by the guarantee pool.
* Cluster growth: new VC funds join at ``investor_entry_per_deal`` per deal.

Money is conserved: ``capital + holdings at cost + loans outstanding ==
injected + realised gains - written off`` (checked by the tests).
"""

from __future__ import annotations

import mesa
import numpy as np

from sim.model import portable
from sim.model.context import ModelContext, Params
from sim.model.firms import GROWING, LISTED, NEEQ, OPERATING, REGISTERED
from sim.model.params import INDUSTRIES
from sim.model.units import MONTHS_PER_YEAR
from sim.model.zones import FINANCE_CENTRE_ZONE

KINDS = ("vc", "angel", "bank", "guarantee", "guidance")


def screen_factor(p: Params, quality: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Deal-hazard multiplier from investors' noisy signal of latent quality, mean 1 over the population.

    ``signal = (quality + noise_sd * eps) / sqrt(1 + noise_sd ** 2)`` is standard normal, so
    ``exp(s * signal - s ** 2 / 2)`` has mean 1: screening moves deals to better firms
    without changing their number.
    """
    sd = p.vc_signal_noise_sd
    signal = (quality + sd * noise) / np.sqrt(1.0 + sd * sd)
    s = p.vc_screen_strength
    return portable.exp(s * signal - s * s / 2.0)


def weighted_index(rng: np.random.Generator, weights: np.ndarray) -> int:
    """One index drawn with probability proportional to ``weights``: one uniform, by inverse CDF.

    The draw ``Generator.choice(len(weights), p=weights / weights.sum())`` makes (the same
    uniform, the same normalised running sum), without its per-call checks of ``p``; the
    baseline regression hash holds it to that.
    """
    cdf = (weights / weights.sum()).cumsum()
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


def weighted_sample(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` distinct indices drawn with probability proportional to ``weights`` (all positive), by inverse CDF.

    The draw ``Generator.choice(len(weights), n, replace=False, p=weights / weights.sum())``
    makes, without its per-call checks of ``p`` (about 40 us a call, profiled): a round of
    uniforms for the places still open, each mapped through the normalised running sum of
    the weights not yet taken; an index drawn twice in a round counts once, at its first
    draw; the next round draws only for the places left. The same uniforms and the same
    sums, so the same indices; a test compares the two and the baseline regression hash
    holds it to that.
    """
    p = weights / weights.sum()
    positive = int(np.count_nonzero(p > 0))
    if positive < n:  # Generator.choice refuses these too; the rounds would never end
        raise ValueError(f"weighted_sample: {n} draws without replacement from {positive} positive weights")
    taken = np.zeros(n, dtype=np.int64)
    done = 0
    while done < n:
        u = rng.random(n - done)
        p[taken[:done]] = 0.0
        cdf = np.cumsum(p)
        cdf /= cdf[-1]
        drawn = cdf.searchsorted(u, side="right")
        first = np.sort(np.unique(drawn, return_index=True)[1])
        taken[done : done + len(first)] = drawn[first]
        done += len(first)
    return taken


# Stages of the firms that may take a VC round (not yet quoted or listed, checked separately) [definition]
_DEAL_STAGES = (REGISTERED, OPERATING, GROWING)


class Investor(mesa.Agent):
    """An investor in the park's finance centre."""

    def __init__(self, ctx: ModelContext, kind: str, capital_myuan: float, preference: np.ndarray):
        super().__init__(ctx)
        self.kind = kind
        self.capital_myuan = float(capital_myuan)
        self.preference = preference
        self.holdings: dict[int, list[float]] = {}  # firm row -> [stake share, cost m yuan]


class Finance:
    """The monthly finance process and its ledger."""

    def __init__(self, ctx: ModelContext):
        self.ctx = ctx
        self.injected_myuan = 0.0
        self.realised_gain_myuan = 0.0
        self.written_off_myuan = 0.0
        self.loan_left_months = {}
        self.deals_history = []
        self.capital_at_start = 1.0
        # firm row -> investors with a stake in it: the inverse of Investor.holdings, so a firm's
        # listing or exit touches its holders only, not every investor in the park
        self.holders_of: dict[int, list[Investor]] = {}
        self._joined = 0  # investors added by add_investor: part of the roster's key (see investors())
        self._roster_key: tuple = ()
        self._roster: dict[tuple[str, ...], list[Investor]] = {}

    # ----------------------------------------------------------------- set-up
    def add_investor(self, kind: str, capital_myuan: float, preference: np.ndarray | None = None) -> Investor:
        """Create an investor and book its capital as injected (preference drawn unless given)."""
        pref = preference if preference is not None else self.ctx.streams["finance"].dirichlet(np.ones(len(INDUSTRIES)))
        self.injected_myuan += capital_myuan
        self._joined += 1
        return Investor(self.ctx, kind, capital_myuan, pref)

    def populate(self, n_investors: int) -> None:
        """Initial investors: VC funds and angels, one bank and one guarantee pool."""
        rng, p = self.ctx.streams["finance"], self.ctx.params
        for _ in range(n_investors):
            kind = "vc" if rng.random() < p.init_vc_share_of_investors else "angel"
            self.add_investor(kind, p.vc_new_fund_myuan if kind == "vc" else p.angel_capital_myuan)
        self.add_investor("bank", p.bank_capital_myuan)
        self.add_investor("guarantee", p.guarantee_pool_myuan)
        self.capital_at_start = max(self.vc_capital(), 1.0)

    def endow_guidance_fund(self, capital_myuan: float) -> None:
        """The government guidance fund joins with its capital."""
        # no random draw here, so switching the fund on does not reshuffle later finance draws
        self.add_investor("guidance", capital_myuan, preference=np.full(len(INDUSTRIES), 1.0 / len(INDUSTRIES)))

    def investors(self, *kinds: str) -> list[Investor]:
        """Investors of the given kinds (all when none given), in the order they joined.

        Read from Mesa's registry; the lists are remembered until an investor joins or the
        registry's size changes (about seven calls a month, each a scan of every investor).
        """
        agents = self.ctx.agents_by_type.get(Investor, [])
        key = (id(agents), len(agents), self._joined)
        if key != self._roster_key:
            self._roster_key, self._roster = key, {}
        roster = self._roster.get(kinds)
        if roster is None:
            roster = self._roster[kinds] = [a for a in agents if not kinds or a.kind in kinds]
        return list(roster)

    def vc_capital(self) -> float:
        """Capital available to equity investors."""
        return sum(a.capital_myuan for a in self.investors("vc", "angel", "guidance"))

    # ------------------------------------------------------------------- step
    def step(self) -> None:
        """Guidance-fund endowment, deals, loans, repayments and cluster growth of one month."""
        if self.ctx.effects.guidance_fund_new_myuan > 0:
            self.endow_guidance_fund(self.ctx.effects.guidance_fund_new_myuan)
        deals = self._vc_deals()
        self._loans()
        self._repayments()
        self.deals_history.append(deals)
        self._cluster_growth()

    def _vc_deals(self) -> int:
        ctx, firms = self.ctx, self.ctx.firms
        rng, p, fx = ctx.streams["finance"], ctx.params, ctx.effects
        chosen = self._deal_firms()
        equity = self.investors("vc", "angel")
        guidance = self.investors("guidance") if fx.guidance_coinvests else []
        deals = 0
        if len(chosen):  # investors' capital and preferences as arrays, kept in step with each deal
            capital = np.array([a.capital_myuan for a in equity], dtype=float)
            preference = np.array([a.preference for a in equity], dtype=float).reshape(len(equity), -1)
            if portable.USE_JIT:
                deals = self._compiled_rounds(chosen, equity, guidance, capital, preference)
                chosen = chosen[:0]  # done: the loop below is the reference (PARKSIM_NO_JIT)
        for r in chosen:
            size = max(p.vc_min_deal_myuan, p.vc_deal_share * p.ps_private * firms.revenue_myuan[r])
            able = np.flatnonzero(capital >= size)
            if not len(able):
                continue
            pick = able[weighted_index(rng, preference[able, firms.industry[r]])]
            lead = equity[pick]
            self._invest(lead, r, size)
            capital[pick] = lead.capital_myuan
            if guidance and guidance[0].capital_myuan >= size * p.guidance_coinvest_share:
                self._invest(guidance[0], r, size * p.guidance_coinvest_share)
            firms.vc_backed[r] = True
            firms.funded_month[r] = ctx.month
            deals += 1
        ctx.counters.add("vc_deals", deals)
        return deals

    def _deal_firms(self) -> np.ndarray:
        """The firms that take a VC round this month: one uniform each against its deal hazard.

        The masks run as compiled loops (:func:`sim.model._jit_finance.deal_candidates` and
        ``deal_chosen``: the same comparisons and operations, so the same rows) unless
        ``PARKSIM_NO_JIT`` is set; :meth:`_deal_firms_numpy` is the reference.
        """
        if not portable.USE_JIT:
            return self._deal_firms_numpy()
        from sim.model import _jit_finance as jit

        ctx, firms = self.ctx, self.ctx.firms
        p = ctx.params
        rows = jit.deal_candidates(firms.n, firms.alive, firms.stage, firms.listing, _DEAL_STAGES, NEEQ)
        u = ctx.streams["finance"].random(len(rows))
        sd, s = p.vc_signal_noise_sd, p.vc_screen_strength
        return jit.deal_chosen(
            rows,
            u,
            float(self._deal_hazard()),
            firms.zone,
            FINANCE_CENTRE_ZONE,
            1.0 + p.finance_centre_bonus,
            firms.quality,
            firms.signal_noise,
            float(sd),
            float(np.sqrt(1.0 + sd * sd)),
            float(s),
            s * s / 2.0,
        )

    def _deal_hazard(self) -> float:
        """Monthly deal hazard of a firm before the location and screening terms (VC supply included)."""
        p, fx = self.ctx.params, self.ctx.effects
        supply = np.sqrt(max(self.vc_capital(), 0.0) / self.capital_at_start)
        return p.vc_deals_per_firm_year / MONTHS_PER_YEAR * fx.deal_rate_mult * supply

    def _deal_firms_numpy(self) -> np.ndarray:
        """:meth:`_deal_firms` by numpy masks: the reference the compiled loops are checked against."""
        ctx, firms = self.ctx, self.ctx.firms
        p = ctx.params
        rows = firms.in_stage(*_DEAL_STAGES)
        rows = rows[firms.listing[rows] < NEEQ]
        hazard = self._deal_hazard()
        # firms near the finance centre meet investors more often
        hazard = hazard * np.where(firms.zone[rows] == FINANCE_CENTRE_ZONE, 1.0 + p.finance_centre_bonus, 1.0)
        hazard = hazard * screen_factor(p, firms.quality[rows], firms.signal_noise[rows])
        return rows[ctx.streams["finance"].random(len(rows)) < hazard]

    def _compiled_rounds(self, chosen, equity, guidance, capital, preference) -> int:
        """_vc_deals' loop over the chosen firms with the leads picked by a compiled loop (the same bits).

        :func:`sim.model._jit_finance.vc_leads` picks each lead from one uniform per chosen firm
        drawn in advance and says how many it used; the stream is then rewound to just after
        those, where one draw per deal leaves it.
        """
        from sim.model import _jit_finance as jit

        ctx, firms = self.ctx, self.ctx.firms
        rng, p = ctx.streams["finance"], ctx.params
        state = rng.bit_generator.state
        u = rng.random(len(chosen))
        lead, size, used = jit.vc_leads(
            chosen, u, capital, preference, firms.industry, firms.revenue_myuan, float(p.vc_min_deal_myuan),
            float(p.vc_deal_share * p.ps_private),
        )  # fmt: skip
        rng.bit_generator.state = state
        rng.random(used)
        deals = 0
        for r, pick, amount in zip(chosen, lead.tolist(), size, strict=True):
            if pick < 0:
                continue
            # the type the reference's max(min_deal, share * revenue) returns: numpy's float when the
            # revenue term wins, the parameter's own float otherwise (the investors' capital keeps the
            # type, and Python's sum adds plain floats with compensation, numpy's floats without)
            amount = amount if amount > p.vc_min_deal_myuan else p.vc_min_deal_myuan
            self._invest(equity[pick], r, amount)
            if guidance and guidance[0].capital_myuan >= amount * p.guidance_coinvest_share:
                self._invest(guidance[0], r, amount * p.guidance_coinvest_share)
            firms.vc_backed[r] = True
            firms.funded_month[r] = ctx.month
            deals += 1
        return deals

    def _invest(self, investor: Investor, row: int, amount: float) -> None:
        firms = self.ctx.firms
        valuation = max(self.ctx.params.ps_private * firms.revenue_myuan[row], amount / self.ctx.params.vc_deal_share)
        investor.capital_myuan -= amount
        if row not in investor.holdings:
            self.holders_of.setdefault(row, []).append(investor)
        stake, cost = investor.holdings.get(row, [0.0, 0.0])
        investor.holdings[row] = [stake + amount / (valuation + amount), cost + amount]
        firms.cash_myuan[row] += amount
        self.ctx.counters.add("vc_invested_myuan", amount)

    def _loans(self) -> None:
        ctx, firms, fx = self.ctx, self.ctx.firms, self.ctx.effects
        rng = ctx.streams["finance"]
        n = rng.poisson(fx.loans_per_month * ctx.params.population_scale)
        rows = firms.in_stage(OPERATING, GROWING)
        rows = rows[firms.loan_myuan[rows] <= 0]
        # the supermarket (with the guarantee pool behind it) serves firms out of cash first, if any
        short = rows[firms.cash_myuan[rows] < 0]
        rows = short if len(short) else rows
        banks = self.investors("bank")
        if n == 0 or len(rows) == 0 or not banks:
            return
        n = min(n, len(rows))
        w = firms.revenue_myuan[rows] + np.finfo(float).tiny  # no zero weights
        take = rows[weighted_sample(rng, w, n)]
        for r in take:
            if banks[0].capital_myuan < fx.loan_myuan:
                break
            banks[0].capital_myuan -= fx.loan_myuan
            firms.loan_myuan[r] = fx.loan_myuan
            firms.cash_myuan[r] += fx.loan_myuan
            self.loan_left_months[int(r)] = ctx.params.loan_months
            ctx.counters.add("loans", 1)
            ctx.counters.add("loans_myuan", fx.loan_myuan)

    def _repayments(self) -> None:
        firms, banks = self.ctx.firms, self.investors("bank")
        for r, left in list(self.loan_left_months.items()):
            pay = firms.loan_myuan[r] / left
            firms.loan_myuan[r] -= pay
            firms.cash_myuan[r] -= pay  # the firm repays from its cash
            banks[0].capital_myuan += pay
            if left == 1:
                firms.loan_myuan[r] = 0.0
                del self.loan_left_months[r]
            else:
                self.loan_left_months[r] = left - 1

    def _cluster_growth(self) -> None:
        ctx = self.ctx
        recent = sum(self.deals_history[-MONTHS_PER_YEAR:]) / min(len(self.deals_history), MONTHS_PER_YEAR)
        rate = ctx.params.investor_entry_per_deal * recent * ctx.effects.investor_entry_mult
        for _ in range(ctx.streams["finance"].poisson(rate)):
            self.add_investor("vc", ctx.params.vc_new_fund_myuan)
            ctx.counters.add("investors_joined", 1)

    # ------------------------------------------------------------ firm events
    def on_listing(self, row: int, valuation_myuan: float) -> None:
        """Investors sell their stake when a firm is quoted or listed."""
        for inv in self._pop_holders(row):  # each holds a stake in row: holders_of is the inverse of holdings
            stake, cost = inv.holdings.pop(row)
            proceeds = stake * valuation_myuan
            inv.capital_myuan += proceeds
            self.realised_gain_myuan += proceeds - cost
            self.ctx.counters.add("vc_exits", 1)

    def _pop_holders(self, row: int) -> list[Investor]:
        """The firm's holders in the order investors joined (the order sums over them run in)."""
        return sorted(self.holders_of.pop(row, ()), key=lambda inv: inv.unique_id)

    def on_firms_gone(self, rows) -> None:
        """:meth:`on_firm_gone` for each of ``rows`` in order."""
        for r in rows:
            self.on_firm_gone(int(r))

    def on_firm_gone(self, row: int) -> None:
        """Write off equity and unpaid loans of a firm that closed or left."""
        for inv in self._pop_holders(row):
            self.written_off_myuan += inv.holdings.pop(row)[1]
        if row in self.loan_left_months:
            firms = self.ctx.firms
            unpaid = float(firms.loan_myuan[row])
            banks, pool = self.investors("bank"), self.investors("guarantee")
            banks[0].capital_myuan += unpaid  # the guarantee pool repays the bank ...
            pool[0].capital_myuan -= unpaid  # ... and carries the loss (it can go negative: re-guarantee)
            self.written_off_myuan += unpaid
            firms.loan_myuan[row] = 0.0
            del self.loan_left_months[row]

    # ---------------------------------------------------------------- ledger
    def balance_error(self) -> float:
        """Left side minus right side of the money-conservation identity (should be 0)."""
        capital = sum(a.capital_myuan for a in self.investors())
        holdings = sum(c for a in self.investors() for _, c in a.holdings.values())
        loans = float(sum(self.ctx.firms.loan_myuan[r] for r in self.loan_left_months))
        return capital + holdings + loans - (self.injected_myuan + self.realised_gain_myuan - self.written_off_myuan)


__all__ = ["Finance", "Investor", "KINDS", "LISTED", "weighted_index", "weighted_sample"]
