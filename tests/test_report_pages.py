"""Reports a budget office reads: totals over named periods, many arms on one printed page, PSA
figures, funding answers, one brief with the budget and the cost-effectiveness answers.

Small runs of the demo and of a six-arm version of it are made once per module through the CLI.
Printed pages are checked in the system's Chromium (Debian's ``chromium``) driven by Playwright,
pointed at that browser (no browser download): page counts on A4 and Letter, no element wider than
the page, and the PDF's text against the numbers of the run's CSV files. Skipped without Chromium
or Playwright, except under CI (``CI`` set), where a missing one is a failure.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from lead_sim.cli.main import main

# six-arm briefs printed in Chromium take about 100 s on one worker: run with the slow tests (CI runs both)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "scenarios" / "demo.yaml"
SMALL = ["population.initial_people=200", "population.arrivals_per_year=40", "run.warmup_days=180"]

SIX_ARMS = """\
extends: {demo}
name: six_arms
description: Six arms of the small demo (tests of reports with many arms).
arms:
  usual_processing: {{description: No LEAD., set: {{lead.enabled: false}}}}
  lead_pilot: {{description: LEAD ending 2020-12-31., set: {{lead.end_date: 2020-12-31}}}}
  lead_continued: {{description: LEAD continuing., set: {{}}}}
  lead_two_managers: {{description: Two case managers., set: {{lead.case_managers: 2}}}}
  lead_weaker_effect: {{description: A weaker effect on contacts., set: {{lead.rr_contact_engaged: 0.8}}}}
  lead_short_pilot: {{description: LEAD ending 2019-12-31., set: {{lead.end_date: 2019-12-31}}}}
"""


def invoke(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, f"lead-sim {' '.join(map(str, args))}: exit {res.exit_code}\n{res.output}\n{res.exception!r}"
    return res


def _sets():
    return sum((["--set", s] for s in SMALL), [])


def _only(folder: Path) -> Path:
    dirs = [p for p in folder.glob("*/*") if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The demo's budget through 2021 and through 2025; the six-arm scenario's budget, cea and psa; a tornado."""
    base = tmp_path_factory.mktemp("runs")
    six = base / "six.yaml"
    six.write_text(SIX_ARMS.format(demo=DEMO), encoding="utf-8")
    out = {}
    for name, args in (
        ("through2021", ["budget", DEMO, "--through", 2021]),
        ("through2025", ["budget", DEMO, "--through", 2025]),
        ("six_budget", ["budget", six, "--through", 2023]),
        ("six_cea", ["cea", six, "--no-breakeven"]),
        ("six_psa", ["psa", six, "--draws", 3]),
        ("tornado", ["tornado", six, "--arm", "lead_pilot", "--param", "lead.rr_contact_engaged",
                     "--param", "costs.program.staffing.case_manager_usd_per_year"]),
    ):
        folder = base / name
        reps = ["--reps", 1] if name in ("six_psa", "tornado") else ["--reps", 2]
        extra = ["--keep-events", "none"] if name not in ("six_psa", "tornado") else []
        invoke(*args, *reps, "--jobs", 2, "--out", folder, *_sets(), *extra)
        out[name] = _only(folder)
    return out


# ---- 1. per year: never averaged over years the program did not run --------------------------------------


def _pilot_line(brief: str) -> str:
    m = re.search(r"<li><b>LEAD pilot</b>.*?</li>", brief, re.S)
    assert m, "no bottom line for the pilot"
    return m.group(0)


