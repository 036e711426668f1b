"""Enterprise agents and the columnar table that holds their state.

Each project or firm is a Mesa agent (:class:`Enterprise`) so that it can be
found, counted and removed through Mesa's AgentSets. Its numbers live in one
row of :class:`FirmTable`, a struct of numpy arrays, so that the monthly
processes (growth, exit hazards, hiring) run as array operations instead of one
Python call per firm: the brief measured 25-170x between the two.

So :class:`Enterprise` has no behaviour of its own: a firm's behaviour is in the
vectorised process functions that update every row at once (arrivals, lifecycle,
talent, finance, listing, zones, policies). Moving it into agent methods would
loop per firm and draw random numbers in a different order, changing every
result. docs/ODD.md section 2.7 has the table of behaviour -> module.function.
"""

from __future__ import annotations

import functools

import mesa
import numpy as np

from sim.model import portable

# lifecycle stages
STAGES = ("signed", "registered", "operating", "growing", "mature", "gone")
SIGNED, REGISTERED, OPERATING, GROWING, MATURE, GONE = range(len(STAGES))
# listing states (see sim.model.listing for the transitions)
LISTING_STATES = ("none", "reforming", "reformed", "neeq_filed", "neeq", "ipo_filed", "listed", "delisted")
NONE, REFORMING, REFORMED, NEEQ_FILED, NEEQ, IPO_FILED, LISTED, DELISTED = range(len(LISTING_STATES))

# Rows a FirmTable holds before it first grows [definition: storage size, not behaviour;
# the table grows as needed].
DEFAULT_CAPACITY = 1024

_FIELDS = {
    # identity and place
    "industry": np.int8,
    "israeli": bool,
    "zone": np.int8,
    "stage": np.int8,
    "alive": bool,
    "born_month": np.int32,
    "signed_month": np.int32,
    "registered_month": np.int32,
    "started_month": np.int32,
    "gone_month": np.int32,
    "closed": bool,  # left by closing down (not by relocating out of the park or abandoning before landing)
    "key_project": bool,
    "investment_myuan": float,
    "pollution_index": float,
    # economics
    "revenue_myuan": float,
    "margin": float,
    "floor_m2": float,
    "talent_agents": np.int32,
    "cash_myuan": float,
    "loan_myuan": float,
    "vc_backed": bool,
    "funded_month": np.int32,
    "profit_y1_myuan": float,
    "profit_y2_myuan": float,
    "profit_y3_myuan": float,
    "profit_ytd_myuan": float,
    # status flags
    "leading": bool,
    "supported": bool,
    "reserve": bool,
    "listing": np.int8,
    "listing_timer": np.int16,
    "pre_ipo_listing": np.int8,
    "reform_month": np.int32,
    "listed_month": np.int32,
    "quoted_month": np.int32,
    "filed_month": np.int32,
    "board": np.int8,
    "ps_listed": float,
    "listing_revenue_myuan": float,  # revenue when it listed (m yuan/year; 0 unless listed)
    # firm dynamics (issue 11)
    "quality": float,  # latent quality, standard normal at entry (raises growth drift, VC screen on it)
    "signal_noise": float,  # standard normal noise of investors' signal of quality, drawn at entry
    "foreign": bool,  # foreign-capital project (every Israeli project, and a declared share of others)
    "spend_left_months": np.int16,  # months of planned investment still to be spent from cash
}

# month columns that read -1 until the event happens
_UNSET_MONTHS = (
    "gone_month",
    "funded_month",
    "reform_month",
    "listed_month",
    "quoted_month",
    "filed_month",
    "registered_month",
    "started_month",
)


class FirmTable:
    """Struct-of-arrays storage for all firms ever created in a run.

    Rows are never reused: a firm that exits keeps its row with ``alive=False``
    so that totals over the whole run can be computed.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.n = 0
        for name, dtype in _FIELDS.items():
            setattr(self, name, np.zeros(capacity, dtype=dtype))

    def _grow(self, needed: int) -> None:
        size = len(self.alive)
        if needed <= size:
            return
        new = max(needed, 2 * size)
        for name in _FIELDS:
            old = getattr(self, name)
            arr = np.zeros(new, dtype=old.dtype)
            arr[:size] = old
            setattr(self, name, arr)

    def add(self, count: int, **columns) -> np.ndarray:
        """Append ``count`` rows; ``columns`` give their values. Returns row indices."""
        self._grow(self.n + count)
        rows = np.arange(self.n, self.n + count)
        self.n += count
        self.alive[rows] = True
        for key in _UNSET_MONTHS:
            getattr(self, key)[rows] = -1
        for key, value in columns.items():
            getattr(self, key)[rows] = value
        return rows

    def view(self, name: str) -> np.ndarray:
        """The used part of one column."""
        return getattr(self, name)[: self.n]

    def live(self) -> np.ndarray:
        """Row indices of firms still in the park."""
        return self.alive[: self.n].nonzero()[0]  # np.flatnonzero without its wrapper (a hot path)

    def in_stage(self, *stages: int) -> np.ndarray:
        """Row indices of live firms in any of ``stages``.

        One compiled pass over the rows (:func:`sim.model._jit_lifecycle.rows_in`: the same
        test, rows in row order) unless ``PARKSIM_NO_JIT`` is set; :meth:`in_stage_numpy` is
        the reference (about ten calls a month).
        """
        if portable.USE_JIT:
            from sim.model._jit_lifecycle import rows_in  # numba's import is paid on first use

            return rows_in(self.n, self.alive, self.stage, _code_mask(stages))
        return self.in_stage_numpy(*stages)

    def in_stage_numpy(self, *stages: int) -> np.ndarray:
        """:meth:`in_stage` by numpy masks: the reference the compiled pass is checked against."""
        n = self.n
        return (self.alive[:n] & is_one_of(self.stage[:n], stages)).nonzero()[0]

    def employees(self, rows, people_per_agent: int) -> np.ndarray:
        """People employed by the given firms."""
        return self.talent_agents[rows] * people_per_agent


@functools.cache
def _code_mask(codes: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros(max(len(STAGES), len(LISTING_STATES)), dtype=bool)
    mask[list(codes)] = True
    mask.flags.writeable = False
    return mask


def is_one_of(values: np.ndarray, codes: tuple[int, ...]) -> np.ndarray:
    """``np.isin(values, codes)`` for stage or listing codes, by table look-up.

    Hot path: ``np.isin`` costs ~35 µs a call on a few hundred rows, this ~4 µs (profiled).
    """
    return _code_mask(tuple(codes))[values]


class Enterprise(mesa.Agent):
    """A project or firm in the park; its numbers are one row of the model's FirmTable."""

    def __init__(self, model: mesa.Model, row: int):
        super().__init__(model)
        self.row = row

    def __getattr__(self, name):
        # Read-only access to table columns (e.g. ``firm.revenue_myuan``) for notebooks and tests.
        if name in _FIELDS:
            return getattr(self.model.firms, name)[self.row]
        raise AttributeError(name)

    @property
    def stage_name(self) -> str:
        """Lifecycle stage as text."""
        return STAGES[int(self.model.firms.stage[self.row])]

    @property
    def listing_name(self) -> str:
        """Listing state as text."""
        return LISTING_STATES[int(self.model.firms.listing[self.row])]
