"""The scenario schema: every key a scenario file may hold, its type, unit and limits.

A scenario is validated once into a frozen :class:`Scenario`; arms, ``--set`` overrides and
(later) PSA draws re-enter through the same validation. Rules that involve several fields
(branch probabilities summing to at most 1, LEAD starting inside the simulation, every costed
event having a unit cost) live here, next to the fields they check.

Conventions: durations are in days, rates are per year, costs in US dollars of
``run.price_year``; ``p_`` is a probability and ``rr_`` a rate ratio.

*Dated values* change on a date. In a file they are either a plain number, or a mapping whose
first key is ``start`` (the value from the beginning of the simulation) followed by ISO dates
in increasing order, each giving the value from that day on (a date may lie outside the
simulated period: one before it gives the value in force at its start, one after it is never
reached)::

    p_officer_trained:
      start: 0.0
      2019-01-22: 0.4   # first training cohort
      2019-07-01: 0.7   # second cohort
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from lead_sim import names
from lead_sim.scenario.calibration_section import Calibration, EvaluationDesign, check_keys
from lead_sim.scenario.distributions import Distribution
from lead_sim.scenario.uncertainty import Uncertainty, check_paths
from lead_sim.scenario.valuation import CeaValues

# ---- basic field types ------------------------------------------------------------------------


class Strict(BaseModel):
    """Base for every scenario section: unknown keys are errors, objects are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Prob = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
RateRatio = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]
#: a per-person rate per year: at most 1,000 a year (about three a day), far above any real rate,
#: so that a typo cannot make a run that never ends
RatePerYear = Annotated[float, Field(ge=0, le=1_000, allow_inf_nan=False)]


def _non_negative_dist(d):
    lo = d.lower_bound()
    if lo < 0:
        raise ValueError(f"a duration cannot be negative, but this {d.dist} distribution reaches {lo:g}")
    return d


def _prob_dist(d):
    lo, hi = d.lower_bound(), d.ppf(1.0)
    if lo < 0 or hi > 1:
        raise ValueError(f"a probability must lie in [0, 1], but this distribution spans [{lo:g}, {hi:g}]")
    return d


DurationDays = Annotated[Distribution, AfterValidator(_non_negative_dist)]


def _dated(lo: float | None, hi: float | None):
    """A number, or a ``{start: v, YYYY-MM-DD: v, ...}`` schedule, each value in [lo, hi]."""

    def check_value(v: Any, where: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"expected a number{where}, found {v!r}")
        v = float(v)
        if math.isnan(v) or math.isinf(v):
            raise ValueError(f"expected a finite number{where}, found {v}")
        if lo is not None and v < lo:
            raise ValueError(f"expected a number >= {lo:g}{where}, found {v:g}")
        if hi is not None and v > hi:
            raise ValueError(f"expected a number <= {hi:g}{where}, found {v:g}")
        return v

    def validate(raw: Any) -> float | dict[str, float]:
        if not isinstance(raw, dict):
            return check_value(raw, "")
        return {key: check_value(v, " at 'start'" if key == "start" else f" at {key}")
                for key, v in _schedule(raw, "a number").items()}

    return BeforeValidator(validate)


def _schedule(raw: dict, what: str) -> dict[str, Any]:
    """A ``{start: v, YYYY-MM-DD: v, ...}`` mapping checked for its keys (``start`` first, then
    ISO dates in increasing order) and keyed by ``start`` and ISO date strings; values unchecked."""
    if not raw:
        raise ValueError(f"expected {what} or a schedule {{start: value, YYYY-MM-DD: value}}, found {{}}")
    keys = list(raw)
    if keys[0] != "start":
        first = keys[0].isoformat() if hasattr(keys[0], "isoformat") else repr(keys[0])
        raise ValueError(f"a dated schedule must begin with the key 'start'; found first key {first}")
    out = {"start": raw["start"]}
    previous: dt.date | None = None
    for key in keys[1:]:
        day = _parse_date(key)
        if day is None:
            raise ValueError(f"expected 'start' or an ISO date (YYYY-MM-DD) as a schedule key, found {key!r}")
        if previous is not None and day <= previous:
            raise ValueError(f"schedule dates must increase; {day} follows {previous}")
        previous = day
        out[day.isoformat()] = raw[key]
    return out


def _parse_date(key: Any) -> dt.date | None:
    if isinstance(key, dt.datetime):
        return key.date()
    if isinstance(key, dt.date):
        return key
    if isinstance(key, str):
        try:
            return dt.date.fromisoformat(key)
        except ValueError:
            return None
    return None


def _calendar_date(value: Any) -> Any:
    """Dates are written as dates (2019-01-22); pydantic would read a bare number as a Unix time."""
    if isinstance(value, bool):
        raise ValueError(f"expected a date written YYYY-MM-DD (e.g. 2019-01-22); found {str(value).lower()}")
    if isinstance(value, int | float):
        raise ValueError(f"expected a date written YYYY-MM-DD (e.g. 2019-01-22); found the number {value!r}")
    if isinstance(value, str) and _parse_date(value) is None:
        raise ValueError(f"expected a date written YYYY-MM-DD (e.g. 2019-01-22); found {value!r}")
    return value