def test_the_pilots_statement_does_not_depend_on_how_far_the_analysis_runs(runs, tmp_path):
    lines = {}
    for name in ("through2021", "through2025"):
        invoke("report", runs[name], "--out", tmp_path / name)
        lines[name] = _pilot_line((tmp_path / name / "brief.html").read_text(encoding="utf-8"))
    head = {k: v.split(" After it")[0] for k, v in lines.items()}
    assert head["through2021"] == head["through2025"], lines
    assert "per year of operation" in head["through2021"] and "22 Jan 2019 to 31 Dec 2020" in head["through2021"]
    p = pd.read_csv(runs["through2025"] / "budget_periods.csv")
    row = p[(p["arm"] == "lead_pilot") & (p["kind"] == "program") & (p["group"] == "all_payers")].iloc[0]
    assert f"${abs(round(row['per_year_undiscounted_usd'] / 1000) * 1000):,.0f}" in head["through2025"]
    assert f"${abs(round(row['difference_undiscounted_usd'] / 1000) * 1000):,.0f}" in head["through2025"]
    brief = (tmp_path / "through2025" / "brief.html").read_text(encoding="utf-8")
    assert "a year: averaged over" not in brief and "whether or not the program ran" not in brief


# ---- 4. funding answers ------------------------------------------------------------------------------------


def test_funding_need_has_intervals_and_only_arms_running_after_the_pilot(runs):
    need = pd.read_csv(runs["through2025"] / "funding_need.csv")
    assert set(need["arm"]) == {"lead_continued"}, "the pilot ended in 2020: it needs no funding after it"
    assert list(need["year"]) == [2021, 2022, 2023, 2024, 2025]
    for c in ("program_funding_needed_usd", "net_cost_usd"):
        lo, hi = {"program_funding_needed_usd": ("program_ci_low", "program_ci_high"),
                  "net_cost_usd": ("net_ci_low", "net_ci_high")}[c]
        assert (need[lo] <= need[c]).all() and (need[c] <= need[hi]).all()
    six = pd.read_csv(runs["six_budget"] / "funding_need.csv")
    # the earliest pilot ends in 2019: the 2020 pilot needs funding for 2020 only
    assert set(six.loc[six["arm"] == "lead_pilot", "year"]) == {2020}
    assert "lead_short_pilot" not in set(six["arm"])


def test_cumulative_figure_and_table(runs, tmp_path):
    invoke("report", runs["six_budget"], "--out", tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="fig-cumulative"' in html and "Cumulative net cost and payback" in html
    c = pd.read_csv(runs["six_budget"] / "budget_cumulative.csv")
    assert {"all_payers", "city_and_county_of_denver"} <= set(c["payer"]) and c["pays_back_here"].dtype == bool
    from openpyxl import load_workbook

    wb = load_workbook(tmp_path / "workbook.xlsx")
    assert {"Periods", "Cumulative", "Funding need", "Figures"} <= set(wb.sheetnames)
    assert len(wb["Figures"]._images) >= 8


def test_through_a_year_before_the_end_is_refused(tmp_path):
    res = CliRunner().invoke(main, ["budget", str(DEMO), "--through", "2020", "--out", str(tmp_path)])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "--through 2020" in res.stderr


def test_one_brief_holds_the_budget_and_the_cost_effectiveness_answers(runs, tmp_path):
    res = invoke("report", runs["six_budget"], "--combine", runs["six_cea"], "--out", tmp_path)
    assert "each answer states its own period" in res.output, "2023 budget beside a 2021 cea: said"
    brief = (tmp_path / "brief.html").read_text(encoding="utf-8")
    assert "per year of operation" in brief and "Cost-effectiveness" in brief
    assert "over 22 Jan 2019 to 31 Dec 2021" in brief, "the cea answer states its own period"
    cea = pd.read_csv(runs["six_cea"] / "cea.csv")
    values = cea.groupby("outcome")["wtp_usd"].first()
    assert values.nunique() > 1, "each outcome has its own willingness to pay"
    words = re.sub(r"<[^>]+>", "", brief)
    for v in values:
        assert f"at ${v:,.0f} each" in words
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="budget"' in report and 'id="cea"' in report


def test_combining_runs_of_other_assumptions_is_refused(runs, tmp_path):
    res = CliRunner().invoke(main, ["report", str(runs["through2021"]), "--combine", str(runs["six_cea"]),
                                    "--out", str(tmp_path)])
    assert res.exit_code == 2 and "not the same scenario" in res.output and "Traceback" not in res.output


# ---- 3. PSA figures -------------------------------------------------------------------------------------------

PSA_FIGURES = ("psa_plane", "psa_ceac", "psa_evpi", "psa_tornado", "psa_savings")


def _figures(html: str) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in
            re.findall(r'<figure id="fig-([^"]+)"><img src="data:image/png;base64,([^"]+)"', html)}


