"""What people's steps record: events and state spells, in columnar buffers.

Each column is an ``array.array`` of machine numbers (person ids as 32-bit integers, days) or
small integer codes (event names, details, spell kinds: one shared table of strings; one byte
each while there are at most 256 strings, two after), so a recorded event costs 14 bytes
instead of a Python tuple of objects (~150 bytes), and the tables
are built after the run by handing the buffers to NumPy, which puts the rows in time order
without a Python loop. The tables are exactly what ``pd.DataFrame(rows).astype(...)`` would
give for the rows in that order: int64 ids, float64 days and categoricals with their
categories sorted.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

import numpy as np
import pandas as pd

from lead_sim import names as N

#: person ids in the events and spells buffers: 4 bytes (widened to int64 in the tables, once the
#: people are freed: ``engine.Simulation.finish``); ``MAX_PEOPLE`` is the most a simulation may hold
PID_TYPECODE = "i"
MAX_PEOPLE = 2**31 - 1
#: people-table columns and their buffer types: PID_TYPECODE (person ids) and q int64, both
#: int64 in the table, d float64, b bool, H a code of ``Recorder.codes`` (``sex`` is
#: added after ``female``, from it)
PEOPLE = {
    "person_id": PID_TYPECODE, "entry_day": "d", "exit_day": "d", "exit_reason": "H", "female": "b",
    "race_ethnicity": "H", "age_years": "d", "district": "q", "offense_profile": "H",
    "mental_health_need": "b", "prior_arrests": "q", "contact_multiplier": "d",
}
PEOPLE_TEXT = {column for column, typecode in PEOPLE.items() if typecode == "H"}
#: codes of event names, details and spell kinds: one byte while ``Recorder.codes`` has at most 256
#: strings (all the bundled scenarios), then two (``Recorder.code`` widens the columns)
CODE_TYPECODES = ("B", "H")


class Recorder:
    """Append-only columns for events (person, day, event, detail), spells (person, kind, start,
    end) and people (one row per person, written when the person enters: see ``PEOPLE``)."""

    __slots__ = ("codes", "ev_pid", "ev_day", "ev_name", "ev_detail", "sp_pid", "sp_kind", "sp_start", "sp_end",
                 "people", "record_from")

    def __init__(self, record_from: float = -math.inf):
        """Empty buffers; ``record_from``: the first day kept (see the attribute)."""
        #: events before this day and spells that end on or before it are not kept (people all are)
        self.record_from = record_from
        self.codes: dict[str, int] = {}
        narrow = CODE_TYPECODES[0]
        self.ev_pid, self.ev_day, self.ev_name, self.ev_detail = array(PID_TYPECODE), array("d"), array(narrow), array(narrow)
        self.sp_pid, self.sp_kind, self.sp_start, self.sp_end = array(PID_TYPECODE), array(narrow), array("d"), array("d")
        # int, float or bool items by column (``PEOPLE``)
        self.people: dict[str, array[Any]] = {column: array(typecode) for column, typecode in PEOPLE.items()}

    def code(self, text: str) -> int:
        """The code of ``text`` (a new one if it has none: callers take codes before appending,
        as a new code may widen the code columns, that is, replace them)."""
        c = self.codes.get(text)
        if c is None:
            c = self.codes[text] = len(self.codes)
            if c == 256 and self.ev_name.itemsize == 1:
                wide = CODE_TYPECODES[1]
                self.ev_name, self.ev_detail, self.sp_kind = (array(wide, a) for a in (self.ev_name, self.ev_detail, self.sp_kind))
        return c

    def event(self, pid: int, day: float, name: str, detail: str) -> None:
        """Append an event of person ``pid`` on ``day`` (dropped before ``record_from``)."""
        if day < self.record_from:
            return
        codes = self.codes
        n = codes.get(name)
        if n is None:
            n = self.code(name)
        d = codes.get(detail)
        if d is None:
            d = self.code(detail)
        self.ev_pid.append(pid)
        self.ev_day.append(day)
        self.ev_name.append(n)
        self.ev_detail.append(d)

    def spell(self, pid: int, kind: str, start: float, end: float) -> None:
        """Append a closed spell of person ``pid`` from ``start`` to ``end`` (dropped if it ends on or
        before ``record_from``)."""
        if end <= self.record_from:
            return
        c = self.codes.get(kind)
        if c is None:
            c = self.code(kind)
        self.sp_pid.append(pid)
        self.sp_kind.append(c)
        self.sp_start.append(start)
        self.sp_end.append(end)

    def person(self, p, row, t_end: float) -> None:
        """The people-table row of ``p`` (a ``lead_sim.model.person.Person``) and ``row`` (its
        ``EntryRow``): all of it is known at entry."""
        left = p.exit_time < t_end
        col, code = self.people, self.code
        col["person_id"].append(p.pid)
        col["entry_day"].append(row.entry_day)
        col["exit_day"].append(p.exit_time if left else t_end)
        col["exit_reason"].append(code(p.exit_reason if left else ""))
        col["female"].append(p.female)
        col["race_ethnicity"].append(code(row.race_ethnicity))
        col["age_years"].append(row.age_years)
        col["district"].append(p.district)
        col["offense_profile"].append(code(p.profile))
        col["mental_health_need"].append(p.mh_need)
        col["prior_arrests"].append(row.prior_arrests)
        col["contact_multiplier"].append(p.base_mult)

    @property
    def n_events(self) -> int:
        """The number of events recorded so far."""
        return len(self.ev_pid)

    # The tables' rows are in time order: events by day, spells by end day, then by person id,
    # and a person's rows of one day in the order they were recorded. The buffers are not: a
    # person's private changes are made ahead of the clock (``person._stepper``), so they hold
    # each person's rows in order but different people's interleaved by when they were made.
    # The order does not depend on how the run was scheduled, only on what happened.
    # The tables are built once the simulation is over (hundreds of MB at 100x the default
    # population, so each column is copied once, in its new order).

    def events_frame(self) -> pd.DataFrame:
        """The events table (``names.EVENT_COLUMNS``), by day, then person, then as recorded."""
        pid, day = _ids(self.ev_pid), np.frombuffer(self.ev_day, dtype=np.float64)
        order = np.lexsort((pid, day))  # stable: by day, then person, then as recorded
        return pd.DataFrame({
            N.EVENT_COLUMNS[0]: pid[order],
            N.EVENT_COLUMNS[1]: day[order],
            N.EVENT_COLUMNS[2]: self._categorical(self.ev_name, order),
            N.EVENT_COLUMNS[3]: self._categorical(self.ev_detail, order),
        }, copy=False)

    def spells_frame(self) -> pd.DataFrame:
        """The spells table (``names.SPELL_COLUMNS``), by end day, then person, then as recorded."""
        pid, end = _ids(self.sp_pid), np.frombuffer(self.sp_end, dtype=np.float64)
        order = np.lexsort((pid, end))  # stable: by end day, then person, then as recorded
        return pd.DataFrame({
            N.SPELL_COLUMNS[0]: pid[order],
            N.SPELL_COLUMNS[1]: self._categorical(self.sp_kind, order),
            N.SPELL_COLUMNS[2]: np.frombuffer(self.sp_start, dtype=np.float64)[order],
            N.SPELL_COLUMNS[3]: end[order],
        }, copy=False)

    def people_frame(self) -> pd.DataFrame:
        """The people table, one row per person in person-id order, with ``sex`` after ``female``."""
        texts = np.array(list(self.codes), dtype=object)
        out: dict[str, Any] = {}
        for column, values in self.people.items():
            if column in PEOPLE_TEXT:
                out[column] = list(texts[np.array(values, dtype=np.intp)])
            elif PEOPLE[column] == "b":
                out[column] = np.array(values, dtype=bool)
            else:
                out[column] = np.array(values, dtype=np.int64 if PEOPLE[column] in (PID_TYPECODE, "q") else np.float64)
            if column == "female":
                out["sex"] = np.where(out[column], "female", "male").tolist()
        return pd.DataFrame(out)

    def _categorical(self, codes: array, rows: np.ndarray) -> pd.Categorical:
        """The strings behind ``codes``, taken in the order ``rows``, as a categorical whose categories are the ones used, sorted."""
        texts = np.array(list(self.codes), dtype=object)
        raw = np.frombuffer(codes, dtype=f"u{codes.itemsize}")[rows]
        used = np.unique(raw)
        order = np.argsort(texts[used].astype(str), kind="stable")
        lut = np.full(len(texts), -1, dtype=np.int32)
        lut[used[order]] = np.arange(len(used))
        return pd.Categorical.from_codes(lut[raw], categories=pd.Index(list(texts[used[order]])))


def _ids(buffer: array) -> np.ndarray:
    return np.frombuffer(buffer, dtype=f"i{buffer.itemsize}").astype(np.int64)