#: a calendar date: a YAML date or an ISO string, never a number
Date = Annotated[dt.date, BeforeValidator(_calendar_date)]

DatedProb = Annotated[float | dict[str, float], _dated(0.0, 1.0)]
DatedNonNeg = Annotated[float | dict[str, float], _dated(0.0, None)]
DatedArrivals = Annotated[float | dict[str, float], _dated(0.0, 10_000_000.0)]


def _branches(total_max: float = 1.0):
    """A mapping of branch name -> probability whose values sum to at most ``total_max``."""

    def check(d: dict[str, float]) -> dict[str, float]:
        s = sum(d.values())
        if s > total_max + 1e-9:
            parts = ", ".join(f"{k}={v:g}" for k, v in d.items())
            raise ValueError(f"branch probabilities must sum to at most {total_max:g}; found {s:g} ({parts})")
        return d

    return AfterValidator(check)


def _sums_to_one(d: dict[Any, float]) -> dict[Any, float]:
    s = sum(d.values())
    if abs(s - 1.0) > 1e-6:
        raise ValueError(f"shares must sum to 1; found {s:g}")
    return d


# ---- sections ---------------------------------------------------------------------------------


class Run(Strict):
    """Analysis period, replications, seed, discounting."""

    start_date: Date = Field(ge=dt.date(1900, 1, 1), description="first day of the analysis period (the pilot start)")
    end_date: Date = Field(description="last day of the analysis period (inclusive)")
    warmup_days: Annotated[float, Field(ge=0, le=36_525, allow_inf_nan=False)] = Field(
        description="days simulated before start_date so that people are already in jail, on "
        "probation etc. when the analysis starts; nothing before start_date is counted"
    )
    replications: int = Field(ge=1, le=100_000)
    seed: int = Field(ge=0, lt=2**63)
    discount_rate_per_year: float = Field(ge=0, le=1, allow_inf_nan=False)
    price_year: int = Field(ge=1900, le=2100)
    comparator: Name = "usual_processing"

    @model_validator(mode="after")
    def _period(self) -> Run:
        if self.end_date <= self.start_date:
            raise ValueError(f"end_date: end_date ({self.end_date}) must be after start_date ({self.start_date})")
        if (self.end_date - self.start_date).days > 36_525:
            raise ValueError(f"end_date: the analysis period may be at most 100 years; found "
                             f"{(self.end_date - self.start_date).days:,} days from {self.start_date}")
        return self


class Districts(Strict):
    """Police districts: the target group's share living in each, and how often a contact happens
    in the person's home district (otherwise in a district drawn by those shares)."""

    shares: Annotated[dict[int, Prob], AfterValidator(_sums_to_one)] = Field(
        description="share of the target group living in each police district"
    )
    p_contact_in_home_district: Prob


class ExitRates(Strict):
    """Rates per year of leaving the target group, by reason."""

    desist_per_year: RatePerYear
    move_away_per_year: RatePerYear
    death_per_year: RatePerYear


class Population(Strict):
    """The target group: its size at the start of the warm-up, arrivals per year, and the
    attributes drawn for each person at entry."""

    initial_people: int = Field(ge=0, le=10_000_000, description="target-group size when the warm-up starts")
    arrivals_per_year: DatedArrivals = Field(description="people newly joining the target group per year")
    p_female: Prob
    age_years: Distribution
    offense_profile: Annotated[dict[Literal["possession", "prostitution", "both"], Prob], AfterValidator(_sums_to_one)]
    p_active_use: Prob
    p_housed: Prob
    p_employed: Prob
    p_mental_health_need: Prob
    prior_arrests: Annotated[Distribution, AfterValidator(_non_negative_dist)]
    contact_frailty: Annotated[Distribution, AfterValidator(_non_negative_dist)] = Field(
        description="individual multiplier on the contact hazard (mean 1 keeps the average rate)"
    )
    exit: ExitRates
    race_ethnicity: Annotated[dict[Name, Prob], AfterValidator(_sums_to_one)] | None = Field(
        default=None, description="shares by race/ethnicity, for subgroup results; null = not modelled"
    )


class Behaviour(Strict):
    """Rates per year of police contact and of changes in drug use, housing and employment, with
    their rate ratios, and treatment found without LEAD."""

    contact_rate_per_year: RatePerYear = Field(description="baseline police-contact hazard, in the community")
    rr_contact_active_use: RateRatio
    rr_contact_unhoused: RateRatio
    rr_contact_unemployed: RateRatio
    rr_contact_per_prior_arrest: RateRatio = Field(description="multiplier per prior arrest, capped at 10 priors")
    remission_rate_per_year: RatePerYear
    relapse_rate_per_year: RatePerYear
    housing_gain_rate_per_year: RatePerYear
    housing_loss_rate_per_year: RatePerYear
    rr_housing_loss_active_use: RateRatio
    employment_gain_rate_per_year: RatePerYear
    employment_loss_rate_per_year: RatePerYear
    rr_employment_gain_active_use: RateRatio
    treatment_entry_rate_per_year: RatePerYear = Field(
        default=0.0, description="treatment people find without LEAD (in every arm): episodes started per year "
        "while in active use in the community and not already in that treatment"
    )
    treatment_mix: dict[Name, Prob] = Field(
        default_factory=dict, description="which of lead.services a treatment found without LEAD is (shares sum to 1)"
    )