@pytest.mark.parametrize("with_tornado", [True, False])
def test_report_of_a_psa_folder_draws_every_psa_figure(runs, tmp_path, with_tornado):
    from openpyxl import load_workbook
    from PIL import Image

    args = ["--tornado", runs["tornado"]] if with_tornado else []
    invoke("report", runs["six_psa"], *args, "--out", tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    figs = _figures(html)
    for key in PSA_FIGURES:
        assert key in figs, f"{key} missing from the PSA report; found {sorted(figs)}"
        im = Image.open(io.BytesIO(figs[key]))
        assert im.format == "PNG" and im.width > 500
    assert ("Tornado chart: one parameter at a time" in html) == with_tornado
    assert ("What drives the cost difference" in html) != with_tornado
    assert "At each outcome's own willingness to pay" in html
    wb = load_workbook(tmp_path / "workbook.xlsx")
    assert {"PSA savings", "PSA CEAC", "PSA EVPI", "PSA figures"} <= set(wb.sheetnames)
    assert len(wb["PSA figures"]._images) == len(PSA_FIGURES)


def test_psa_figures_join_the_report_of_a_run(runs, tmp_path):
    invoke("report", runs["six_cea"], "--psa", runs["six_psa"], "--out", tmp_path)
    figs = _figures((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert set(PSA_FIGURES) <= set(figs) and "ce_plane" in figs
    assert "best in" in (tmp_path / "brief.html").read_text(encoding="utf-8"), "P(cost-effective) at own values"


# ---- 2. many arms on one printed page: Chromium through Playwright ----------------------------------------------


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        exe = None
    if not exe:
        if os.environ.get("CI"):
            pytest.fail("Chromium or Playwright is missing; .ci/run installs chromium and the test extras")
        pytest.skip("Chromium or Playwright is missing (apt-get install chromium; pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


PAPER_MM = {"A4": (210.0, 297.0), "Letter": (215.9, 279.4)}


def _print(browser, page: Path, paper: str, out: Path) -> tuple[int, str, str]:
    """Print ``page`` to PDF on ``paper``: (pages, text, the brief's type scale)."""
    from pypdf import PdfReader

    tab = browser.new_page()
    tab.goto(page.as_uri())
    zoom = tab.evaluate("document.body.getAttribute('data-zoom') || ''")
    tab.pdf(path=str(out), format=paper)
    tab.close()
    reader = PdfReader(out)
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages), zoom


def _overflowing(browser, page: Path, paper: str, margins_mm: float) -> list[str]:
    """Elements wider than the printed page's content box, laid out as for print on ``paper``."""
    width = PAPER_MM[paper][0] - margins_mm
    tab = browser.new_page(viewport={"width": int(width * 96 / 25.4), "height": 900})
    tab.emulate_media(media="print")
    tab.goto(page.as_uri())
    bad = tab.evaluate("""() => { const W = document.documentElement.clientWidth, out = [];
        for (const el of document.querySelectorAll('table, tr, td, th, figure, img, p, li, h1, h2, h3')) {
          const r = el.getBoundingClientRect();
          if (r.right > W + 1) out.push(el.tagName + ': ' + el.textContent.slice(0, 50)); }
        return out; }""")
    tab.close()
    return bad


def _money(x: float) -> str:
    """The brief's rounding: to the thousand from 10,000, the hundred from 1,000, else the ten."""
    step = 1000 if abs(x) >= 10000 else (100 if abs(x) >= 1000 else 10)
    v = round(x / step) * step
    return f"{'-' if v < 0 else '+' if v > 0 else ''}${abs(v):,.0f}"


def _clean(text: str) -> str:
    """PDF text as words: ligatures (the font's "ff") undone, minus signs as hyphens, white space single."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).replace("\u2212", "-"))


@pytest.fixture(scope="module")
def combined(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("combined")
    # the PSA (2019-2021, as the cea run) is attached to the cea run; the budget run projects to 2023
    invoke("report", runs["six_cea"], "--combine", runs["six_budget"], "--psa", runs["six_psa"], "--out", out)
    return out


@pytest.fixture(scope="module")
def alone(runs, tmp_path_factory) -> dict[str, Path]:
    """The six-arm budget and cea runs, each reported on its own."""
    out = {}
    for kind in ("six_budget", "six_cea"):
        out[kind] = tmp_path_factory.mktemp(kind)
        invoke("report", runs[kind], "--out", out[kind])
    return out


@pytest.mark.parametrize("paper", ["A4", "Letter"])
@pytest.mark.parametrize("kind", ["combined", "six_budget", "six_cea"])
def test_a_six_arm_brief_prints_on_one_page_with_every_number_whole(browser, runs, combined, alone, tmp_path, paper,
                                                                     kind):
    from lead_sim.report.brief import MIN_ZOOM

    folder = combined if kind == "combined" else alone[kind]
    periods = runs["six_budget"] if kind == "combined" else runs[kind]
    page = folder / "brief.html"
    pages, text, zoom = _print(browser, page, paper, tmp_path / f"brief-{paper}.pdf")
    assert pages == 1, f"the six-arm {kind} brief takes {pages} {paper} pages"
    assert zoom and float(zoom) >= MIN_ZOOM, zoom
    assert not _overflowing(browser, page, paper, 20.0)
    text = _clean(text)
    p = pd.read_csv(periods / "budget_periods.csv")
    prog = p[(p["kind"] == "program") & (p["group"] != "program_agencies") & (p["group"] != "other_agencies")]
    checked = 0
    for r in prog.itertuples():
        if r.group == "society":
            continue
        assert _money(r.difference_undiscounted_usd) in text, (r.arm, r.group, _money(r.difference_undiscounted_usd))
        checked += 1
    years = p[(p["kind"] == "calendar_year") & (p["group"] == "all_payers")]
    for r in years.itertuples():
        assert _money(r.difference_undiscounted_usd) in text, (r.arm, r.period)
    assert checked >= 5 * 5, checked
    for arm in ("LEAD pilot", "LEAD continued", "LEAD two managers", "LEAD weaker effect", "LEAD short pilot"):
        assert arm in text
    if kind != "six_budget":
        cea = pd.read_csv(runs["six_cea"] / "cea.csv")
        for r in cea.itertuples():
            assert f"NMB {_money(r.nmb_usd)}" in text, (r.arm, r.outcome)


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_the_printed_report_keeps_every_fiscal_year_and_arm(browser, combined, runs, tmp_path, paper):
    page = combined / "report.html"
    bad = _overflowing(browser, page, paper, 24.0)
    assert not bad, f"{len(bad)} elements wider than the {paper} page: {bad[:5]}"
    _, text, _ = _print(browser, page, paper, tmp_path / f"report-{paper}.pdf")
    text = _clean(text)
    d = pd.read_csv(runs["six_budget"] / "budget_by_payer_differences.csv")
    last = d["fiscal_year"].max()
    assert f"FY{last}" in text
    for r in d[(d["fiscal_year"] == last) & (d["difference_undiscounted_usd"].abs() >= 1)].itertuples():
        v = r.difference_undiscounted_usd
        assert f"{'+' if v > 0 else '-'}${abs(v):,.0f}" in text, (r.payer, r.arm, v)
