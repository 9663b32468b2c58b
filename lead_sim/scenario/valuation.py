"""The ``cea`` section: what a unit of each cost-effectiveness outcome is worth to the decision maker.

Net monetary benefit values each outcome at its own willingness to pay (``wtp_usd_per_unit``):
a re-arrest averted and a housed day gained are not worth the same number of dollars. No
source gives these values for Denver: the defaults are assumptions, stated as such in every
table and report that uses them, and meant to be replaced (``--set
cea.wtp_usd_per_unit.rearrests=20000``). They are values *beyond* the costs the model already
counts (a jail day averted also saves the jail's cost, which is in the incremental cost).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: the outcomes of ``lead-sim cea`` (``outcomes.metrics.CEA_OUTCOMES``; a test keeps the two the same)
CEA_OUTCOME_NAMES = ("rearrests", "bookings", "jail_days", "active_use_years", "housed_days")

#: assumed defaults, USD (of run.price_year) per unit of each outcome; [A] for illustration only
DEFAULT_WTP_USD_PER_UNIT = {
    "rearrests": 10_000.0,          # [A] per re-arrest averted
    "bookings": 5_000.0,            # [A] per jail booking averted
    "jail_days": 200.0,             # [A] per jail day averted, beyond the jail's own cost
    "active_use_years": 25_000.0,   # [A] per person-year of active drug use averted
    "housed_days": 30.0,            # [A] per housed day gained: about a day of a $900-a-month housing subsidy
}

#: where the defaults come from, for reports
WTP_SOURCE = ("assumed for illustration (no published value for Denver); set your own with "
              "--set cea.wtp_usd_per_unit.OUTCOME=USD")

Usd = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]


class CeaValues(BaseModel):
    """Willingness to pay per unit of each cost-effectiveness outcome (``lead-sim cea``, reports, PSA briefs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wtp_usd_per_unit: dict[str, Usd] = Field(
        default_factory=lambda: dict(DEFAULT_WTP_USD_PER_UNIT),
        description="USD per unit of each outcome (rearrests, bookings, jail_days averted; active_use_years averted; "
                    "housed_days gained); outcomes not given keep their assumed default")

    @field_validator("wtp_usd_per_unit", mode="after")
    @classmethod
    def _known_outcomes(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in value if k not in CEA_OUTCOME_NAMES]
        if unknown:
            raise ValueError(f"expected outcomes among {list(CEA_OUTCOME_NAMES)}; found {unknown}")
        return {k: float(value.get(k, DEFAULT_WTP_USD_PER_UNIT[k])) for k in CEA_OUTCOME_NAMES}

    def is_default(self, outcome: str) -> bool:
        """True when ``outcome``'s value is the assumed default (not set by the scenario or --set)."""
        return self.wtp_usd_per_unit[outcome] == DEFAULT_WTP_USD_PER_UNIT[outcome]
