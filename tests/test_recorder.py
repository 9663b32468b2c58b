"""The columnar recorder builds exactly the tables a list of tuples, sorted in time order, would have given."""

from __future__ import annotations

import random

import pandas as pd

from lead_sim import names as N
from lead_sim.model.recorder import Recorder

WORDS = ["police_contact", "arrest", "", "booking", "possession", "ARTS", "zeta", "alpha", "jail", "housed"]


def old_frame(rows, columns, categorical, dtypes):
    df = pd.DataFrame(rows, columns=list(columns))
    for c in columns:
        df[c] = df[c].astype("category") if c in categorical else df[c].astype(dtypes[c])
    return df


def check_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for c in want.columns:
        if isinstance(want[c].dtype, pd.CategoricalDtype):  # dtype equality ignores the order of categories
            assert list(got[c].cat.categories) == list(want[c].cat.categories)
            assert got[c].cat.categories.dtype == want[c].cat.categories.dtype


def test_tables_equal_the_tuple_path():
    # the rows in time order (events by day, spells by end day), then by person id, then as
    # recorded: ties on both are frequent here, so a sort that is not stable would show
    rng = random.Random(7)
    many = WORDS + [f"word{i}" for i in range(300)]  # more than one-byte codes can hold: widened mid-run
    for n, words in ((0, WORDS), (1, WORDS), (5, WORDS), (2000, WORDS), (2000, many)):
        rec, ev, sp = Recorder(), [], []
        for _ in range(n):
            day = rng.choice((rng.uniform(-1e3, 1e3), 5.0, -0.0, 0.0))
            row = (rng.choice((rng.randrange(10**9), 3, 4)), day, rng.choice(words), rng.choice(words))
            rec.event(*row)
            ev.append(row)
            srow = (rng.randrange(50), rng.choice(WORDS[3:]), rng.random(), rng.choice((rng.random() + 1, 1.5)))
            rec.spell(*srow)
            sp.append(srow)
        ev.sort(key=lambda r: (r[1], r[0]))  # stable
        sp.sort(key=lambda r: (r[3], r[0]))
        check_same(rec.events_frame(), old_frame(ev, N.EVENT_COLUMNS, {"event", "detail"},
                                                 {"person_id": "int64", "day": "float64"}))
        check_same(rec.spells_frame(), old_frame(sp, N.SPELL_COLUMNS, {"kind"},
                                                 {"person_id": "int64", "start_day": "float64", "end_day": "float64"}))
        assert rec.n_events == n
        assert rec.ev_name.itemsize == (2 if words is many else 1)
