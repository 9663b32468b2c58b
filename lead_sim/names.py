"""The one source of the strings the model, costing, metrics and reports share.

Event types and spell kinds are written to the event log; unit costs in a scenario are keyed
by them; metric names are the public interface of ``lead-sim compare``.
"""

from __future__ import annotations

# ---- events (one row each in the event log) -----------------------------------------------
POLICE_CONTACT = "police_contact"  # detail: offense at contact (possession/prostitution/other/none)
ARREST = "arrest"  # custodial arrest; detail: new_offense | warrant
BOOKING = "booking"
CHARGE_MISDEMEANOR = "charge_misdemeanor"  # filed by the city attorney in county court
CHARGE_FELONY = "charge_felony"  # reviewed and filed by the district attorney
PUBLIC_DEFENSE = "public_defense"  # a public defender is appointed to the case
FAILURE_TO_APPEAR = "failure_to_appear"  # a warrant is issued
WARRANT_RESOLVED = "warrant_resolved"  # an engaged LEAD participant's warrant resolved through the case manager
DISPOSITION = "disposition"  # detail: dismissed | deferred | convicted | dismissed_at_lead_intake
PROBATION_START = "probation_start"
PROBATION_VIOLATION = "probation_violation"  # detail: sanction | revocation
PRISON_ADMISSION = "prison_admission"
LEAD_REFERRAL = "lead_referral"  # detail: arrest | social_contact | sham (lead.sham_referrals: a negative control)
SHAM_REFERRAL = "sham"
LEAD_NOT_ENROLLED = "lead_not_enrolled"  # detail: ineligible | declined | missed_intake
LEAD_INTAKE = "lead_intake"  # detail: provider
LEAD_EXIT = "lead_exit"  # detail: completed | program_end | left
# participant met for an eligible offense and not booked; detail "" (a LEAD officer in a LEAD
# district, any participant) or PARTICIPANT_DIVERTED (any officer: an engaged participant's case manager called)
LEAD_PARTICIPANT_CONTACT = "lead_participant_contact"
SERVICE_START = "service_start"  # detail: service name
SERVICE_UNAVAILABLE = "service_unavailable"  # detail: service name (capacity full)
PERSON_EXIT = "person_exit"  # detail: desist | move_away | death

#: events that a scenario must give a unit cost for (an empty mapping means "costs nothing")
COSTED_EVENTS = (
    POLICE_CONTACT,
    ARREST,
    BOOKING,
    CHARGE_MISDEMEANOR,
    CHARGE_FELONY,
    PUBLIC_DEFENSE,
    FAILURE_TO_APPEAR,
    DISPOSITION,
    PROBATION_START,
    PROBATION_VIOLATION,
    PRISON_ADMISSION,
    LEAD_REFERRAL,
    LEAD_INTAKE,
    LEAD_PARTICIPANT_CONTACT,
)

# ---- spells (intervals in a state; one row each) ------------------------------------------
JAIL = "jail"
PRISON = "prison"
PROBATION = "probation"
LEAD_ENROLLED = "lead_enrolled"
LEAD_ENGAGED = "lead_engaged"
LEAD_WAITING = "lead_waiting"  # referred, waiting for a case-manager slot
ACTIVE_USE = "active_use"  # in the community and using
HOUSED = "housed"  # in the community and housed
EMPLOYED = "employed"  # in the community and working
SERVICE_PREFIX = "service:"  # service spells are "service:<name>"

CUSTODY_KINDS = (JAIL, PRISON)
#: spells that a scenario may price per day or per month
COSTED_SPELLS = (JAIL, PRISON, PROBATION, LEAD_ENROLLED)

# ---- a person's part in LEAD (``Person.lead_status``; None: not in LEAD) and the providers -----
REFERRED = "referred"  # referred, waiting for intake (and perhaps for a case manager)
ENROLLED = "enrolled"
PROVIDER_ARTS = "ARTS"  # Addiction Research and Treatment Services
PROVIDER_EMPOWERMENT = "empowerment_program"  # the Empowerment Program (women)

# ---- details of some events ------------------------------------------------------------------
DISMISSED_AT_LEAD_INTAKE = "dismissed_at_lead_intake"  # a disposition: LEAD's prosecutor coordination at intake
PARTICIPANT_DIVERTED = "case_manager_called"  # a lead_participant_contact by any officer (lead.p_divert_participant_contact)

# ---- offenses and charge classes -------------------------------------------------------------
POSSESSION = "possession"
PROSTITUTION = "prostitution"
OTHER = "other"
NO_OFFENSE = "none"
OFFENSE_PROFILES = ("possession", "prostitution", "both")
MISDEMEANOR = "misdemeanor"
FELONY = "felony"
#: the sentence mix (not a charge class: charged as a misdemeanor) of under-threshold possession from
#: ``usual_processing.drug_misdemeanor_start_date`` (Colorado HB19-1263: a level 1 drug misdemeanor)
DRUG_MISDEMEANOR = "drug_misdemeanor"

# ---- calibration targets ------------------------------------------------------------------------
# odds ratios of the Seattle evaluation design (evaluation.py), named as in
# scenarios/targets/seattle_2017_recidivism.csv
TARGET_ANY_ARREST_6M = "any_arrest_6m"
TARGET_ANY_ARREST_LONG_TERM = "any_arrest_long_term"
TARGET_ANY_FELONY_CHARGE_LONG_TERM = "any_felony_charge_long_term"
EVALUATION_TARGETS = (TARGET_ANY_ARREST_6M, TARGET_ANY_ARREST_LONG_TERM, TARGET_ANY_FELONY_CHARGE_LONG_TERM)
#: the evaluation's LEAD group size (people referred who enter the design), a program-volume target
TARGET_LEAD_GROUP_SIZE = "lead_group_size"
CALIBRATION_TARGETS = (*EVALUATION_TARGETS, TARGET_LEAD_GROUP_SIZE)

# ---- table columns -----------------------------------------------------------------------------
EVENT_COLUMNS = ("person_id", "day", "event", "detail")
SPELL_COLUMNS = ("person_id", "kind", "start_day", "end_day")

# ---- metrics (the public names printed by `lead-sim compare`) -----------------------------------
RATE_METRICS = {
    # metric name -> event (and optional detail) counted per person-year
    "police_contacts_per_person_year": (POLICE_CONTACT, None),
    "arrests_per_person_year": (ARREST, None),
    "bookings_per_person_year": (BOOKING, None),
    "felony_charges_per_person_year": (CHARGE_FELONY, None),
    "prison_admissions_per_person_year": (PRISON_ADMISSION, None),
}
DAY_METRICS = {
    "jail_days_per_person_year": JAIL,
    "days_active_use_per_person_year": ACTIVE_USE,
    "housed_days_per_person_year": HOUSED,
    "employed_days_per_person_year": EMPLOYED,
}
#: days in the community (present in the target group, not in jail or prison) per person-year
COMMUNITY_DAYS_METRIC = "community_days_per_person_year"
#: metric name -> community spell kind: days in the state / days in the community (custody days
#: are in neither; ``ACTIVE_USE``, ``HOUSED`` and ``EMPLOYED`` are recorded in the community only)
SHARE_METRICS = {
    "share_of_community_days_active_use": ACTIVE_USE,
    "share_of_community_days_housed": HOUSED,
    "share_of_community_days_employed": EMPLOYED,
}
REARREST_WINDOWS_MONTHS = (6, 12, 24)
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
