"""The viewer and the report in a real headless Chromium, opened from disk: filter, open a
trajectory, side by side, divergence summary, hostile model output, problems. Each test checks
what the page shows and that the console has no errors, and keeps a screenshot of each view
(build/test-artifacts/view/)."""

from __future__ import annotations

import pytest

from tests.factories import make_provenance, make_task, make_trajectories, make_trajectory
from tests.view.conftest import (
    EXPECTED_DIVERGENCE,
    HOSTILE_CODE,
    HOSTILE_QUESTION,
    console_errors,
    make_dataset,
    newer_schema_dataset,
    screenshot,
)
from trajkit.cli.report import write_report
from trajkit.evaluate import metrics
from trajkit.schema import Outcome, Trajectory
from trajkit.store import Dataset
from trajkit.view.site import write_view

pytestmark = pytest.mark.server


def _by():
    from selenium.webdriver.common.by import By

    return By


def _wait(browser, condition, timeout=60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(condition)


def _text(browser, css="body") -> str:
    return browser.find_element(_by().CSS_SELECTOR, css).text


def _open(browser, view, fragment=""):
    browser.get(view.url() + (f"#{fragment}" if fragment else ""))
    _wait(browser, lambda d: d.execute_script("return window.trajkitPerf && window.trajkitPerf.readyMs") is not None)


def _go(browser, fragment):
    browser.execute_script("location.hash = arguments[0]", fragment)


def _count(browser) -> str:
    return _text(browser, "#count")


@pytest.fixture
def view(tmp_path, teacher_student):
    return write_view(list(teacher_student), tmp_path / "view")


def test_filter_open_trajectory_and_side_by_side(browser, view, teacher_student):
    from selenium.webdriver.support.ui import Select

    by = _by()
    console_errors(browser)
    _open(browser, view)
    _wait(browser, lambda d: _count(d) == "11 trajectories")
    assert len(browser.find_elements(by.CSS_SELECTOR, "#rows tr")) == 11
    screenshot(browser, "list")

    browser.find_element(by.CSS_SELECTOR, "input[name=q]").send_keys("Velmora1")
    _wait(browser, lambda d: _count(d) == "2 of 11 trajectories match")
    Select(browser.find_element(by.CSS_SELECTOR, "select[name=outcome]")).select_by_value("wrong")
    _wait(browser, lambda d: _count(d) == "1 of 11 trajectories match")
    assert "q=Velmora1" in browser.current_url and "outcome=wrong" in browser.current_url  # the filters are linkable
    screenshot(browser, "list-filtered")

    browser.find_element(by.CSS_SELECTOR, "#rows td.question a").click()
    _wait(browser, lambda d: d.find_elements(by.CSS_SELECTOR, "article.trajectory"))
    page = _text(browser, "article.trajectory")
    assert "In which year was the city of Velmora1 founded, plus 1?" in page
    codes = [e.text for e in browser.find_elements(by.CSS_SELECTOR, "section.step pre.code")]
    assert "r = search('Velmora1')" in codes[0]
    assert "execution error" in page and "name 'r2' is not defined" in page  # the typed error of step 1
    assert "Velmora1" in page and "score 0.90" in page  # the search call and its retrieved title
    student = Dataset.open(teacher_student[1])
    [wrong] = [t for t in student.trajectories() if t.task.task_id == "synthetic:1"]
    command = _text(browser, "code.command")
    assert command == f"trajkit show {teacher_student[1]} {wrong.trajectory_id}"
    assert "gold answer" in page.lower() and "1802" in page and "1799" in page  # gold beside the final answer
    screenshot(browser, "trajectory")

    browser.find_element(by.CSS_SELECTOR, "a.compare-link").click()
    _wait(browser, lambda d: d.find_elements(by.CSS_SELECTOR, ".divergence-mark"))
    assert _text(browser, ".divergence-mark") == "▼ first divergence at step 1 — B: execution error"
    assert "first leaves A's path at step 1" in _text(browser, ".divergence-summary")
    assert len(browser.find_elements(by.CSS_SELECTOR, ".sbs-cell.diverged")) == 2
    screenshot(browser, "side-by-side")
    assert console_errors(browser) == []


def test_side_by_side_agrees_with_python(browser, view, teacher_student):
    by = _by()
    teacher = {t.task.task_id: t.trajectory_id for t in Dataset.open(teacher_student[0]).trajectories()}
    students = sorted(Dataset.open(teacher_student[1]).trajectories(), key=lambda t: t.task.task_id)
    console_errors(browser)
    _open(browser, view)
    for i, student in enumerate(students):
        _go(browser, f"view=compare&a={teacher[student.task.task_id]}&b={student.trajectory_id}")
        _wait(browser, lambda d, s=student: s.trajectory_id in d.current_url and d.find_elements(by.CSS_SELECTOR, ".divergence-summary"))
        expected = EXPECTED_DIVERGENCE[i]
        marks = browser.find_elements(by.CSS_SELECTOR, ".divergence-mark")
        if expected is None:
            assert not marks and "never leaves" in _text(browser, ".divergence-summary")
        else:
            reason = {"execution_error": "execution error", "different_action": "different action",
                      "answered": "answered differently"}[expected[1]]
            assert [m.text for m in marks] == [f"▼ first divergence at step {expected[0]} — B: {reason}"]
    assert console_errors(browser) == []


def test_divergence_summary(browser, view):
    by = _by()
    console_errors(browser)
    _open(browser, view, "view=divergence")
    _wait(browser, lambda d: d.find_elements(by.CSS_SELECTOR, "table.divergence"))
    headline = _text(browser, "p.headline")
    assert headline.startswith("4 trajectories of student on 4 tasks that teacher solved (1 correct). 1 never leave A's path")
    table = _text(browser, "table.divergence")
    assert "step 0" in table and "step 1" in table and "execution error" in table
    screenshot(browser, "divergence")
    rows = browser.find_elements(by.CSS_SELECTOR, "table.divergence tbody tr")
    rows[1].find_elements(by.CSS_SELECTOR, "td a")[-1].click()  # every first divergence at step 1
    _wait(browser, lambda d: d.find_elements(by.CSS_SELECTOR, "table.items"))
    assert len(browser.find_elements(by.CSS_SELECTOR, "table.items tbody tr")) == 2
    assert console_errors(browser) == []


def test_model_output_is_shown_as_text(browser, view, teacher_student):
    by = _by()
    hostile = next(t for t in Dataset.open(teacher_student[0]).trajectories() if t.task.task_id == "hostile:1")
    console_errors(browser)
    _open(browser, view)
    browser.find_element(by.CSS_SELECTOR, "input[name=q]").send_keys("<script>")
    _wait(browser, lambda d: _count(d) == "1 of 11 trajectories match")
    assert HOSTILE_QUESTION in _text(browser, "#rows")
    _go(browser, f"view=traj&id={hostile.trajectory_id}")
    _wait(browser, lambda d: d.find_elements(by.CSS_SELECTOR, "article.trajectory"))
    page = _text(browser, "#app")
    assert HOSTILE_QUESTION in page
    code = browser.find_element(by.CSS_SELECTOR, "section.step pre.code").text
    assert '<script>window.__pwned=2</script>' in code and '<img src=x onerror="window.__pwned=3">' in code
    for text in ("<b>bold</b><img src=x onerror=window.__pwned=4>", "<script>window.__pwned=7</script>",
                 "<img src=x onerror=window.__pwned=6>", '<iframe src="javascript:window.__pwned=5"></iframe>',
                 "<script>alert(1)</script>", "<b>42</b>"):
        assert text in page, text
    assert HOSTILE_CODE.splitlines()[0] in code
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script("return document.querySelectorAll('#app script, #app img, #app iframe, #app b').length") == 0
    screenshot(browser, "hostile-output")
    assert console_errors(browser) == []


def test_sag_candidates_with_verdicts_and_votes(browser, tmp_path, sag_pair):
    by = _by()
    view = write_view(list(sag_pair), tmp_path / "sag-view")
    fixed = next(t for t in Dataset.open(sag_pair[1]).trajectories() if t.task.task_id == "synthetic:1")
    console_errors(browser)
    _open(browser, view, f"view=traj&id={fixed.trajectory_id}")
    _wait(browser, lambda d: d.find_elements(by.CSS_SELECTOR, "details.candidates"))
    summary = _text(browser, "details.candidates summary")
    assert summary == "4 candidates (self-consistent action generation): #1 chosen with 2 of 3 votes"
    table = _text(browser, "table.cands")  # step 0
    for verdict in ("selected", "parse failed", "outvoted"):
        assert verdict in table
    assert "printed a" in table and "printed 1" in table  # what each candidate voted with
    last = browser.find_elements(by.CSS_SELECTOR, "table.cands")[-1].text  # the answering step
    assert "answer 1802" in last
    screenshot(browser, "candidates")
    assert console_errors(browser) == []


def test_sorting_and_pages(browser, tmp_path):
    by = _by()
    many = make_trajectories(120, seed=3)
    view = write_view([make_dataset(tmp_path / "many", many)], tmp_path / "many-view")
    console_errors(browser)
    _open(browser, view)
    _wait(browser, lambda d: _count(d) == "120 trajectories")
    assert len(browser.find_elements(by.CSS_SELECTOR, "#rows tr")) == 50
    assert "rows 1–50 · page 1 of 3" in _text(browser, ".pager")
    browser.find_element(by.CSS_SELECTOR, "button.sort[data-key=steps]").click()
    _wait(browser, lambda d: "sort=steps" in d.current_url)
    steps = [int(r.find_elements(by.CSS_SELECTOR, "td")[6].text) for r in browser.find_elements(by.CSS_SELECTOR, "#rows tr")]
    assert steps == sorted(steps, reverse=True) and steps[0] == max(len(t.steps) for t in many)
    [next_page] = [b for b in browser.find_elements(by.CSS_SELECTOR, ".pager button") if b.text == "next ›"]
    next_page.click()
    _wait(browser, lambda d: "rows 51–100 · page 2 of 3" in _text(d, ".pager"))
    browser.find_element(by.CSS_SELECTOR, "input[name=smin]").send_keys("5")
    expected = sum(len(t.steps) >= 5 for t in many)
    _wait(browser, lambda d: _count(d) == f"{expected} of 120 trajectories match")
    assert console_errors(browser) == []


def test_problems_are_messages_not_a_blank_page(browser, tmp_path):
    good = make_dataset(tmp_path / "good", [make_trajectory(0)])
    empty = make_dataset(tmp_path / "empty", [])
    newer = newer_schema_dataset(tmp_path / "newer")
    view = write_view([good, empty, newer], tmp_path / "v1")
    console_errors(browser)
    _open(browser, view)
    problems = _text(browser, "#problems")
    assert "empty: the dataset is empty (no trajectories)" in problems
    assert "written with trajkit schema v2" in problems and "upgrade trajkit" in problems
    assert _count(browser) == "1 trajectory"
    screenshot(browser, "problems")
    assert console_errors(browser) == []

    only_empty = write_view([empty], tmp_path / "v2")
    _open(browser, only_empty)
    assert "No trajectories to show" in _text(browser, "#app") and "Every dataset given is empty" in _text(browser, "#app")

    bare = make_dataset(tmp_path / "bare", [make_trajectory(4, n_steps=1, correct=None)])
    bare_traj = next(Dataset.open(bare).trajectories())
    bare_view = write_view([bare], tmp_path / "v3")
    (bare_view.path / "data" / "detail-00000.js").unlink()
    _open(browser, bare_view, f"view=traj&id={bare_traj.trajectory_id}")
    _wait(browser, lambda d: "Could not load data/detail-00000.js" in _text(d, "#app"))

    (bare_view.path / "data" / "index.js").unlink()
    browser.get(bare_view.url())
    _wait(browser, lambda d: "The page data (data/index.js) is missing" in _text(d, "#app"))
    console_errors(browser)  # the two missing files are logged by the browser itself


def test_trajectory_without_steps_or_grades(browser, tmp_path):
    by = _by()
    bare = Trajectory.new(task=make_task(9).model_copy(update={"gold_answer": None}), provenance=make_provenance(),
                          outcome=Outcome(status="max_steps"), steps=[])
    view = write_view([make_dataset(tmp_path / "bare", [bare])], tmp_path / "v")
    console_errors(browser)
    _open(browser, view, f"view=traj&id={bare.trajectory_id}")
    _wait(browser, lambda d: d.find_elements(by.CSS_SELECTOR, "article.trajectory"))
    page = _text(browser, "#app")
    assert "This trajectory has no steps recorded." in page and "ungraded" in page and "max steps" in page
    assert console_errors(browser) == []


def test_report_page_drills_down_into_the_viewer(browser, tmp_path, sag_pair):
    by = _by()
    runs = [str(p) for p in sag_pair]
    paths = write_report(metrics(runs), tmp_path / "rep", runs=runs)
    console_errors(browser)
    browser.get(paths["html"].resolve().as_uri())
    page = _text(browser, "main")
    assert "Accuracy per benchmark" in page and "[0.15, 0.85]" in page and "1 task fixed by voting" in page
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= browser.execute_script("return window.innerWidth")  # the tables fit the page
    screenshot(browser, "report")
    link = browser.find_element(by.CSS_SELECTOR, "table.tasks td a.fixed, table.tasks td a.broken")
    link.click()
    _wait(browser, lambda d: d.find_elements(by.CSS_SELECTOR, "article.trajectory"))
    assert "In which year was the city of Velmora" in _text(browser, "article.trajectory")
    assert console_errors(browser) == []