OffenseMix = Annotated[dict[Literal["possession", "prostitution", "other"], Prob], _branches()]


class Contact(Strict):
    """What a police contact finds (by offense profile), whether it ends in an arrest, and the
    shares that decide whether an offense is eligible for LEAD (under the threshold, not excluded)."""

    offense_mix: dict[Literal["possession", "prostitution", "both"], OffenseMix] = Field(
        description="offense found at a contact, by offense profile; the remainder is no offense"
    )
    p_arrest_if_offense: Prob
    p_possession_under_threshold: Prob = Field(description="quantity at or under the eligibility threshold")
    p_excluded: Prob = Field(description="disqualifying factors: dealing, violence, exploiting minors")

    @model_validator(mode="after")
    def _all_profiles(self) -> Contact:
        missing = set(names.OFFENSE_PROFILES) - set(self.offense_mix)
        if missing:
            raise ValueError(f"offense_mix needs an entry for every offense profile; missing {sorted(missing)}")
        return self


ByClass = dict[Literal["misdemeanor", "felony"], Any]


class ClassDurations(Strict):
    """A duration in days for each charge class."""

    misdemeanor: DurationDays
    felony: DurationDays


class ClassProbs(Strict):
    """A probability for each charge class."""

    misdemeanor: Prob
    felony: Prob


class DispositionBranches(Strict):
    """Disposition probabilities for each charge class; the remainder is a conviction."""

    misdemeanor: Annotated[dict[Literal["dismissed", "deferred"], Prob], _branches()]
    felony: Annotated[dict[Literal["dismissed", "deferred"], Prob], _branches()]


class SentenceBranches(Strict):
    """Sentence probabilities after a conviction, for each charge class (and for drug
    misdemeanors, see ``UsualProcessing.drug_misdemeanor_start_date``); the remainder is a fine or
    time served."""

    misdemeanor: Annotated[dict[Literal["jail", "probation"], Prob], _branches()]
    felony: Annotated[dict[Literal["prison", "jail", "probation"], Prob], _branches()]
    drug_misdemeanor: Annotated[dict[Literal["jail", "probation"], Prob], _branches()] | None = Field(
        default=None, description="under-threshold possession charged as a misdemeanor on or after "
        "usual_processing.drug_misdemeanor_start_date (a level 1 drug misdemeanor in Colorado from HB19-1263); "
        "null: sentenced as any misdemeanor")


class UsualProcessing(Strict):
    """Usual arrest, jail and prosecution: charge classes, filing, defense, pretrial detention,
    failure to appear, disposition, sentence and probation (durations in days, rates per year)."""

    p_possession_felony: DatedProb = Field(
        description="share of under-threshold possession charges filed as felonies (law in force that day)"
    )
    p_other_felony: Prob
    p_possession_over_threshold_felony: Prob
    p_charges_filed: ClassProbs
    p_public_defender: Prob
    pretrial_detention_days: ClassDurations
    days_to_disposition: ClassDurations
    p_failure_to_appear: ClassProbs
    warrant_detention_days: DurationDays
    disposition: DispositionBranches = Field(description="remainder: convicted")
    sentence: SentenceBranches = Field(description="if convicted; remainder: fine or time served")
    drug_misdemeanor_start_date: Date | None = Field(
        default=None, description="offenses found on or after this day that are under-threshold possession charged "
        "as a misdemeanor are sentenced by sentence.drug_misdemeanor (Colorado HB19-1263: 2020-03-01); "
        "null: never")
    jail_sentence_days: ClassDurations
    prison_days: DurationDays
    probation_days: ClassDurations
    deferred_supervision_days: DurationDays
    probation_violation_rate_per_year: RatePerYear
    p_revocation_per_violation: Prob
    p_violation_on_new_arrest: Prob = Field(
        default=0.0, description="a new-offense arrest while on probation is a probation violation (sanction or "
        "revocation, as for the violation clock's); 0: arrests never are")
    sanction_jail_days: DurationDays
    revocation_jail_days: DurationDays = Field(description="misdemeanor revocation; felony revocations go to prison")

    @model_validator(mode="after")
    def _drug_misdemeanor_mix(self) -> UsualProcessing:
        if self.drug_misdemeanor_start_date is not None and self.sentence.drug_misdemeanor is None:
            raise ValueError(f"drug_misdemeanor_start_date: {self.drug_misdemeanor_start_date} is set, so "
                             "usual_processing.sentence.drug_misdemeanor must be given (or set the date to null)")
        return self


