"""Evaluation reports: a comparison table (terminal), Markdown for READMEs, and an HTML page.

The HTML page (`report.html`) is self-contained (inline CSS and SVG, no script, no network):
accuracy per benchmark with its 95% confidence interval (Wilson) and n, answer and error rates,
step errors by type, SAG's effect (the tasks that voting fixed and broke, for each pair of runs
of the same model with and without SAG), and a per-task table whose cells open the trajectory
in the viewer written next to it (`viewer/`, see `trajkit.view`).

Model output is untrusted: everything taken from the runs is HTML-escaped.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from trajkit.stats import mcnemar_exact, wilson_interval

TABLE_COLUMNS = [
    "run", "benchmark", "sag_n", "trajectories", "accuracy", "answered_rate",
    "parse_error_rate", "exec_error_rate", "mean_steps", "searches_per_traj", "mean_tokens",
]
VIEWER = "viewer/index.html"
MAX_TASK_ROWS = 2000  # per benchmark in the per-task table


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render_markdown(metrics: dict[str, list[dict]], title: str) -> str:
    per = metrics["per_benchmark"]
    overall = metrics["overall"]
    return "\n\n".join(
        [
            f"# {title}",
            "## Accuracy per benchmark",
            markdown_table(per, TABLE_COLUMNS),
            "## Overall",
            markdown_table(overall, ["run", "model", "trajectories", "accuracy", "answered_rate", "mean_steps", "mean_tokens"]),
            "Accuracy counts an unanswered trajectory as wrong. Error rates are per step. "
            "`sag_n` is the number of candidate actions per step (1 = greedy).",
        ]
    ) + "\n"


# ----------------------------------------------------------------------------- statistics


RUNS_SQL = """
SELECT dataset AS run, any_value(model) AS model, string_agg(DISTINCT kind, ', ') AS kind,
       max(provenance.sag_n) AS sag_n, count(*) AS n
FROM trajectories GROUP BY dataset ORDER BY run
"""
COUNTS_SQL = """
SELECT dataset AS run, source AS benchmark, count(*) AS n, count(*) FILTER (WHERE correct) AS k,
       count(*) FILTER (WHERE correct IS NOT NULL) AS graded
FROM trajectories GROUP BY ALL
"""
ERRORS_SQL = """
SELECT dataset AS run, coalesce(error_type, '') AS error_type, count(*) AS n FROM steps GROUP BY ALL
"""
TASKS_SQL = """
SELECT dataset AS run, source AS benchmark, task_id, any_value(question) AS question,
       any_value(gold_answer) AS gold,
       list(trajectory_id ORDER BY sample_index) AS ids,
       list(correct ORDER BY sample_index) AS correct,
       list(final_answer ORDER BY sample_index) AS answers
