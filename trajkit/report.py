"""Evaluation reports: a comparison table (terminal), Markdown, and an HTML page with charts."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

TABLE_COLUMNS = [
    "run", "benchmark", "sag_n", "trajectories", "accuracy", "answered_rate",
    "parse_error_rate", "exec_error_rate", "mean_steps", "searches_per_traj", "mean_tokens",
]


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


def _chart_png(metrics: dict[str, list[dict]]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = metrics["per_benchmark"]
    runs = sorted({row["run"] for row in per})
    benchmarks = sorted({row["benchmark"] for row in per})
    index = {(row["run"], row["benchmark"]): row for row in per}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        xs = [b + i * width for b in range(len(benchmarks))]
        axes[0].bar(xs, [index.get((run, b), {}).get("accuracy") or 0 for b in benchmarks], width, label=run)
        parse = [index.get((run, b), {}).get("parse_error_rate") or 0 for b in benchmarks]
        execute = [index.get((run, b), {}).get("exec_error_rate") or 0 for b in benchmarks]
        axes[1].bar(xs, parse, width, label=f"{run} parse", alpha=0.9)
        axes[1].bar(xs, execute, width, bottom=parse, label=f"{run} exec", alpha=0.5)
    for axis, title in zip(axes, ["accuracy per benchmark", "step error rate (parse + execution)"], strict=True):
        axis.set_xticks([b + 0.4 - width / 2 for b in range(len(benchmarks))], benchmarks, rotation=20)
        axis.set_title(title)
        axis.set_ylim(0, 1)
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def render_html(metrics: dict[str, list[dict]], title: str) -> str:
    chart = base64.b64encode(_chart_png(metrics)).decode()
    per = metrics["per_benchmark"]
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(row.get(c)))}</td>" for c in TABLE_COLUMNS) + "</tr>" for row in per
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in TABLE_COLUMNS)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
th{{background:#f4f4f4}}td:first-child,td:nth-child(2){{text-align:left}}</style></head>
<body><h1>{html.escape(title)}</h1>
<img alt="accuracy and error-rate charts" src="data:image/png;base64,{chart}">
<h2>Per benchmark</h2><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
<p>Accuracy counts an unanswered trajectory as wrong. Error rates are per step.
sag_n is the number of candidate actions per step (1 = greedy).</p>
</body></html>
"""


def write_report(metrics: dict[str, list[dict]], out_dir: str | Path, title: str = "trajkit evaluation") -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / "report.md", "html": out / "report.html"}
    paths["markdown"].write_text(render_markdown(metrics, title), encoding="utf-8")
    paths["html"].write_text(render_html(metrics, title), encoding="utf-8")
    return paths
