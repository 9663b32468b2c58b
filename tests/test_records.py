"""Administrative records: malformed rows reported, targets by hand, check-fit on synthetic data."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from click.testing import CliRunner

from lead_sim.calibration import fit as K
from lead_sim.calibration import records as R
from lead_sim.cli.main import main
from tests.conftest import SCENARIOS

SYNTHETIC = SCENARIOS / "observed" / "synthetic_demo"


def write(folder, arrests, jail, log):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "arrests.csv").write_text("person,date,charge,charge_class\n" + arrests)
    (folder / "jail_stays.csv").write_text("person,booking_date,release_date\n" + jail)
    (folder / "lead_log.csv").write_text("person,referral_date,referral_type,intake_date,exit_date\n" + log)
    return folder


def test_malformed_rows_are_reported_with_row_numbers(tmp_path):
    f = write(tmp_path / "bad",
              "a,2019-01-05,possession,misdemeanor\na,2019-01-05,possession,misdemeanor\nb,2019-02-30,other,felony\n,2019-03-01,x,y\n",
              "a,2019-01-05,2019-01-03\nb,,2019-02-01\n",
              "c,2019-04-01,arrest,2019-03-01,\n")
    with pytest.raises(R.RecordsError) as info:
        R.read_records(f / "arrests.csv", f / "jail_stays.csv", f / "lead_log.csv")
    got = info.value.problems
    expected = [
        "arrests.csv: row 3: duplicate of an earlier row",
        "arrests.csv: row 4: date unreadable ('2019-02-30'; expected YYYY-MM-DD)",
        "arrests.csv: row 5: person missing",
        "jail_stays.csv: row 2: release_date before booking_date",
        "jail_stays.csv: row 3: booking_date missing",
        "lead_log.csv: row 2: intake_date before referral_date",
    ]
    for e in expected:
        assert any(p.endswith(e) for p in got), f"expected a problem ending {e!r}; found {got}"


def test_missing_columns_and_missing_file(tmp_path):
    f = tmp_path / "cols"
    f.mkdir()
    (f / "arrests.csv").write_text("person,date\na,2019-01-01\n")
    with pytest.raises(R.RecordsError) as info:
        R.read_records(f / "arrests.csv", f / "jail_stays.csv", f / "lead_log.csv")
    text = "\n".join(info.value.problems)
    assert "arrests.csv: missing columns ['charge', 'charge_class']" in text
    assert "jail_stays.csv: file not found" in text


def test_targets_by_hand_with_censoring(tmp_path):
    # a: arrested day 0 and day 100 (re-arrest at 100 days); b: arrested day 10, never again, data
    # end on day 365 (censored at 355 days); c: referred day 20, arrested day 200 (180 days)
    start = dt.date(2019, 1, 1)
    d = lambda n: (start + dt.timedelta(days=n)).isoformat()  # noqa: E731
    f = write(tmp_path / "ok",
              f"a,{d(0)},possession,misdemeanor\na,{d(100)},possession,felony\nb,{d(10)},other,misdemeanor\nc,{d(200)},possession,misdemeanor\n",
              f"a,{d(0)},{d(2)}\nb,{d(10)},{d(13)}\n",
              f"c,{d(20)},social_contact,{d(25)},\n")
    rec = R.read_records(f / "arrests.csv", f / "jail_stays.csv", f / "lead_log.csv")
    t = R.build_targets(rec, start, start + dt.timedelta(days=364), "hand").set_index("target")["value"]
    # person-time from first record to day 365: 365 + 355 + 345 days
    py = (365 + 355 + 345) / 365.25
    assert t["bookings_per_person_year"] == pytest.approx(4 / py)
    assert t["jail_days_per_person_year"] == pytest.approx(5 / py)
    # KM: events at 100 (a) and 180 (c) days; b censored at 355: S(6 m = 182.6 d) = 2/3 * 1/2
    assert t["p_rearrest_6m"] == pytest.approx(1 - (2 / 3) * (1 / 2))
    assert math.isnan(t["p_rearrest_24m"])


def test_targets_command_and_check_fit_on_synthetic_records(tmp_path):
    out = tmp_path / "targets.csv"
    r = CliRunner().invoke(main, ["targets", str(SYNTHETIC), "--out", str(out)])
    assert r.exit_code == 0, r.output
    targets = K.read_any_targets(out)
    assert "p_rearrest_6m" in set(targets["target"])
    sc = __import__("lead_sim.scenario.loading", fromlist=["load"]).load(SCENARIOS / "demo.yaml").arms["lead_pilot"]
    pred = K.predictions(sc, "lead_pilot", 3, 2)
    table = K.check_fit(targets, pred).set_index("target")
    # the synthetic records are replication 0 of this very arm, measured the same way
    rep0 = pred[pred["replication"] == 0].set_index("target")["value"]
    for name in ("bookings_per_person_year", "p_rearrest_6m", "p_rearrest_12m"):
        assert table.loc[name, "observed"] == pytest.approx(rep0[name], rel=1e-5), name  # the CSV keeps 6 digits


def test_bad_records_command_exits_cleanly(tmp_path):
    f = write(tmp_path / "bad", "a,not-a-date,possession,misdemeanor\n", "", "")
    r = CliRunner().invoke(main, ["targets", str(f)])
    assert r.exit_code == 2 and "row 2: date unreadable" in r.output and "no targets written" in r.output
    assert "Traceback" not in r.output


def test_check_fit_prints_enough_digits_to_show_why_a_target_is_outside():
    from lead_sim.cli.calibrate import _decisive

    t = pd.DataFrame({"target": ["close", "clear"], "observed": [0.678083, 0.5], "predicted_mean": [0.687, 0.51],
                      "prediction_low": [0.678407, 0.4], "prediction_high": [0.7, 0.6],
                      "inside_95_prediction_interval": ["no", "yes"], "replications": [20, 20]})
    d = _decisive(t).set_index("target")
    assert (d.loc["close", "observed"], d.loc["close", "prediction_low"]) == ("0.6781", "0.6784")
    assert (d.loc["clear", "observed"], d.loc["clear", "prediction_low"]) == ("0.5", "0.4")