class Jail(Strict):
    """The jail beds available to the target group (null: the jail never fills)."""

    capacity_beds: int | None = Field(
        default=None, ge=0, description="beds available to the target group; null = never binds"
    )


Need = Literal["any", "active_use", "unhoused", "unemployed", "mental_health"]


class PricedUSD(Strict):
    """A unit cost entered in the dollars of the year it was published; converted with costs.cpi."""

    usd: NonNeg
    price_year: int = Field(ge=1900, le=2100)


def _plain_or_priced(v: Any) -> str:
    return "priced" if isinstance(v, dict | PricedUSD) else "number"


#: one value of a unit cost: a number or {usd, price_year}
PlainOrPriced = Annotated[
    Annotated[NonNeg, Tag("number")] | Annotated[PricedUSD, Tag("priced")], Discriminator(_plain_or_priced)
]


class LensUSD(Strict):
    """A unit cost with its two values, one per cost lens (``costs.lens``).

    ``average``: the fully loaded average cost (an agency's budget over its workload), what a
    unit of work costs once staffing and buildings adjust. ``marginal``: what the agency's
    spending changes by, at once, for one unit more or less (food and medical care for a jail
    bed-day, overtime, fees): the savings a budget can actually cash in the short run.
    """

    average: PlainOrPriced
    marginal: PlainOrPriced
    price_year: int | None = Field(default=None, ge=1900, le=2100,
                                   description="the dollars of a value written as a plain number (null: "
                                               "costs.default_price_year, else run.price_year)")



def _unit_cost_kind(v: Any) -> str:
    if isinstance(v, LensUSD) or (isinstance(v, dict) and ("average" in v or "marginal" in v)):
        return "two_values"
    return "priced" if isinstance(v, dict | PricedUSD) else "number"


#: a unit cost: a number (dollars of costs.default_price_year, else run.price_year; the same in
#: both cost lenses: a price actually paid, such as a fee or a contract rate), {usd, price_year},
#: or {average, marginal[, price_year]} (one value per cost lens)
UnitCost = Annotated[
    Annotated[NonNeg, Tag("number")] | Annotated[PricedUSD, Tag("priced")] | Annotated[LensUSD, Tag("two_values")],
    Discriminator(_unit_cost_kind),
]


def _dated_name(raw: Any) -> Any:
    """An agency, or ``{start: agency, YYYY-MM-DD: agency, ...}``: who pays changes on a date."""
    return _schedule(raw, "an agency") if isinstance(raw, dict) else raw


#: an agency, or the agencies that pay from given dates on (e.g. Medicaid from the day it covers a service)
DatedAgency = Annotated[Name | dict[str, Name], BeforeValidator(_dated_name)]


def agency_schedule(agency: str | dict[str, str]) -> list[tuple[dt.date | None, str]]:
    """[(first day or None for 'start', agency), ...] of a (possibly dated) agency."""
    if isinstance(agency, str):
        return [(None, agency)]
    return [(None if k == "start" else dt.date.fromisoformat(k), v) for k, v in agency.items()]


class ServiceCost(Strict):
    """What a LEAD service costs (``usd`` per episode, day, month or year) and which agency pays."""

    usd: NonNeg
    per: Literal["episode", "day", "month", "year"]
    agency: DatedAgency = Field(description="who pays: an agency, or {start: agency, YYYY-MM-DD: agency} when "
                                            "coverage changes on a date (an episode is paid by the agency of its first day)")
    price_year: int | None = Field(default=None, ge=1900, le=2100,
                                   description="null: costs.default_price_year, else run.price_year")


class Service(Strict):
    """One LEAD service: who is offered it, uptake, places, length in days, cost, and its rate
    ratios on the person's rates while in it."""

    need: Need = Field(description="who is offered the service")
    p_uptake: Prob
    capacity: int | None = Field(default=None, ge=0, description="concurrent places; null = unlimited")
    duration_days: DurationDays
    cost: ServiceCost
    effect_modelled: bool = Field(
        default=True, description="false: the model gives this service no effect on anything (its cost is reported "
        "as cost without a modelled benefit)")
    rr_remission: RateRatio = 1.0
    rr_relapse: RateRatio = 1.0
    rr_housing_loss: RateRatio = 1.0
    rr_employment_gain: RateRatio = 1.0
    houses_on_start: bool = False


