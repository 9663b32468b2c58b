"""Words and number formats shared by the report, the workbook and the brief (formatting only)."""

from __future__ import annotations

import math

#: metric -> (label, unit) as a reader sees them
METRIC_LABELS = {
    "people": ("People in the target group", "people"),
    "person_years": ("Person-years in the period", "person-years"),
    "police_contacts_per_person_year": ("Police contacts", "per person-year"),
    "arrests_per_person_year": ("Arrests", "per person-year"),
    "bookings_per_person_year": ("Jail bookings", "per person-year"),
    "felony_charges_per_person_year": ("Felony charges", "per person-year"),
    "prison_admissions_per_person_year": ("Prison admissions", "per person-year"),
    "jail_days_per_person_year": ("Days in jail", "days per person-year"),
    "p_rearrest_6m": ("Re-arrested within 6 months", "probability"),
    "p_rearrest_12m": ("Re-arrested within 12 months", "probability"),
    "p_rearrest_24m": ("Re-arrested within 24 months", "probability"),
    "lead_referrals": ("LEAD referrals", "in the period"),
    "lead_enrolled": ("LEAD intakes", "in the period"),
    "lead_participant_months": ("LEAD participant-months", "in the period"),
    "days_active_use_per_person_year": ("Days in active drug use", "days per person-year"),
    "housed_days_per_person_year": ("Days housed", "days per person-year"),
    "employed_days_per_person_year": ("Days employed", "days per person-year"),
    "community_days_per_person_year": ("Days in the community (not in jail or prison)", "days per person-year"),
    # shares of community days: formatted as percentages, differences in percentage points
    "share_of_community_days_active_use": ("Share of community days in active drug use", "probability"),
    "share_of_community_days_housed": ("Share of community days housed", "probability"),
    "share_of_community_days_employed": ("Share of community days employed", "probability"),
    "cost_total_per_person_usd": ("Total cost", "USD per person, discounted"),
    "cost_no_modelled_benefit_per_person_usd": ("Cost of services with no modelled benefit", "USD per person, discounted"),
    # whole-group totals over the analysis period
    "lead_participants": ("LEAD participants (enrolled at least once)", "people in the period"),
    "lead_participant_years": ("Time enrolled in LEAD", "person-years in the period"),
    "rearrests_in_period": ("Re-arrests, whole group", "in the period"),
    "jail_days_in_period": ("Days in jail, whole group", "days in the period"),
    "active_use_days_in_period": ("Days in active drug use, whole group (at the community-day rate)", "days in the period"),
    "cost_total_usd": ("Total cost, whole group", "USD in the period, discounted"),
    # differences per LEAD participant and per enrolled person-year (comparison.csv only)
    "cost_total_per_participant_usd": ("Total cost per LEAD participant", "USD per participant, discounted"),
    "rearrests_per_participant": ("Re-arrests per LEAD participant", "per participant"),
    "jail_days_per_participant": ("Days in jail per LEAD participant", "days per participant"),
    "active_use_days_per_participant": ("Days in active drug use per LEAD participant", "days per participant"),
    "cost_total_per_participant_year_usd": ("Total cost per enrolled person-year", "USD per enrolled person-year, discounted"),
    "rearrests_per_participant_year": ("Re-arrests per enrolled person-year", "per enrolled person-year"),
    "jail_days_per_participant_year": ("Days in jail per enrolled person-year", "days per enrolled person-year"),
    "active_use_days_per_participant_year": ("Days in active drug use per enrolled person-year",
                                             "days per enrolled person-year"),
}

RECIDIVISM = ["arrests_per_person_year", "bookings_per_person_year", "jail_days_per_person_year",
              "felony_charges_per_person_year", "prison_admissions_per_person_year",
              "p_rearrest_6m", "p_rearrest_12m", "p_rearrest_24m"]
WELLBEING = ["days_active_use_per_person_year", "housed_days_per_person_year", "employed_days_per_person_year",
             "community_days_per_person_year", "share_of_community_days_active_use", "share_of_community_days_housed",
             "share_of_community_days_employed", "police_contacts_per_person_year"]
VOLUMES = ["people", "person_years", "lead_referrals", "lead_enrolled", "lead_participant_months"]

_ACRONYMS = {"lead": "LEAD", "usd": "USD", "cea": "CEA", "oud": "OUD", "sud": "SUD", "fy": "FY"}
_PAYER_WORDS = {"city_and_county_of_denver": "City and County of Denver", "state_of_colorado": "State of Colorado",
                "medicaid": "Medicaid", "lead_grant": "LEAD grant", "housing_vouchers": "Housing vouchers",
                "society": "Society (victims)"}


