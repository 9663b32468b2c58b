"""Compile a validated Scenario into plain Python numbers, samplers and schedules.

The event loop runs hundreds of thousands of times per replication, so it never touches
pydantic objects: this module turns the frozen scenario into a flat, read-only namespace with
times in days since the analysis start, rates per day and ``u -> value`` samplers.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import TypeVar

from lead_sim import names
from lead_sim.scenario.distributions import compile_sampler
from lead_sim.scenario.schema import Scenario

DAYS_PER_YEAR = names.DAYS_PER_YEAR


class Schedule:
    """A piecewise-constant value of simulated time (days since the analysis start)."""

    __slots__ = ("times", "values", "constant")

    def __init__(self, times: list[float], values: list[float]):
        """``times``: the days the value changes, sorted, the first -inf; ``values``: the value from each."""
        self.times = times
        self.values = values
        self.constant = values[0] if len(values) == 1 else None

    def at(self, t: float) -> float:
        """The value on day ``t``."""
        if self.constant is not None:
            return self.constant
        return self.values[bisect_right(self.times, t) - 1]

    @classmethod
    def from_dated(cls, value: float | dict[str, float], origin: dt.date) -> Schedule:
        """A schedule from a scenario value: a number (constant) or ``{"start": v, "YYYY-MM-DD": v,
        ...}`` (dated changes), in days since ``origin``."""
        if not isinstance(value, dict):
            return cls([-float("inf")], [float(value)])
        times, values = [-float("inf")], [value["start"]]
        for key, v in value.items():
            if key != "start":
                times.append(float((dt.date.fromisoformat(key) - origin).days))
                values.append(v)
        return cls(times, values)


#: a branch name: ``str`` or a scenario's ``Literal`` of names
_Label = TypeVar("_Label", bound=str)


class Branches:
    """Pick a branch name from one uniform; the remainder goes to ``rest``."""

    __slots__ = ("cum", "labels", "rest")

    def __init__(self, probs: dict[_Label, float], rest: str):
        """``probs``: branch name -> probability, cut from the uniform in this order; ``rest``: the
        branch of what is left."""
        self.labels: list[str] = list(probs)
        self.cum = list(accumulate(probs.values()))
        self.rest = rest

    def pick(self, u: float) -> str:
        """The branch that the uniform ``u`` (in [0, 1)) falls in."""
        i = bisect_right(self.cum, u)
        return self.labels[i] if i < len(self.labels) else self.rest


@dataclass(frozen=True)
class ServiceParams:
    """One of LEAD's services (``lead.services``) as the model reads it: the need it is for, uptake,
    places (None: unlimited), a sampler of its length in days and its multipliers on the person's
    rates while in it."""

    name: str
    need: str
    p_uptake: float
    capacity: int | None
    duration: object
    rr_remission: float
    rr_relapse: float
    rr_housing_loss: float
    rr_employment_gain: float
    houses_on_start: bool


def _day(d: dt.date | None, origin: dt.date, default: float) -> float:
    return default if d is None else float((d - origin).days)


class ModelParams:
    """Everything the simulation reads, in model units (days; rates per day)."""

    def __init__(self, sc: Scenario):
        """Compile the validated scenario ``sc``; raises ValueError when treatment found without LEAD
        has a rate but no mix."""
        origin = sc.run.start_date
        self.t_start = -float(sc.run.warmup_days)
        self.t_end = float((sc.run.end_date - origin).days + 1)
        self.origin = origin

        pop = sc.population
        self.initial_people = pop.initial_people
        self.arrivals_per_day = Schedule(
            *_scaled(Schedule.from_dated(pop.arrivals_per_year, origin), 1 / DAYS_PER_YEAR)
        )
        self.p_female = pop.p_female
        self.age_years = compile_sampler(pop.age_years)
        self.offense_profile = Branches(dict(pop.offense_profile), rest="possession")
        self.p_active_use = pop.p_active_use
        self.p_housed = pop.p_housed
        self.p_employed = pop.p_employed
        self.p_mental_health_need = pop.p_mental_health_need
        self.prior_arrests = compile_sampler(pop.prior_arrests)
        self.contact_frailty = compile_sampler(pop.contact_frailty)
        self.race_ethnicity = (
            Branches(dict(pop.race_ethnicity), rest=list(pop.race_ethnicity)[-1]) if pop.race_ethnicity else None
        )
        ex = pop.exit
        self.exit_rate_per_day = (ex.desist_per_year + ex.move_away_per_year + ex.death_per_year) / DAYS_PER_YEAR
        total = ex.desist_per_year + ex.move_away_per_year + ex.death_per_year
        self.exit_reason = Branches(
            {"desist": ex.desist_per_year / total if total else 1.0,
             "move_away": ex.move_away_per_year / total if total else 0.0},
            rest="death",
        )

        self.district_ids = sorted(sc.districts.shares)
        self.district = Branches({str(k): sc.districts.shares[k] for k in self.district_ids}, rest=str(self.district_ids[-1]))
        self.p_contact_in_home_district = sc.districts.p_contact_in_home_district

        b = sc.behaviour
        y = 1 / DAYS_PER_YEAR
        self.contact_rate_per_day = b.contact_rate_per_year * y
        self.rr_contact_active_use = b.rr_contact_active_use
        self.rr_contact_unhoused = b.rr_contact_unhoused
        self.rr_contact_unemployed = b.rr_contact_unemployed
        self.rr_contact_per_prior_arrest = b.rr_contact_per_prior_arrest
        self.remission_rate_per_day = b.remission_rate_per_year * y
        self.relapse_rate_per_day = b.relapse_rate_per_year * y
        self.housing_gain_rate_per_day = b.housing_gain_rate_per_year * y
        self.housing_loss_rate_per_day = b.housing_loss_rate_per_year * y
        self.rr_housing_loss_active_use = b.rr_housing_loss_active_use
        self.employment_gain_rate_per_day = b.employment_gain_rate_per_year * y
        self.employment_loss_rate_per_day = b.employment_loss_rate_per_year * y
        self.rr_employment_gain_active_use = b.rr_employment_gain_active_use
        # treatment found without LEAD (every arm): episodes started per day in active use in the
        # community; which service one is (``treatment_pick``, then ``treatment_services``) is set
        # with the services below
        self.treatment_entry_rate_per_day = b.treatment_entry_rate_per_year * y

        c = sc.contact
        self.offense_mix = {prof: Branches(dict(mix), rest=names.NO_OFFENSE) for prof, mix in c.offense_mix.items()}
        self.p_arrest_if_offense = c.p_arrest_if_offense
        self.p_possession_under_threshold = c.p_possession_under_threshold
        self.p_excluded = c.p_excluded

        up = sc.usual_processing
        self.p_possession_felony = Schedule.from_dated(up.p_possession_felony, origin)
        self.p_other_felony = up.p_other_felony
        self.p_possession_over_threshold_felony = up.p_possession_over_threshold_felony
        self.p_charges_filed = {names.MISDEMEANOR: up.p_charges_filed.misdemeanor, names.FELONY: up.p_charges_filed.felony}
        self.p_public_defender = up.p_public_defender
        self.pretrial_detention_days = _by_class(up.pretrial_detention_days)
        self.days_to_disposition = _by_class(up.days_to_disposition)
        self.p_failure_to_appear = {names.MISDEMEANOR: up.p_failure_to_appear.misdemeanor, names.FELONY: up.p_failure_to_appear.felony}
        self.warrant_detention_days = compile_sampler(up.warrant_detention_days)
        self.disposition = {
            names.MISDEMEANOR: Branches(dict(up.disposition.misdemeanor), rest="convicted"),
            names.FELONY: Branches(dict(up.disposition.felony), rest="convicted"),
        }
        self.sentence = {
            names.MISDEMEANOR: Branches(dict(up.sentence.misdemeanor), rest="fine"),
            names.FELONY: Branches(dict(up.sentence.felony), rest="fine"),
            # under-threshold possession charged as a misdemeanor from drug_misdemeanor_t0 (``court.sentence_key``)
            names.DRUG_MISDEMEANOR: Branches(dict(up.sentence.drug_misdemeanor or up.sentence.misdemeanor), rest="fine"),
        }
        self.drug_misdemeanor_t0 = _day(up.drug_misdemeanor_start_date, origin, float("inf"))
        self.jail_sentence_days = _by_class(up.jail_sentence_days)
        self.prison_days = compile_sampler(up.prison_days)
        self.probation_days = _by_class(up.probation_days)
        self.deferred_supervision_days = compile_sampler(up.deferred_supervision_days)
        self.probation_violation_rate_per_day = up.probation_violation_rate_per_year * y
        self.p_revocation_per_violation = up.p_revocation_per_violation
        self.p_violation_on_new_arrest = up.p_violation_on_new_arrest
        self.sanction_jail_days = compile_sampler(up.sanction_jail_days)
        self.revocation_jail_days = compile_sampler(up.revocation_jail_days)

        self.jail_capacity = sc.jail.capacity_beds

        ld = sc.lead
        self.lead_enabled = ld.enabled
        self.lead_t0 = _day(ld.start_date, origin, self.t_start)
        self.lead_t1 = _day(ld.end_date, origin, self.t_end - 1) + 1 if ld.end_date else float("inf")
        self.lead_districts = frozenset(ld.districts)
        self.p_officer_trained = Schedule.from_dated(ld.p_officer_trained, origin)
        self.p_divert_if_eligible = ld.p_divert_if_eligible
        self.p_social_referral_per_contact = ld.p_social_referral_per_contact
        self.rr_referral_per_prior_arrest = ld.rr_referral_per_prior_arrest
        self.sham_referrals = ld.sham_referrals  # negative control: referrals recorded, processing as usual
        # LEAD's legal coordination for engaged participants (any officer, any district)
        self.p_divert_participant_contact = ld.p_divert_participant_contact
        self.p_open_case_dismissed_at_intake = ld.p_open_case_dismissed_at_intake
        self.rr_failure_to_appear_engaged = ld.rr_failure_to_appear_engaged
        self.p_warrant_resolved_engaged = ld.p_warrant_resolved_engaged
        self.case_managers = Schedule.from_dated(ld.case_managers, origin)
        self.caseload_per_manager = ld.caseload_per_manager
        self.book_when_full = ld.when_full == "book"
        self.intake_deadline_days = ld.intake_deadline_days
        self.intake_delay_days = compile_sampler(ld.intake_delay_days)
        self.p_referral_ineligible = ld.p_referral_ineligible
        self.p_referral_declined = ld.p_referral_declined
        self.p_empowerment_if_female = ld.p_empowerment_if_female
        self.enrollment_days = compile_sampler(ld.enrollment_days)
        self.disengage_rate_per_day = ld.disengage_rate_per_year * y
        self.reengage_rate_per_day = ld.reengage_rate_per_year * y
        self.rr_contact_engaged = ld.rr_contact_engaged
        self.rr_housing_gain_engaged = ld.rr_housing_gain_engaged
        self.rr_employment_gain_engaged = ld.rr_employment_gain_engaged
        self.effect_half_life_after_exit_days = ld.effect_half_life_after_exit_days
        self.rr_contact_after_exit = ld.rr_contact_after_exit
        self.services = tuple(
            ServiceParams(
                name=n, need=s.need, p_uptake=s.p_uptake, capacity=s.capacity,
                duration=compile_sampler(s.duration_days), rr_remission=s.rr_remission,
                rr_relapse=s.rr_relapse, rr_housing_loss=s.rr_housing_loss,
                rr_employment_gain=s.rr_employment_gain, houses_on_start=s.houses_on_start,
            )
            for n, s in sorted(ld.services.items())
        )
        # the mix in name order (as ``engine.prefix_key`` sees it, keys sorted): one uniform picks a name
        mix = dict(sorted(b.treatment_mix.items()))
        self.treatment_names = frozenset(mix)
        self.treatment_services = {s.name: s for s in self.services if s.name in mix}
        self.treatment_pick = Branches(mix, rest=list(mix)[-1]) if mix else None
        if self.treatment_entry_rate_per_day > 0.0 and not mix:
            raise ValueError("behaviour.treatment_mix: empty, but treatment_entry_rate_per_year > 0")

    def lead_active(self, t: float) -> bool:
        """Whether LEAD refers and enrols on day ``t``: enabled, on or after its start and before its end."""
        return self.lead_enabled and self.lead_t0 <= t < self.lead_t1


def _scaled(s: Schedule, factor: float) -> tuple[list[float], list[float]]:
    return list(s.times), [v * factor for v in s.values]


def _by_class(section) -> dict[str, object]:
    return {names.MISDEMEANOR: compile_sampler(section.misdemeanor), names.FELONY: compile_sampler(section.felony)}
