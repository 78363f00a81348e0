"""Writing the viewer: one self-contained folder that opens from disk and works offline.

    VIEW/
      index.html  viewer.js  viewer.css     the page (package data of trajkit.view, no CDN)
      data/index.js                         the index, loaded at start
      data/detail-NNNNN.js                  the full trajectories, loaded when opened
      data/divergence.js                    where runs leave each other, per dataset pair
      trajkit-view.json                     marks the folder as a view (so it may be replaced)

Data files are JavaScript (`trajkitData(kind, n, JSON.parse("..."))`) because browsers refuse
`fetch` on `file://` pages but load `<script src>`. The folder is written under a temporary
name next to VIEW and renamed into place, so a failure never leaves a half-written view, and
an existing view is replaced only once the new one is complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from trajkit.errors import InputError
from trajkit.staging import staged_folder
from trajkit.view.pagedata import FORMAT, FORMAT_VERSION, collect, dumps

MARKER = "trajkit-view.json"
STATIC = ("index.html", "viewer.js", "viewer.css")


@dataclass
class ViewResult:
    path: Path
    trajectories: int
    datasets: int
    tasks: int
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def index_html(self) -> Path:
        return self.path / "index.html"

    def url(self) -> str:
        return self.index_html.resolve().as_uri()


def js_data(kind: str, number: int, value) -> str:
    """A data file: JSON inside a JS string literal (JSON.parse is faster than an object literal)."""
    literal = json.dumps(dumps(value), ensure_ascii=False)
    literal = literal.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"trajkitData({json.dumps(kind)},{number},JSON.parse({literal}));\n"


def detail_name(number: int) -> str:
    return f"detail-{number:05d}.js"


def write_view(paths: list[str | Path], out: str | Path) -> ViewResult:
    """Write the viewer over `paths` (dataset directories) into the folder `out`."""
    if not paths:
        raise InputError("no dataset given", fix="trajkit view DATASET [DATASET...] --out DIR")
    out = Path(out)
    _check_out(out)
    with staged_folder(out) as tmp:
        data = tmp / "data"
        data.mkdir()

        def sink(number: int, rows: list[dict]) -> None:
            (data / detail_name(number)).write_text(js_data("detail", number, rows), encoding="utf-8")

        page = collect(paths, sink)
        if not page.index["datasets"] and page.first_error is not None:
            raise page.first_error
        (data / "index.js").write_text(js_data("index", 0, page.index), encoding="utf-8")
        (data / "divergence.js").write_text(js_data("divergence", 0, page.divergence), encoding="utf-8")
        static = resources.files("trajkit.view") / "static"
        for name in STATIC:
            (tmp / name).write_bytes((static / name).read_bytes())
        marker = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "datasets": [d["path"] for d in page.index["datasets"]],
            "trajectories": page.trajectories,
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return ViewResult(
        path=out,
        trajectories=page.trajectories,
        datasets=len(page.index["datasets"]),
        tasks=len(page.index["tasks"]["id"]),
        problems=page.problems,
    )


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("the output exists and is not a folder", where=str(out), fix="choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise InputError(
            "the output folder is not empty and is not a trajkit view",
            where=str(out),
            fix="choose a new or empty folder with --out (an existing view is replaced)",
        )