def pretty(name: str) -> str:
    """snake_case -> 'Sentence case' with acronyms kept."""
    words = [_ACRONYMS.get(w, w) for w in str(name).split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def arm_label(arm: str) -> str:
    """An arm's name as the report shows it: 'lead_pilot' -> 'LEAD pilot'."""
    return pretty(arm)


def payer_label(payer: str) -> str:
    """A payer's name as the report shows it: the known payers by their proper names, others from their key."""
    return _PAYER_WORDS.get(payer, pretty(payer))


_PAYER_SHORT = {"city_and_county_of_denver": "city", "state_of_colorado": "state", "lead_grant": "grant",
                "housing_vouchers": "vouchers", "medicaid": "Medicaid", "society": "society"}


def payer_short(payer: str) -> str:
    """A payer in a few letters, for crowded axis labels."""
    return _PAYER_SHORT.get(payer, payer_label(payer))


def agency_label(agency: str) -> str:
    """An agency's name as the report shows it: 'district_attorney' -> 'District attorney'."""
    return pretty(agency)


def metric_label(metric: str) -> tuple[str, str]:
    """(label, unit) of a metric; cost metrics are named by their agency or payer."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    if metric.startswith("cost_payer_") and metric.endswith("_per_person_usd"):
        return f"Cost to {payer_label(metric[len('cost_payer_'):-len('_per_person_usd')])}", "USD per person, discounted"
    if metric.startswith("cost_payer_") and metric.endswith("_per_participant_usd"):
        return (f"Cost to {payer_label(metric[len('cost_payer_'):-len('_per_participant_usd')])} per LEAD participant",
                "USD per participant, discounted")
    if metric.startswith("cost_payer_") and metric.endswith("_usd"):
        return (f"Cost to {payer_label(metric[len('cost_payer_'):-len('_usd')])}, whole group",
                "USD in the period, discounted")
    if metric.startswith("cost_") and metric.endswith("_per_person_usd"):
        return f"Cost: {agency_label(metric[len('cost_'):-len('_per_person_usd')])}", "USD per person, discounted"
    return pretty(metric), ""


def is_nan(x) -> bool:
    """True for None and float NaN: what the run's tables hold where there is no value."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def num(x, digits: int = 3) -> str:
    """A number with sensible precision: 3 significant digits, thousands separated."""
    if is_nan(x):
        return "n/a"
    x = float(x)
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}" if digits <= 3 else f"{x:.1f}"
    if ax == 0:
        return "0"
    if ax >= 1:
        return f"{x:.{max(digits - 1, 0)}f}".rstrip("0").rstrip(".") if ax < 10 else f"{x:.1f}"
    return f"{x:.{digits}g}"


def money(x, signed: bool = False) -> str:
    """US dollars, whole: $1,234 / -$1,234 (signed: +$1,234)."""
    if is_nan(x):
        return "n/a"
    x = float(x)
    sign = "-" if x < 0 else ("+" if signed and x > 0 else "")
    ax = abs(x)
    return f"{sign}${ax:,.0f}" if ax >= 10 or ax == 0 else f"{sign}${ax:,.2f}"


def money_short(x) -> str:
    """Axis-label dollars: $950, $12.5k, $1.2M."""
    if is_nan(x):
        return "n/a"
    x = float(x)
    sign = "-" if x < 0 else ""
    ax = abs(x)
    if ax >= 1e6:
        return f"{sign}${ax / 1e6:.3g}M"
    if ax >= 1e4:
        return f"{sign}${ax / 1e3:.0f}k"
    if ax >= 1e3:
        return f"{sign}${ax / 1e3:.3g}k"
    return f"{sign}${ax:.0f}"


def pct(x) -> str:
    """A share as a percentage with one decimal: 0.123 -> '12.3%' ('n/a' when missing)."""
    return "n/a" if is_nan(x) else f"{100 * float(x):.1f}%"


def value(x, unit: str, signed: bool = False) -> str:
    """Format a value by its unit: money, probability (percent) or plain number."""
    if "USD" in unit:
        return money(x, signed)
    if unit == "probability":
        s = pct(x)
        return ("+" + s) if signed and not is_nan(x) and float(x) > 0 else s
    s = num(x)
    return ("+" + s) if signed and not is_nan(x) and float(x) > 0 else s


def with_ci(m, lo, hi, unit: str = "", signed: bool = False) -> str:
    """'12.4 (95% CI 11.9 to 12.9)'; without an interval (one replication) says so."""
    if is_nan(m):
        return "n/a"
    if is_nan(lo) or is_nan(hi):
        return f"{value(m, unit, signed)} (no interval: one replication)"
    if unit == "probability":
        return f"{value(m, unit, signed)} ({pct(lo)} to {pct(hi)})"
    return f"{value(m, unit, signed)} ({value(lo, unit)} to {value(hi, unit)})"


def grant_spent_by(row) -> str:
    """The day a grant.csv row's spending is counted to, said so when the run ends before the
    program (older run folders have no ``spent_through``: their program ended first)."""
    through = getattr(row, "spent_through", None)
    through = str(row.program_end) if through is None or is_nan(through) else str(through)
    if through < str(row.program_end):  # ISO dates
        return f"{through} (the run's end; the program runs to {row.program_end})"
    return through
