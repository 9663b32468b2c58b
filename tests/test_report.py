"""Reports of a run folder: HTML report, workbook, funding brief, checklists, rerun.

Three small demo runs (compare, budget, cea; 2 replications) are made once per module through
the CLI. Browser tests render the report and the brief in headless Chromium; they are skipped
when no Chromium is installed, except under CI (``CI`` set), where .ci/run installs it and a
missing browser is a failure.
"""

from __future__ import annotations

import ast
import base64
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lead_sim.cli.main import main
from lead_sim.outcomes.survival import km_failure_curve, rearrest_times
from lead_sim.report import read_run, write_report
from lead_sim.report.checklist import AUTHOR
from lead_sim.report.rerun import compare_folders
from lead_sim.report.sources import comment_notes, format_value, origin_of, parameter_table, tags_of

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.yaml"
REPORT_PKG = ROOT / "lead_sim" / "report"


def invoke(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, f"lead-sim {' '.join(map(str, args))}: exit {res.exit_code}\n{res.output}\n{res.exception!r}"
    return res


def _run_dir(out: Path) -> Path:
    dirs = [p for p in (out / "demo").iterdir() if p.is_dir()]
    assert len(dirs) == 1, f"expected one run folder under {out}; found {dirs}"
    return dirs[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """compare (with --report), budget and cea (no break-even search) of the demo, 2 replications."""
    out = {}
    for kind, extra in (("compare", ["--report"]), ("budget", []), ("cea", ["--no-breakeven"])):
        folder = tmp_path_factory.mktemp(kind)
        invoke(kind, DEMO, "--reps", 2, "--jobs", 2, "--out", folder, *extra)
        out[kind] = _run_dir(folder)
    psa = tmp_path_factory.mktemp("psa")
    invoke("psa", DEMO, "--draws", 2, "--reps", 1, "--jobs", 2, "--out", psa)
    out["psa"] = _run_dir(psa)
    write_report(out["budget"])
    write_report(out["cea"], psa_dir=out["psa"])
    return out


# ---- files and contents ----------------------------------------------------------------------------


def test_report_flag_writes_every_file(runs):
    for name in ("report.html", "brief.html", "workbook.xlsx", "checklist.csv"):
        f = runs["compare"] / name
        assert f.is_file() and f.stat().st_size > 1000, f"expected {name} in the run folder after --report; found {f}"


def _images(html: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]+)"', html)


@pytest.mark.parametrize("kind", ["compare", "budget", "cea"])
def test_html_is_self_contained_with_valid_pngs(runs, kind):
    from PIL import Image

    html = (runs[kind] / "report.html").read_text(encoding="utf-8")
    srcs = _images(html)
    assert len(srcs) >= 6, f"expected at least 6 figures in the {kind} report; found {len(srcs)}"
    for src in srcs:
        assert src.startswith("data:image/png;base64,"), f"an image is not embedded: {src[:60]}"
        im = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert im.format == "PNG" and im.width > 500, f"a figure is not a readable PNG: {im.format} {im.size}"
    assert not re.search(r'(src|href)="(https?:)?//', html), "the report links to something outside the file"
    for text in ("Time to re-arrest", "Costs by payer", "Jail census", "STRESS-DES", "CHEERS 2022", "Provenance",
                 "seed 20190122", "Key parameters"):
        assert text in html, f"expected {text!r} in the {kind} report"


def test_budget_and_cea_sections_appear_only_with_their_files(runs):
    compare = (runs["compare"] / "report.html").read_text(encoding="utf-8")
    budget = (runs["budget"] / "report.html").read_text(encoding="utf-8")
    cea = (runs["cea"] / "report.html").read_text(encoding="utf-8")
    assert "Grant burn-down" in budget and "Costs by fiscal year and payer" in budget
    assert "Cost-effectiveness plane" in cea and "Break-even program price" in cea
    assert "Grant burn-down" not in compare and "Cost-effectiveness plane" not in compare


def test_every_summary_number_is_shown_with_its_interval(runs):
    run = read_run(runs["compare"])
    html = (runs["compare"] / "report.html").read_text(encoding="utf-8")
    m, lo, hi = run.metric("usual_processing", "cost_total_per_person_usd")
    assert f"${m:,.0f}</span><br><span class=\"ci\">(${lo:,.0f} to ${hi:,.0f})" in html, \
        "expected the comparator's total cost with its interval in the cost table"


def test_kaplan_meier_curve_agrees_with_the_metric(runs):
    from lead_sim.outcomes.metrics import rearrest

    run = read_run(runs["compare"])
    windows = [m * 365.25 / 12 for m in (6, 12, 24)]
    for arm in run.arms:
        ev, pe = run.events[run.events["arm"] == arm], run.people[run.people["arm"] == arm]
        t, o = rearrest_times(ev, run.t_end, pe.set_index("person_id")["exit_day"])
        curve = km_failure_curve(t, o, np.array(windows))[0]
        expected = list(rearrest(ev, pe, run.t_end).values())
        assert np.allclose(curve, expected, equal_nan=True), f"{arm}: curve {curve} vs metrics.rearrest {expected}"


def test_chance_of_saving_money_only_with_a_psa(runs):
    brief_cea = (runs["cea"] / "brief.html").read_text(encoding="utf-8")
    brief_budget = (runs["budget"] / "brief.html").read_text(encoding="utf-8")
    assert "chance of saving" in brief_cea and "share of 2 draws" in brief_cea
    assert "chance of saving" not in brief_budget and "no probability of saving money" in brief_budget
    assert "Chance of saving money" in (runs["cea"] / "report.html").read_text(encoding="utf-8")
    res = CliRunner().invoke(main, ["report", str(runs["psa"]), "--psa", str(runs["psa"])])
    assert res.exit_code == 2 and "--psa" in res.output, f"a PSA folder is not attached to itself: {res.output}"


def test_a_psa_of_other_assumptions_is_refused(runs, tmp_path):
    """A PSA run on another period (or any other scenario value) would put a chance of saving
    money next to results it is not about: the report refuses it, naming the keys."""
    other = tmp_path / runs["psa"].name
    shutil.copytree(runs["psa"], other)
    resolved = other / "scenario.resolved.yaml"
    resolved.write_text(resolved.read_text().replace("end_date: 2021-12-31", "end_date: 2023-12-31", 1))
    res = CliRunner().invoke(main, ["report", str(runs["budget"]), "--psa", str(other), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert "other assumptions" in res.output and "run.end_date" in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "r" / "brief.html").exists()


# ---- sources of parameters ----------------------------------------------------------------------------


def test_comment_notes_paths_inheritance_and_continuations():
    text = (
        "run:\n"
        "  seed: 1            # any integer\n"
        "costs:\n"
        "  cpi:               # index [D] implied by the\n"
        "    2007: 81.2       # conversions in the file\n"
        "    2019: 100.0\n"
        "  per_event:\n"
        "    arrest: {police: 300}   # [V+A] 4 hours x $75\n"
        "lead:\n"
        "  grant_usd: 560707  # [V] CDHS grant # not a second comment\n"
    )
    notes = comment_notes(text, "x.yaml")
    assert notes[("run", "seed")].text == "any integer"
    assert notes[("costs", "cpi", "2007")].text == "index [D] implied by the conversions in the file"
    assert notes[("costs", "per_event", "arrest")].inline
    assert notes[("lead", "grant_usd")].line == 10
    assert tags_of("[V+A][D+A] x [V]") == ["V", "A", "D"]
    assert origin_of("[A]", ["A"]) == "assumed"
    assert origin_of("[S] Denver7 citing the audit", ["S"]) == "local"
    assert origin_of("[V] Seattle protocol", ["V"]) == "other site"
    assert origin_of("[D] implied; replace with the BLS Denver CPI", ["D"]) == "unclassified"


def test_dated_values_after_the_run_are_marked_not_reached():
    import datetime as dt

    schedule = {"start": 0.7, dt.date(2019, 7, 1): 0.2, "2020-03-01": 0.0}
    assert format_value(schedule) == "from start 0.7; from 2019-07-01 0.2; from 2020-03-01 0"
    assert format_value(schedule, dt.date(2020, 3, 1)) == "from start 0.7; from 2019-07-01 0.2; from 2020-03-01 0"
    assert format_value(schedule, dt.date(2019, 12, 31)) == (
        "from start 0.7; from 2019-07-01 0.2; from 2020-03-01 0 (after the run ends: not reached)"
    )


def test_parameter_table_reads_tags_from_the_scenario_files(runs):
    params, problems = parameter_table(read_run(runs["compare"]))
    by = params.set_index("parameter")
    assert by.loc["lead.grant_usd", "tag"] == "V" and by.loc["lead.grant_usd", "origin"] == "local"
    assert by.loc["lead.grant_usd", "value"] == "560,707" and by.loc["lead.grant_usd", "unit"] == "USD"
    assert "a fifth of denver_pilot" in by.loc["population.initial_people", "source"], "demo.yaml's own note wins"
    assert by.loc["costs.per_event.arrest.police.average", "tag"] == "V+A+D"
    assert "(note of the section above)" not in by.loc["costs.per_event.arrest.police.average", "source"]
    assert by.loc["run.replications", "origin"] == "set for this run", "--reps is a command-line change"
    assert by.loc["lead.p_divert_if_eligible", "origin"] == "assumed"
    assert "not reached" not in by.loc["usual_processing.p_possession_felony", "value"], "2020-03-01 is inside the demo's run"
    assert len(params) > 150 and params["unit"].astype(bool).mean() > 0.6


# ---- workbook --------------------------------------------------------------------------------------------


def test_workbook_round_trips_with_summary_numbers(runs):
    from openpyxl import load_workbook

    for kind in ("compare", "budget", "cea"):
        wb = load_workbook(runs[kind] / "workbook.xlsx")
        expected = {"Summary", "By agency", "By payer", "Assumptions", "Checklists", "About"}
        if kind == "budget":
            expected |= {"Payer x FY", "Payer x FY diff", "Agency x FY", "Agency x FY diff", "Grant", "Jail savings"}
        if kind == "cea":
            expected |= {"Cost-effectiveness"}
        assert expected <= set(wb.sheetnames), f"{kind}: missing sheets {expected - set(wb.sheetnames)}"
    wb = load_workbook(runs["compare"] / "workbook.xlsx")
    ws = wb["Summary"]
    summary = pd.read_csv(runs["compare"] / "summary.csv")
    arms = list(dict.fromkeys(summary["arm"]))
    header = next(r for r in range(1, 15) if ws.cell(r, 1).value == "Measure")
    assert ws.freeze_panes == f"B{header + 1}", f"header row not frozen: {ws.freeze_panes}"
    key_col = next(c for c in range(1, ws.max_column + 1) if ws.cell(header, c).value == "Key (summary.csv)")
    seen = 0
    for r in range(header + 1, ws.max_row + 1):
        metric = ws.cell(r, key_col).value
        for i, arm in enumerate(arms):
            row = summary[(summary["arm"] == arm) & (summary["metric"] == metric)].iloc[0]
            got = [ws.cell(r, 3 + 3 * i + k).value for k in range(3)]
            want = [row["mean"], row["ci_low"], row["ci_high"]]
            for g, w in zip(got, want, strict=True):
                assert (g is None and pd.isna(w)) or g == w, f"{metric} {arm}: workbook {got} vs summary.csv {want}"
            seen += 1
        if metric == "cost_total_per_person_usd":
            assert ws.cell(r, 3).number_format.startswith('"$"#,##0'), "costs carry a currency format"
    assert seen == len(summary), f"expected every summary.csv row in the sheet; found {seen} of {len(summary)}"
    assert ws.column_dimensions["A"].width >= 15, "columns are sized to their contents"


# ---- checklists --------------------------------------------------------------------------------------------


def test_checklist_fills_what_the_run_determines(runs):
    c = pd.read_csv(runs["cea"] / "checklist.csv", keep_default_na=False)
    assert set(c["checklist"]) == {"STRESS-DES", "CHEERS 2022"} and len(c) == 24 + 28
    item = c.set_index(["checklist", "item"])["from_run"]
    assert "3% a year" in item[("CHEERS 2022", "10")]
    assert "2019-01-22 to 2021-12-31" in item[("CHEERS 2022", "9")]
    assert "US dollars of 2019" in item[("CHEERS 2022", "15")]
    assert "Root seed 20190122" in item[("STRESS-DES", "5.2")]
    assert "2 paired replications" in item[("STRESS-DES", "4.3")]
    assert "Warm-up of 365 days" in item[("STRESS-DES", "4.1")]
    assert "simpy" in item[("STRESS-DES", "5.1")]
    author = c[c["status"] == AUTHOR]
    assert len(author) >= 10 and (author["from_run"] == "").all(), "items a person must write are left empty"
    assert set(author["item"]) >= {"27", "28", "1.1"}


# ---- rerun ------------------------------------------------------------------------------------------------------


def test_rerun_of_a_fresh_run_finds_no_difference(runs, tmp_path):
    res = CliRunner().invoke(main, ["rerun", str(runs["compare"]), "--out", str(tmp_path)])
    assert res.exit_code == 0, f"expected no differences; found exit {res.exit_code}\n{res.output}"
    assert "no differences in" in res.output and "summary.csv, comparison.csv" in res.output
    new = _run_dir(tmp_path)
    assert (new / "rerun.json").is_file() and not (new / "rerun_differences.csv").exists()
    assert read_run(new).manifest["arms"] == read_run(runs["compare"]).manifest["arms"]


def test_compare_folders_reports_a_changed_number(runs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(runs["compare"], copy)
    s = pd.read_csv(copy / "summary.csv")
    s.loc[3, "mean"] = s.loc[3, "mean"] + 1
    s.to_csv(copy / "summary.csv", index=False, float_format="%.10g")
    diffs, compared, only = compare_folders(runs["compare"], copy)
    assert compared[:2] == ["summary.csv", "comparison.csv"] and not only
    assert len(diffs) == 1 and diffs.iloc[0]["column"] == "mean" and diffs.iloc[0]["row"] == 3


def test_one_arm_run_reports_without_a_comparison(tmp_path):
    invoke("run", DEMO, "--arm", "lead_pilot", "--reps", 2, "--jobs", 2, "--out", tmp_path,
           "--set", "population.initial_people=200", "--set", "population.arrivals_per_year=40",
           "--set", "run.end_date=2020-06-30")
    run_dir = _run_dir(tmp_path)
    res = invoke("report", run_dir)
    assert "report.html" in res.output
    brief = (run_dir / "brief.html").read_text(encoding="utf-8")
    assert "one arm" in brief and "<title>Funding brief: LEAD pilot</title>" in brief
    assert "One-arm run of" in (run_dir / "report.html").read_text(encoding="utf-8")
    params = pd.read_excel(run_dir / "workbook.xlsx", sheet_name="Assumptions", header=4)
    row = params[params["Parameter"] == "run.end_date"].iloc[0]
    assert row["Origin"] == "set for this run" and "--set run.end_date=2020-06-30" in row["Source note"]


# ---- errors and boundaries ----------------------------------------------------------------------------------------


def test_report_reads_run_folders_that_called_undiscounted_amounts_nominal(runs, tmp_path):
    old = tmp_path / runs["budget"].name
    shutil.copytree(runs["budget"], old)
    for csv in old.glob("*.csv"):
        csv.write_text(csv.read_text().replace("_undiscounted_usd", "_nominal_usd"))
    assert "cost_nominal_usd" in (old / "budget.csv").read_text()
    run = read_run(old)
    assert "cost_undiscounted_usd" in run.table("budget").columns
    write_report(old)
    assert (old / "report.html").exists()


def test_report_refuses_incomplete_or_missing_folders(tmp_path):
    bad = tmp_path / "20200101-000000-abcdef.incomplete"
    bad.mkdir()
    for target, fragment in ((bad, "did not finish"), (tmp_path / "nope", "no such directory"),
                             (tmp_path, "missing manifest.json")):
        res = CliRunner().invoke(main, ["report", str(target)])
        assert res.exit_code == 2 and fragment in res.output, f"{target}: exit {res.exit_code}: {res.output}"
        assert "Traceback" not in res.output


def test_report_package_never_imports_the_model():
    banned = ("simpy", "lead_sim.model", "lead_sim.runs.experiment", "lead_sim.cli", "lead_sim.analysis")
    for f in REPORT_PKG.glob("*.py"):
        tree = ast.parse(f.read_text())
        mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        bad = [m for m in mods if m.startswith(banned)]
        assert not bad, f"{f.name} imports {bad}"


def test_report_modules_load_no_simpy():
    mods = sorted(f"lead_sim.report.{f.stem}" for f in REPORT_PKG.glob("*.py") if f.stem != "__init__")
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "assert 'simpy' not in sys.modules, 'simpy was imported'\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


# ---- in a browser -------------------------------------------------------------------------------------------------


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.environ.get("CI"):
        pytest.fail("Chromium is not installed; .ci/run installs Debian's chromium for these tests")
    pytest.skip("Chromium is not installed (apt-get install -y chromium); browser rendering tests skipped")


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_html_report_renders_in_chromium_with_no_missing_image(runs, tmp_path):
    html = (runs["cea"] / "report.html").read_text(encoding="utf-8")
    probe = ("<script>window.addEventListener('load',function(){var im=document.images,ok=0;"
             "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;}"
             "document.body.setAttribute('data-images',ok+'/'+im.length);});</script>")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    res = run_chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    m = re.search(r'data-images="(\d+)/(\d+)"', res.stdout)
    assert m, f"the page did not load in Chromium: {res.stderr[-2000:]}"
    ok, total = int(m.group(1)), int(m.group(2))
    assert total == len(_images(html)) and ok == total, f"{total - ok} of {total} images failed to load"
    shot = tmp_path / "report.png"
    run_chromium(tmp_path, "--window-size=1200,1600", f"--screenshot={shot}", (runs["cea"] / "report.html").as_uri())
    assert shot.is_file() and shot.stat().st_size > 20000, "the screenshot of the report is missing or blank"


@pytest.mark.parametrize("paper", ["letter", "A4"])
def test_brief_prints_on_one_page(runs, tmp_path, paper):
    from pypdf import PdfReader

    for kind in ("budget", "cea"):
        html = (runs[kind] / "brief.html").read_text(encoding="utf-8")
        page = tmp_path / f"brief-{kind}.html"
        page.write_text(html.replace("<style>", f"<style>@page {{ size: {paper}; }}", 1), encoding="utf-8")
        pdf = tmp_path / f"brief-{kind}-{paper}.pdf"
        res = run_chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
        assert pdf.is_file(), f"Chromium wrote no PDF: {res.stderr[-2000:]}"
        pages = len(PdfReader(pdf).pages)
        assert pages == 1, f"the {kind} brief takes {pages} {paper} pages; it must fit on one"


def test_rerun_warns_when_the_run_was_made_with_uncommitted_code(runs):
    from types import SimpleNamespace

    from lead_sim.report.rerun import version_warnings

    manifest = read_run(runs["compare"]).manifest
    assert "git_uncommitted_changes" in manifest
    dirty = SimpleNamespace(manifest={**manifest, "git_uncommitted_changes": True})
    assert any("uncommitted changes" in w for w in version_warnings(dirty))