class Lead(Strict):
    """The LEAD program: dates, districts, referral by officers, case managers and their caseload,
    intake, enrolment, engagement and its effects, services and an optional grant."""

    enabled: bool
    start_date: Date
    end_date: Date | None = Field(default=None, description="null: LEAD runs to the end of the analysis period")
    districts: list[int] = Field(description="police districts where LEAD officers may divert")
    p_officer_trained: DatedProb = Field(description="share of contacts in LEAD districts made by a LEAD-trained officer")
    p_divert_if_eligible: Prob = Field(description="officer discretion: a trained officer refers an eligible arrest")
    p_social_referral_per_contact: Prob = Field(description="referral at a contact with no offense")
    rr_referral_per_prior_arrest: Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] = Field(
        default=1.0, description="officers refer people they know: both referral chances (p_divert_if_eligible, "
        "p_social_referral_per_contact) times this per arrest known (prior arrests at entry and arrests since, at most "
        "10), at most 1; 1: no difference")
    sham_referrals: bool = Field(
        default=False, description="a negative control for evaluation designs: officers decide and record referrals "
        "as in LEAD, but every referred person is processed as usual (arrested, booked, charged) and never enrolled; "
        "no service, effect or coordination")
    p_divert_participant_contact: Prob = Field(
        default=0.0, description="an engaged participant's contact for an eligible offense is diverted to the case "
        "manager instead of an arrest, by any officer in any district (LEAD officers in LEAD districts always do)")
    p_open_case_dismissed_at_intake: Prob = Field(
        default=0.0, description="each low-level case (a misdemeanor, or an offense LEAD could divert) open at intake "
        "is dismissed by the prosecutor coordinating with LEAD")
    rr_failure_to_appear_engaged: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        default=1.0, description="multiplies the chance of failing to appear in court while engaged (the case "
        "manager reminds and accompanies); 1: no difference")
    p_warrant_resolved_engaged: Prob = Field(
        default=0.0, description="an engaged participant's outstanding warrant is resolved through the case manager "
        "at the next contact instead of an arrest")
    case_managers: DatedNonNeg
    caseload_per_manager: int = Field(ge=1)
    when_full: Literal["wait", "book"]
    intake_deadline_days: NonNeg
    intake_delay_days: DurationDays
    p_referral_ineligible: Prob
    p_referral_declined: Prob
    p_empowerment_if_female: Prob = Field(description="women routed to the Empowerment Program rather than ARTS")
    enrollment_days: DurationDays
    disengage_rate_per_year: RatePerYear
    reengage_rate_per_year: RatePerYear
    rr_contact_engaged: RateRatio
    rr_housing_gain_engaged: RateRatio
    rr_employment_gain_engaged: RateRatio
    effect_half_life_after_exit_days: Positive
    rr_contact_after_exit: Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] = Field(
        default=1.0, description="an effect on contacts of its own after exit (engaged at exit, not leaving the target "
        "group), on top of what remains of rr_contact_engaged: this at exit, fading with the same half-life (its log "
        "halves each effect_half_life_after_exit_days, gone after four); 1: none")
    services: dict[Name, Service]
    grant_usd: NonNeg | None = Field(default=None, description="program grant, drawn on by grant_payer's spending")
    grant_payer: Name | None = Field(default=None, description="payer whose spending the grant covers")

    @model_validator(mode="after")
    def _dates(self) -> Lead:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(f"end_date: end_date ({self.end_date}) is before start_date ({self.start_date})")
        if self.p_referral_ineligible + self.p_referral_declined > 1 + 1e-9:
            raise ValueError(
                "p_referral_declined: p_referral_ineligible + p_referral_declined must be at most 1; found "
                f"{self.p_referral_ineligible + self.p_referral_declined:g}"
            )
        return self


CostLines = dict[Name, UnitCost]  # agency -> US dollars


class Payer(Strict):
    """Who pays: a set of agencies and the month its fiscal year starts (1 = January)."""

    agencies: list[Name] = Field(min_length=1)
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)
    funded_by: dict[Name, Prob] = Field(
        default_factory=dict, description="who ultimately funds this payer's spending, by share (e.g. Medicaid: "
        "federal and state shares); empty: the payer funds itself. Read by lead-sim budget's funder view")

    @model_validator(mode="after")
    def _shares(self) -> Payer:
        if self.funded_by and abs(sum(self.funded_by.values()) - 1.0) > 1e-6:
            raise ValueError(f"funded_by: shares must sum to 1; found {sum(self.funded_by.values()):g}")
        return self


class JailCapacityCosts(Strict):
    """Jail cost structure for long-run savings (budget analysis only); the short-run saving of a
    bed-day is the marginal value of costs.per_day.jail."""

    unit_beds: int = Field(ge=1, description="beds in a housing unit that can close (or must open) as a step")
    unit_usd_per_year: UnitCost = Field(description="staffing of one housing unit per year")
    fixed_usd_per_year: UnitCost = Field(description="the rest of the jail budget; never saved")


class AllInPrice(Strict):
    """The program priced per participant-month, all in: case management, supervision, legal
    coordination, flexible funds and the services listed in ``includes_services``."""

    usd_per_participant_month: UnitCost
    includes_services: list[Name] = Field(
        default_factory=list, description="services inside the price: not charged again")
    billed_separately: list[Name] = Field(
        default_factory=list, description="services charged on top, at their own cost, to their own payer")


#: the lines of a staffing budget that ``paid_by`` may give to another agency
PaidByLine = Literal["case_managers", "supervisors", "other_staff", "startup", "training", "flexible_funds", "evaluation"]


