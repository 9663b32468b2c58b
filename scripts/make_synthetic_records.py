"""Write a SYNTHETIC set of administrative records, for trying `lead-sim targets`.

The records are simulated: replication 0 of the demo scenario's lead_pilot arm, written in
the shape an evaluator would receive (arrests, jail stays, LEAD log) by
lead_sim.calibration.records.records_from_simulation. They describe no real person. Usage:
    python scripts/make_synthetic_records.py [OUT_DIR]   (default: scenarios/observed/synthetic_demo)
"""

from __future__ import annotations

import sys
from pathlib import Path

from lead_sim.calibration.records import records_from_simulation, write_records
from lead_sim.model.engine import simulate
from lead_sim.scenario.loading import load

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path) -> None:
    sc = load(ROOT / "scenarios" / "demo.yaml").arms["lead_pilot"]
    sim = simulate(sc, 0)
    rec = records_from_simulation(sim.events, sim.spells, sc.run.start_date, sim.t_end)
    rec.arrests["person"] = "SYN-" + rec.arrests["person"]
    rec.jail_stays["person"] = "SYN-" + rec.jail_stays["person"]
    rec.lead_log["person"] = "SYN-" + rec.lead_log["person"]
    write_records(rec, out)
    (out / "README.md").write_text(
        "# SYNTHETIC records - not real data\n\n"
        "Simulated by `python scripts/make_synthetic_records.py` (demo scenario, lead_pilot arm, replication 0,\n"
        f"analysis {sc.run.start_date} to {sc.run.end_date}). They describe no real person; use them to try\n"
        "`lead-sim targets scenarios/observed/synthetic_demo` and `lead-sim check-fit`.\n")
    print(f"wrote synthetic records to {out}")  # noqa: T201


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "scenarios" / "observed" / "synthetic_demo")