FROM trajectories GROUP BY ALL
"""


def report_details(runs: list[str | Path]) -> dict:
    """What the HTML report needs beyond `trajkit.evaluate.metrics`: counts for the intervals,
    step errors by type, every task's outcome in every run, and SAG's effect."""
    from trajkit.query import connect, run
    from trajkit.store import Dataset
    from trajkit.view.pagedata import labels

    con = connect(runs)
    try:
        info = run(con, RUNS_SQL).to_pylist()
        counts = run(con, COUNTS_SQL).to_pylist()
        errors = run(con, ERRORS_SQL).to_pylist()
        tasks = run(con, TASKS_SQL).to_pylist()
    finally:
        con.close()
    names = [Dataset.open(r).name for r in runs]
    view_label = dict(zip(names, labels(runs), strict=True))
    for row in info:
        row["label"] = view_label.get(row["run"], row["run"])
        row["path"] = str(runs[names.index(row["run"])]) if row["run"] in names else ""
    return {
        "runs": info,
        "counts": {(c["run"], c["benchmark"]): c for c in counts},
        "errors": errors,
        "tasks": tasks,
        "sag": sag_effect(info, tasks),
        "order": names,
    }


def _solved(correct: list) -> bool | None:
    graded = [c for c in correct if c is not None]
    if not graded:
        return None
    return sum(bool(c) for c in graded) * 2 >= len(graded)


def sag_effect(runs: list[dict], tasks: list[dict]) -> list[dict]:
    """For each pair (greedy run, SAG run) of the same model: per benchmark, the tasks voting
    fixed (greedy wrong, SAG right) and broke (greedy right, SAG wrong). A task counts as solved
    by a run when most of its graded samples are correct."""
    by_run: dict[str, dict[tuple[str, str], dict]] = {}
    for row in tasks:
        by_run.setdefault(row["run"], {})[(row["benchmark"], row["task_id"])] = row
    pairs = []
    for greedy in runs:
        if (greedy["sag_n"] or 1) != 1:
            continue
        for voted in runs:
            if (voted["sag_n"] or 1) <= 1 or voted["model"] != greedy["model"]:
                continue
            g_tasks, v_tasks = by_run.get(greedy["run"], {}), by_run.get(voted["run"], {})
            benchmarks: dict[str, dict] = {}
            for key in sorted(set(g_tasks) & set(v_tasks)):
                g, v = _solved(g_tasks[key]["correct"]), _solved(v_tasks[key]["correct"])
                entry = benchmarks.setdefault(key[0], {"benchmark": key[0], "tasks": 0, "both": 0, "neither": 0,
                                                       "fixed": [], "broken": []})
                if g is None or v is None:
                    continue
                entry["tasks"] += 1
                if g and v:
                    entry["both"] += 1
                elif not g and not v:
                    entry["neither"] += 1
                else:
                    item = {"task_id": key[1], "question": v_tasks[key]["question"],
                            "greedy": g_tasks[key]["ids"][0], "sag": v_tasks[key]["ids"][0]}
                    entry["fixed" if v else "broken"].append(item)
            if benchmarks:
                pairs.append({"greedy": greedy["run"], "sag": voted["run"], "sag_n": voted["sag_n"],
                              "model": greedy["model"], "benchmarks": list(benchmarks.values())})
    return pairs


# ----------------------------------------------------------------------------- HTML


def _e(value) -> str:
    return html.escape("—" if value is None else str(value), quote=True)


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _link(fragment: dict, text: str, viewer: str | None, css: str = "") -> str:
    if viewer is None:
        return _e(text)
    cls = f' class="{css}"' if css else ""
    return f'<a{cls} href="{_e(viewer + "#" + urlencode(fragment))}">{_e(text)}</a>'


def _ci_bar(accuracy: float | None, interval: tuple[float, float] | None) -> str:
    """A small inline SVG: the accuracy as a bar, the interval as a whisker."""
    width, height = 120, 14
    if accuracy is None:
        return ""
    bar = max(0.0, min(1.0, accuracy)) * width
    parts = [f'<svg class="bar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="accuracy {accuracy:.3f}">',
             f'<rect x="0" y="3" width="{width}" height="8" fill="#eef1f5"/>',
             f'<rect x="0" y="3" width="{bar:.1f}" height="8" fill="#2457c5"/>']
    if interval:
        lo, hi = interval[0] * width, interval[1] * width
        parts += [f'<line x1="{lo:.1f}" x2="{hi:.1f}" y1="7" y2="7" stroke="#1d2430" stroke-width="1.5"/>',
                  f'<line x1="{lo:.1f}" x2="{lo:.1f}" y1="2" y2="12" stroke="#1d2430" stroke-width="1.5"/>',
                  f'<line x1="{hi:.1f}" x2="{hi:.1f}" y1="2" y2="12" stroke="#1d2430" stroke-width="1.5"/>']
    parts.append("</svg>")
    return "".join(parts)


def _stylesheet() -> str:
    from importlib import resources

    return (resources.files("trajkit.view") / "static" / "viewer.css").read_text(encoding="utf-8")


def _accuracy_table(metrics: dict, details: dict | None) -> str:
    head = ("<tr><th class='text'>run</th><th class='text'>benchmark</th><th>SAG n</th><th>n</th>"
            "<th class='text'>accuracy (95% CI)</th><th>answered</th><th>parse errors / step</th>"
            "<th>execution errors / step</th><th>steps</th><th>searches</th><th>tokens</th></tr>")
    rows = []
    for row in metrics["per_benchmark"]:
        count = (details or {}).get("counts", {}).get((row["run"], row["benchmark"]))
        n = count["n"] if count else row.get("trajectories")
        interval = wilson_interval(count["k"], count["n"]) if count else None
        ci = f"<span class='ci'>[{interval[0]:.2f}, {interval[1]:.2f}]</span>" if interval else ""
        model = f"<br><small class='muted'>{_e(row.get('model'))}</small>" if row.get("model") else ""
        rows.append(
            f"<tr><td class='text run'>{_e(row['run'])}{model}</td><td class='text'>{_e(row['benchmark'])}</td>"
            f"<td>{_e(row.get('sag_n'))}</td><td>{_num(n)}</td>"
            f"<td class='text'>{_ci_bar(row.get('accuracy'), interval)} <strong>{_pct(row.get('accuracy'))}</strong> {ci}</td>"
            f"<td>{_pct(row.get('answered_rate'))}</td><td>{_pct(row.get('parse_error_rate'))}</td>"
            f"<td>{_pct(row.get('exec_error_rate'))}</td><td>{_num(row.get('mean_steps'))}</td>"
            f"<td>{_num(row.get('searches_per_traj'))}</td><td>{_num(row.get('mean_tokens'), 0)}</td></tr>"
        )
    return f"<div class='table-wrap'><table class='metrics'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"


def _errors_table(details: dict) -> str:
    totals: dict[str, int] = {}
    by: dict[tuple[str, str], int] = {}
    for row in details["errors"]:
        totals[row["run"]] = totals.get(row["run"], 0) + row["n"]
        if row["error_type"]:
            by[(row["run"], row["error_type"])] = row["n"]
    types = sorted({t for _, t in by}, key=lambda t: -sum(n for (_, tt), n in by.items() if tt == t))
    if not types:
        return "<p>No step recorded an error.</p>"
    head = "<tr><th class='text'>run</th><th>steps</th>" + "".join(f"<th>{_e(t.replace('_', ' '))}</th>" for t in types) + "</tr>"
    rows = []
    for run in details["order"]:
        steps = totals.get(run, 0)
        cells = []
        for t in types:
            n = by.get((run, t), 0)
            cells.append(f"<td>{_num(n)} <span class='ci'>{_pct(n / steps) if steps else ''}</span></td>" if n else "<td class='muted'>·</td>")
        rows.append(f"<tr><td class='text run'>{_e(run)}</td><td>{_num(steps)}</td>{''.join(cells)}</tr>")
    return f"<div class='table-wrap'><table class='metrics'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"


def _sag_section(metrics: dict, details: dict, viewer: str | None) -> str:
    pairs = details["sag"]
    label = {r["run"]: r["label"] for r in details["runs"]}
    if not pairs:
        return ("<p>No pair of runs of the same model with and without SAG (sag_n = 1 and sag_n &gt; 1): "
                "evaluate the model both ways (<code>--candidates 1</code> and <code>--candidates N</code>) to see which tasks voting fixes.</p>")
    per = {(r["run"], r["benchmark"]): r for r in metrics["per_benchmark"]}
    cards = []
    for pair in pairs:
        for bench in pair["benchmarks"]:
            fixed, broken = bench["fixed"], bench["broken"]
            row = per.get((pair["sag"], bench["benchmark"]), {})
            agree = row.get("first_candidate_agrees")
            failed = row.get("first_candidate_error_rate")
            step_note = ""
            if agree is not None:
                step_note = (f"<p class='small muted'>Per step, the vote kept candidate #0 at {_pct(agree)} of steps; "
                             f"candidate #0 failed to parse or run at {_pct(failed)}.</p>")
            lists = []
            for name, items, css in (("fixed", fixed, "fixed"), ("broken", broken, "broken")):
                if not items:
                    continue
                links = "".join(
                    f"<li>{_e(_short(i['question'], 110))} — "
                    + _link({"view": "compare", "a": i["greedy"], "da": label.get(pair["greedy"]), "b": i["sag"],
                             "db": label.get(pair["sag"])}, "greedy vs SAG side by side", viewer)
                    + "</li>" for i in items[:200]
                )
                more = f"<li class='muted'>{len(items) - 200} more</li>" if len(items) > 200 else ""
                noun = "task" if len(items) == 1 else "tasks"
                lists.append(f"<details{' open' if len(items) <= 10 else ''}><summary class='{css}'>{len(items)} {noun} {name} by voting</summary><ul>{links}{more}</ul></details>")
            net = len(fixed) - len(broken)
            p_value = mcnemar_exact(len(fixed), len(broken))
            cards.append(
                f"<div class='card'><h3>{_e(pair['greedy'])} → {_e(pair['sag'])} <small class='muted'>"
                f"{_e(bench['benchmark'])} · SAG n={_e(pair['sag_n'])}</small></h3>"
                f"<div><span class='big fixed'>+{len(fixed)}</span> fixed · <span class='big broken'>−{len(broken)}</span> broken · "
                f"net <strong>{net:+d}</strong> of {bench['tasks']} tasks "
                f"<span class='muted'>({bench['both']} solved by both, {bench['neither']} by neither; "
                f"exact McNemar p = {p_value:.3g})</span></div>"
                f"{step_note}{''.join(lists)}</div>"
            )
    return f"<div class='cards'>{''.join(cards)}</div>"


def _short(text, n: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _tasks_section(details: dict, viewer: str | None) -> str:
    runs = details["order"]
    by_bench: dict[str, dict[str, dict]] = {}
    home: dict[str, str] = {}  # a task is listed once, under the benchmark name its first run gave it
    for row in sorted(details["tasks"], key=lambda r: runs.index(r["run"]) if r["run"] in runs else len(runs)):
        bench = home.setdefault(row["task_id"], row["benchmark"])
        by_bench.setdefault(bench, {}).setdefault(row["task_id"], {})[row["run"]] = row
    label = {r["run"]: r["label"] for r in details["runs"]}
    out = []
    for bench in sorted(by_bench):
        tasks = by_bench[bench]
        present = [r for r in runs if any(r in t for t in tasks.values())]

        def disagreement(item):
            solved = {_solved(row["correct"]) for row in item[1].values()}
            return (0 if len(solved) > 1 else 1, item[0])

        ordered = sorted(tasks.items(), key=disagreement)
        head = ("<tr><th class='text'>task</th><th class='text'>gold</th>"
                + "".join(f"<th>{_e(r)}</th>" for r in present) + "<th></th></tr>")
        rows = []
        for task_id, cells in ordered[:MAX_TASK_ROWS]:
            first = next(iter(cells.values()))
            tds = []
            for r in present:
                row = cells.get(r)
                if row is None:
                    tds.append("<td class='muted'></td>")
                    continue
                graded = [c for c in row["correct"] if c is not None]
                if len(row["ids"]) == 1:
                    mark = "✓" if row["correct"][0] else "·" if row["correct"][0] is None else "✗"
                    css = "fixed" if row["correct"][0] else "muted" if row["correct"][0] is None else "broken"
                    answer = _short(row["answers"][0], 40) if row["answers"][0] is not None else "no answer"
                    tds.append(f"<td title='{_e(answer)}'>" + _link({"view": "traj", "id": row["ids"][0], "ds": label.get(r, r)}, mark, viewer, css) + "</td>")
                else:
                    text = f"{sum(bool(c) for c in graded)}/{len(row['ids'])}"
                    tds.append("<td>" + _link({"view": "list", "task": task_id, "ds": label.get(r, r)}, text, viewer) + "</td>")
            compare = _link({"view": "compare", "task": task_id}, "side by side", viewer) if len(cells) > 1 or any(len(c["ids"]) > 1 for c in cells.values()) else ""
            rows.append(f"<tr><td class='text q'>{_link({'view': 'list', 'task': task_id}, _short(first['question'], 160), viewer)}</td>"
                        f"<td class='text'>{_e(_short(first['gold'], 40))}</td>{''.join(tds)}<td>{compare}</td></tr>")
        more = f"<p class='note'>The first {MAX_TASK_ROWS} of {len(tasks)} tasks are listed; the viewer has all of them.</p>" if len(tasks) > MAX_TASK_ROWS else ""
        out.append(f"<details open><summary><strong>{_e(bench)}</strong> — {len(tasks)} tasks (those where the runs disagree first)</summary>"
                   f"<div class='table-wrap'><table class='tasks'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>{more}</details>")
    return "".join(out)


def render_html(metrics: dict[str, list[dict]], title: str, details: dict | None = None, viewer: str | None = VIEWER) -> str:
    """The report page; `details` (from `report_details`) adds intervals, errors, SAG and tasks."""
    if details is None:
        viewer = None
    runs_note = ""
    sections = [f"<h2>Accuracy per benchmark</h2>{_accuracy_table(metrics, details)}"]
    if details is not None:
        run_rows = "".join(
            f"<tr><td class='text run'>{_e(r['run'])}</td><td class='text'>{_e(r['model'])}</td><td class='text'>{_e(r['kind'])}</td>"
            f"<td>{_e(r['sag_n'])}</td><td>{_num(r['n'])}</td><td class='text'><code>{_e(r['path'])}</code></td>"
            f"<td class='text'>{_link({'view': 'list', 'ds': r['label']}, 'trajectories', viewer)}</td></tr>"
            for r in details["runs"]
        )
        runs_note = (f"<h2>Runs</h2><div class='table-wrap'><table class='metrics'><thead><tr><th class='text'>run</th>"
                     f"<th class='text'>model</th><th class='text'>kind</th><th>SAG n</th><th>trajectories</th><th class='text'>path</th>"
                     f"<th class='text'>viewer</th></tr></thead><tbody>{run_rows}</tbody></table></div>")
        sections += [
            f"<h2>Step errors by type</h2>{_errors_table(details)}",
            f"<h2>SAG: tasks fixed and broken by voting</h2>{_sag_section(metrics, details, viewer)}",
            f"<h2>Per task</h2><p class='note'>✓ correct, ✗ wrong, · ungraded; a cell opens that trajectory in the viewer, "
            f"“side by side” opens the task's runs aligned step by step.</p>{_tasks_section(details, viewer)}",
        ]
    else:
        sections.append("<p class='note'>Per-task drill-down needs the runs: <code>trajkit eval report RUN... --out DIR</code>.</p>")
    viewer_link = f"<nav><a href='{_e(viewer)}'>open the trajectory viewer</a></nav>" if viewer else ""
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    n_runs = len(metrics["overall"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><link rel="icon" href="data:,">
<style>{_stylesheet()}</style></head>
<body><header class="top"><span class="brand">trajkit evaluation report</span>{viewer_link}</header>
<main class="report">
<h1>{_e(title)}</h1>
<p class="lead">{n_runs} run{'s' if n_runs != 1 else ''} · written {generated}</p>
{runs_note}
{''.join(sections)}
<p class="note">Accuracy counts an unanswered trajectory as wrong; the interval is the 95% Wilson score interval over the
trajectories of the benchmark (n). Error rates are per step. SAG n is the number of candidate actions per step
(1 = greedy); a task is solved by a run when most of its samples are correct.</p>
</main></body></html>
"""


def write_report(
    metrics: dict[str, list[dict]],
    out_dir: str | Path,
    title: str = "trajkit evaluation",
    runs: list[str | Path] | None = None,
) -> dict[str, Path]:
    """Write report.md and report.html into `out_dir`; with `runs`, also the viewer the HTML
    report drills down into (`out_dir/viewer/`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "report.md", "html": out / "report.html"}
    details = None
    if runs:
        from trajkit.view.site import write_view

        details = report_details(runs)
        view = write_view([str(r) for r in runs], out / "viewer")
        paths["viewer"] = view.index_html
    paths["markdown"].write_text(render_markdown(metrics, title), encoding="utf-8")
    paths["html"].write_text(render_html(metrics, title, details), encoding="utf-8")
    return paths