class StaffingBudget(Strict):
    """The program priced as a budget: staff paid whether their caseload is full or not,
    one-off start-up and training, flexible funds per participant; services itemised by payer."""

    case_manager_usd_per_year: UnitCost = Field(description="salary of one case manager (FTE)")
    overhead_multiplier: Annotated[float, Field(ge=1, le=10, allow_inf_nan=False)] = Field(
        description="benefits, office, travel and provider overhead on salaries")
    case_managers_per_supervisor: Positive = Field(description="whole supervisors: ceil(case managers / this)")
    supervisor_usd_per_year: UnitCost
    other_staff_usd_per_year: UnitCost = Field(
        description="project management and legal coordination, paid while the program runs")
    startup_usd: UnitCost = Field(description="one-off, on lead.start_date (sunk when that is before the analysis)")
    training_usd_per_case_manager: UnitCost = Field(
        description="one-off per case manager added: at the start and whenever lead.case_managers rises")
    flexible_funds_usd_per_participant_month: UnitCost
    evaluation_usd_per_year: UnitCost = Field(description="paid while the program runs")
    paid_by: dict[PaidByLine, Name] = Field(
        default_factory=dict, description="the agency that pays a line, where it is not costs.program.agency "
        "(e.g. a project manager on the city's payroll, an evaluation the state contracts)")


class ProgramCost(Strict):
    """How LEAD itself is priced: one of two forms, chosen by ``form``."""

    form: Literal["all_in", "staffing"]
    agency: Name = Field(description="the agency that carries the program's own cost")
    all_in: AllInPrice | None = None
    staffing: StaffingBudget | None = None

    @model_validator(mode="after")
    def _chosen_form_given(self) -> ProgramCost:
        if getattr(self, self.form) is None:
            raise ValueError(f"{self.form}: form is {self.form!r}, so costs.program.{self.form} must be given")
        return self


class Costs(Strict):
    """Unit costs and who pays them: agencies and payers, the cost lens, LEAD's own price, unit
    costs per event, day and month, victimisation costs, the CPI to convert them to
    ``run.price_year`` and the jail's cost structure."""

    agencies: list[Name] = Field(min_length=1)
    lens: Literal["average", "marginal"] = Field(
        description="which value of every {average, marginal} unit cost prices the run: average (fully loaded) "
                    "or marginal (what a budget saves or spends at once)")
    program: ProgramCost = Field(description="how LEAD itself is priced (all_in or staffing)")
    projected_inflation_per_year: Annotated[float, Field(ge=-0.5, le=1, allow_inf_nan=False)] = Field(
        default=0.025, description="price growth after the last year of costs.cpi, for budget tables in then-year dollars")
    payers: dict[Name, Payer] = Field(min_length=1, description="payer -> its agencies and fiscal year")
    cpi: dict[int, Positive] = Field(
        default_factory=dict, description="price index by year, to convert unit costs to run.price_year"
    )
    default_price_year: int | None = Field(
        default=None, ge=1900, le=2100,
        description="the dollars of every unit cost written as a plain number (null: run.price_year's); "
                    "set it so that --set run.price_year converts them too",
    )
    program_agencies: list[Name] = Field(
        default_factory=list, description="agencies whose spending is the program's cost (for NPV and benefit-cost ratio)"
    )
    per_event: dict[str, CostLines]
    per_day: dict[str, CostLines] = Field(default_factory=dict)
    per_month: dict[str, CostLines] = Field(default_factory=dict)
    victim_cost_per_offense: dict[Literal["possession", "prostitution", "other"], UnitCost] = Field(
        default_factory=dict, description="societal cost of an offense found at a police contact"
    )
    victim_agency: Name | None = Field(default=None, description="agency that carries victimisation costs")
    jail_capacity: JailCapacityCosts | None = None

    def funders_of(self) -> dict[str, dict[str, float]]:
        """payer -> {funder: share}; a payer with no ``funded_by`` funds itself."""
        return {name: dict(p.funded_by) or {name: 1.0} for name, p in self.payers.items()}

    def payer_of(self) -> dict[str, str]:
        """agency -> the payer it belongs to."""
        return {a: payer for payer, p in self.payers.items() for a in p.agencies}

    @model_validator(mode="after")
    def _payers(self) -> Costs:
        known = set(self.agencies)
        seen: dict[str, str] = {}
        for payer, p in self.payers.items():
            for a in p.agencies:
                if a not in known:
                    raise ValueError(
                        f"payers.{payer}.agencies: expected agencies listed in costs.agencies; found {a!r}"
                    )
                if a in seen:
                    raise ValueError(f"payers.{payer}.agencies: agency {a!r} already belongs to payer {seen[a]!r}")
                seen[a] = payer
        orphans = [a for a in self.agencies if a not in seen]
        if orphans:
            raise ValueError(f"payers: every agency needs a payer; found agencies with none: {orphans}")
        if self.program.agency not in known:
            raise ValueError(f"program.agency: expected an agency listed in costs.agencies; found {self.program.agency!r}")
        for line, agency in (self.program.staffing.paid_by if self.program.staffing else {}).items():
            if agency not in known:
                raise ValueError(f"program.staffing.paid_by.{line}: expected an agency listed in costs.agencies; "
                                 f"found {agency!r}")
        for label, names_ in (("program_agencies", self.program_agencies),):
            bad = [a for a in names_ if a not in known]
            if bad:
                raise ValueError(f"{label}: expected agencies listed in costs.agencies; found {bad}")
        if self.victim_cost_per_offense and self.victim_agency is None:
            raise ValueError("victim_agency: victim costs are given, so name the agency that carries them")
        if self.victim_agency is not None and self.victim_agency not in known:
            raise ValueError(f"victim_agency: expected an agency listed in costs.agencies; found {self.victim_agency!r}")
        return self

    def price_years(self) -> list[tuple[str, int]]:
        """(key path, year) of every unit cost entered in another year's dollars."""
        out = []
        for section in ("per_event", "per_day", "per_month"):
            for item, lines in getattr(self, section).items():
                for agency, v in lines.items():
                    out += [(f"costs.{section}.{item}.{agency}", y) for y in _years_of(v)]
        for offense, v in self.victim_cost_per_offense.items():
            out += [(f"costs.victim_cost_per_offense.{offense}", y) for y in _years_of(v)]
        if self.jail_capacity is not None:
            for f in ("unit_usd_per_year", "fixed_usd_per_year"):
                out += [(f"costs.jail_capacity.{f}", y) for y in _years_of(getattr(self.jail_capacity, f))]
        for form in ("all_in", "staffing"):
            block = getattr(self.program, form)
            for f, v in (block or ()):  # a model iterates as (field, value)
                out += [(f"costs.program.{form}.{f}", y) for y in _years_of(v)]
        return out

    @model_validator(mode="after")
    def _complete(self) -> Costs:
        missing = [e for e in names.COSTED_EVENTS if e not in self.per_event]
        if missing:
            raise ValueError(
                f"per_event needs a unit cost for every event that can happen; missing {missing} "
                "(write {} for an event that costs nothing)"
            )
        unknown = [e for e in self.per_event if e not in names.COSTED_EVENTS]
        if unknown:
            raise ValueError(f"per_event has unknown events {unknown}; expected some of {list(names.COSTED_EVENTS)}")
        for section in ("per_day", "per_month"):
            bad = [k for k in getattr(self, section) if k not in names.COSTED_SPELLS]
            if bad:
                raise ValueError(f"{section} has unknown states {bad}; expected some of {list(names.COSTED_SPELLS)}")
        for section in ("per_day", "per_month"):
            if names.LEAD_ENROLLED in getattr(self, section):
                raise ValueError(
                    f"{section}.{names.LEAD_ENROLLED}: LEAD enrolment is priced by costs.program "
                    f"(form {self.program.form}); pricing it in costs.{section} as well charges the program twice "
                    f"(remove costs.{section}.{names.LEAD_ENROLLED})")
        both = set(self.per_day) & set(self.per_month)
        if both:
            raise ValueError(f"{sorted(both)} priced both per_day and per_month; choose one")
        known = set(self.agencies)
        for section in ("per_event", "per_day", "per_month"):
            for item, lines in getattr(self, section).items():
                bad = [a for a in lines if a not in known]
                if bad:
                    raise ValueError(f"{section}.{item} names agencies {bad} not listed in costs.agencies {sorted(known)}")
        return self


