"""Benchmark: `trajkit view` on 100,000 trajectories, in headless Chromium.

    python bench/view.py [--rows 100000] [--baseline 1000]

Two runs over the same tasks (a "teacher" and a "student" dataset, rows/2 trajectories each,
~5 steps per trajectory, from bench/synthetic_rows.py) are written into a view; the page is
loaded from disk in headless Chromium and driven through its own controls. Printed, for the
full size and for the named baseline (the same page over `--baseline` trajectories, measured in
this same run), and their ratio:

- write: seconds to write the view folder (Python), and the size of the data the page loads
  at start (data/index.js);
- load: time from navigation start until the table is on screen (the page's own
  `performance.now()`), and the JS heap after loading;
- each filter: main-thread time of one filter change (compile + filter + sort + render of one
  page of rows; the page cannot respond during it), measured by the page, after the input's
  debounce; and the wall time from the keystroke until the new count shows;
- opening one trajectory, the side-by-side view and the divergence summary.

The data is generated once into bench/_data/view-<rows> and reused.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def ensure_data(rows: int) -> list[Path]:
    """Two datasets (teacher, student) of rows/2 trajectories over the same tasks."""
    import pyarrow.compute as pc
    from synthetic_rows import synthetic_table

    from trajkit.store import Dataset

    root = BENCH / "_data" / f"view-{rows}"
    paths = [root / "teacher", root / "student"]
    if all((p / "trajkit.json").is_file() for p in paths):
        return paths
    shutil.rmtree(root, ignore_errors=True)
    half = rows // 2
    for seed, path in enumerate(paths):
        table = synthetic_table(half, seed=seed)
        if seed:  # the same tasks, other trajectories
            ids = pc.binary_join_element_wise("student-", table.column("trajectory_id"), "")
            table = table.set_column(table.schema.get_field_index("trajectory_id"), "trajectory_id", ids)
        dataset = Dataset.create(path, name=path.name)
        for start in range(0, half, 50_000):
            dataset.append(table.slice(start, 50_000).combine_chunks().cast(table.schema))
    return paths


def write(paths: list[Path], out: Path) -> tuple[float, int]:
    from trajkit.view.site import write_view

    start = time.perf_counter()
    write_view(paths, out)
    return time.perf_counter() - start, (out / "data" / "index.js").stat().st_size


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='trajkit-bench-chromium-')}",
                 "--window-size=1400,1000", "--enable-precise-memory-info"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(600)
    driver.set_script_timeout(600)
    return driver


def wait(driver, condition, timeout=600):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.01).until(condition)


def perf(driver, key):
    return driver.execute_script(f"return window.trajkitPerf && window.trajkitPerf.{key}")


def measure(driver, view: Path) -> dict[str, float]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    out: dict[str, float] = {}
    driver.get((view / "index.html").resolve().as_uri())
    wait(driver, lambda d: perf(d, "readyMs") is not None)
    out["load: navigation to table on screen (ms)"] = perf(driver, "readyMs")
    out["load: JS heap after loading (MB)"] = driver.execute_script(
        "return performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null") or 0.0

    def change(label, act):
        runs = perf(driver, "filterRuns")
        count = driver.find_element(By.ID, "count").text
        start = time.perf_counter()
        act()
        wait(driver, lambda d: perf(d, "filterRuns") > runs)
        wall = (time.perf_counter() - start) * 1000
        out[f"filter {label}: main-thread (ms)"] = perf(driver, "filterMs")
        out[f"filter {label}: keystroke to new count (ms)"] = wall
        return count

    search = driver.find_element(By.CSS_SELECTOR, "input[name=q]")
    change("text search over questions + code", lambda: search.send_keys("entity 4242"))
    change("clear the search", lambda: (search.clear(), search.send_keys(" ")))
    change("outcome = wrong", lambda: Select(driver.find_element(By.CSS_SELECTOR, "select[name=outcome]")).select_by_value("wrong"))
    change("error type = parse error", lambda: Select(driver.find_element(By.CSS_SELECTOR, "select[name=error]")).select_by_value("parse_error"))
    change("steps >= 5", lambda: driver.find_element(By.CSS_SELECTOR, "input[name=smin]").send_keys("5"))
    change("sort by tokens (first sort)", lambda: driver.find_element(By.CSS_SELECTOR, "button.sort[data-key=tokens]").click())
    change("sort by question (first sort)", lambda: driver.find_element(By.CSS_SELECTOR, "button.sort[data-key=question]").click())
    out["matched by the last filter"] = perf(driver, "matched")

    first = driver.find_element(By.CSS_SELECTOR, "#rows td.question a")
    first.click()
    wait(driver, lambda d: perf(d, "trajectoryMs") is not None)
    out["open one trajectory (ms)"] = perf(driver, "trajectoryMs")
    compare = driver.find_elements(By.CSS_SELECTOR, "a.compare-link")
    if compare:
        compare[0].click()
        wait(driver, lambda d: perf(d, "compareMs") is not None)
        out["side by side (ms)"] = perf(driver, "compareMs")
    driver.execute_script("location.hash = 'view=divergence'")
    wait(driver, lambda d: perf(d, "divergenceMs") is not None)
    out["divergence summary (ms)"] = perf(driver, "divergenceMs")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    args = parser.parse_args()

    results = {}
    work = Path(tempfile.mkdtemp(prefix="trajkit-bench-view-"))
    driver = browser()
    try:
        for label, rows in (("baseline", args.baseline), ("full", args.rows)):
            paths = ensure_data(rows)
            seconds, size = write(paths, work / label)
            numbers = {"write: view folder (s)": seconds, "write: data/index.js (MB)": size / 1e6}
            numbers.update(measure(driver, work / label))
            results[label] = numbers
    finally:
        driver.quit()
        shutil.rmtree(work, ignore_errors=True)

    base, full = results["baseline"], results["full"]
    print(f"trajkit view: {args.rows:,} trajectories vs the baseline of {args.baseline:,} (same run, headless Chromium)")
    width = max(len(k) for k in full)
    print(f"{'':{width}}  {'baseline':>10}  {'full':>10}  {'ratio':>7}")
    for key in full:
        b, f = base.get(key), full[key]
        ratio = f"{f / b:7.1f}" if b else "      —"
        print(f"{key:{width}}  {b if b is not None else float('nan'):10.1f}  {f:10.1f}  {ratio}")


if __name__ == "__main__":
    main()