def _years_of(v: Any) -> list[int]:
    """The price years a unit cost was entered in, when it says any."""
    if isinstance(v, LensUSD):
        return [y for x in (v.average, v.marginal) for y in _years_of(x)] + ([v.price_year] if v.price_year else [])
    return [v.price_year] if isinstance(v, PricedUSD) else []


class Arm(Strict):
    """One arm of the comparison: dotted keys (as for ``--set``) set on the base scenario."""

    description: str = ""
    set: dict[str, Any] = Field(default_factory=dict, description="dotted key -> value, applied to the base")


class Scenario(Strict):
    """One validated, frozen scenario (the base, or one arm once its changes are applied)."""

    name: Name
    description: str = ""
    run: Run
    districts: Districts
    population: Population
    behaviour: Behaviour
    contact: Contact
    usual_processing: UsualProcessing
    jail: Jail = Jail()
    lead: Lead
    costs: Costs
    arms: dict[Name, Arm] = Field(min_length=1)
    uncertainty: Uncertainty | None = Field(
        default=None, description="uncertain parameters for PSA and one-way sensitivity (lead-sim psa, tornado)"
    )
    calibration: Calibration | None = Field(
        default=None, description="parameters lead-sim calibrate fits, their bounds and targets; ignored by the model"
    )
    evaluation: EvaluationDesign = Field(
        default_factory=EvaluationDesign,
        description="the simulated evaluation's design (compare --evaluation, calibrate); ignored by the model",
    )
    cea: CeaValues = Field(
        default_factory=CeaValues,
        description="willingness to pay per unit of each cost-effectiveness outcome (net monetary benefit); ignored by "
                    "the model",
    )

    @model_validator(mode="after")
    def _analysis_keys_exist(self) -> Scenario:
        if self.uncertainty is None and self.calibration is None:
            return self
        data = self.model_dump(mode="python", by_alias=True, exclude_none=True)
        if self.uncertainty is not None:
            check_paths(data, self.uncertainty)
        if self.calibration is not None:
            check_keys(data, self.calibration, list(self.arms))
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        if self.run.comparator not in self.arms:
            raise ValueError(f"run.comparator: expected one of the arms {list(self.arms)}; found {self.run.comparator!r}")
        unknown = [d for d in self.lead.districts if d not in self.districts.shares]
        if unknown:
            raise ValueError(
                f"lead.districts: expected districts listed in districts.shares {sorted(self.districts.shares)}; "
                f"found {unknown}"
            )
        sim_start = self.run.start_date - dt.timedelta(days=self.run.warmup_days)
        # dated values may change outside the simulated period (a schedule describes the world,
        # the run looks at a window of it): so ``--set run.end_date=...`` can shorten the
        # horizon of any scenario (see ``model.params.Schedule``)
        # the program may start and end after the analysis period (it then never runs or never
        # ends inside it), but not before the simulation starts
        for label, day in (("lead.start_date", self.lead.start_date), ("lead.end_date", self.lead.end_date)):
            if day is not None and day < sim_start:
                raise ValueError(f"{label}: {day} is before the simulation starts ({sim_start}, warm-up included)")
        plain = self.costs.default_price_year
        years = self.costs.price_years() + [
            (f"lead.services.{n}.cost", svc.cost.price_year)
            for n, svc in self.lead.services.items() if svc.cost.price_year is not None
        ]
        if plain is not None:
            years.insert(0, ("costs.default_price_year", plain))
        for path, year in years:
            if year != self.run.price_year:
                if self.run.price_year not in self.costs.cpi:  # blame the price year asked for
                    raise ValueError(
                        f"run.price_year: costs.cpi has no {self.run.price_year}, needed to convert {path} "
                        f"(entered in {year} dollars); found years {sorted(self.costs.cpi)}"
                    )
                for needed in (year, self.run.price_year):
                    if needed not in self.costs.cpi:
                        raise ValueError(
                            f"{path}: entered in {year} dollars, so costs.cpi needs the year {needed} "
                            f"(to convert to run.price_year {self.run.price_year}); found years {sorted(self.costs.cpi)}"
                        )
        if self.lead.grant_payer is not None and self.lead.grant_payer not in self.costs.payers:
            raise ValueError(
                f"lead.grant_payer: expected one of costs.payers {list(self.costs.payers)}; found {self.lead.grant_payer!r}"
            )
        mix = self.behaviour.treatment_mix
        if self.behaviour.treatment_entry_rate_per_year > 0 or mix:
            unknown_services = [n for n in mix if n not in self.lead.services]
            if unknown_services:
                raise ValueError(f"behaviour.treatment_mix: expected services listed in lead.services "
                                 f"{sorted(self.lead.services)}; found {unknown_services}")
            if abs(sum(mix.values()) - 1.0) > 1e-6:
                raise ValueError(f"behaviour.treatment_mix: shares must sum to 1; found {sum(mix.values()):g}")
        agencies = set(self.costs.agencies)
        for sname, svc in self.lead.services.items():
            for _, agency in agency_schedule(svc.cost.agency):
                if agency not in agencies:
                    raise ValueError(
                        f"lead.services.{sname}.cost.agency: expected an agency listed in costs.agencies "
                        f"{sorted(agencies)}; found {agency!r}"
                    )
        self._program_charged_once()
        return self

    def _program_charged_once(self) -> None:
        """An all-in price says, for every service, whether it is inside the price or billed on top."""
        all_in = self.costs.program.all_in
        if all_in is None:
            return
        inside, outside = all_in.includes_services, all_in.billed_separately
        where = "costs.program.all_in"
        for key, listed in (("includes_services", inside), ("billed_separately", outside)):
            unknown = [n for n in listed if n not in self.lead.services]
            if unknown:
                raise ValueError(f"{where}.{key}: expected services listed in lead.services "
                                 f"{sorted(self.lead.services)}; found {unknown}")
        both = [n for n in inside if n in outside]
        if both:
            raise ValueError(f"{where}.includes_services and {where}.billed_separately both list {both}: "
                             "the service would be charged inside the all-in price and again at its own cost")
        found_anyway = [n for n in inside if n in self.behaviour.treatment_mix]
        if found_anyway:
            raise ValueError(f"{where}.includes_services lists {found_anyway}, which behaviour.treatment_mix also "
                             "gives people without LEAD: those episodes are not paid by LEAD's price; bill the "
                             "service separately")
        unsaid = [n for n in self.lead.services if n not in inside and n not in outside]
        if unsaid:
            raise ValueError(f"{where}: say whether the all-in price includes each service; {unsaid} "
                             "is in neither includes_services nor billed_separately")

    @property
    def sim_start_date(self) -> dt.date:
        """The calendar day the simulation starts: ``run.start_date`` less the warm-up."""
        return self.run.start_date - dt.timedelta(days=self.run.warmup_days)
