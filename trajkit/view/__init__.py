"""`trajkit view`: a static web page over one or more datasets.

A table of trajectories with filters and sorting, one trajectory as a readable sequence, two
runs of the same task side by side with the first divergent step marked, and a summary of
where runs leave each other. The page is one folder (HTML, JS, CSS and the data it needs) that
opens from disk, offline; model output is shown as text, never interpreted as HTML.

- `trajkit.view.pagedata`: what the page needs from the datasets;
- `trajkit.view.compare`: step signatures and divergence;
- `trajkit.view.site`: writing the folder;
- `trajkit.view.serve`: serving it on 127.0.0.1;
- `static/`: the page itself (plain JavaScript, no build step, no network).
"""

from __future__ import annotations


def write_view(paths, out):
    """Write the viewer over dataset directories `paths` into the folder `out`."""
    from trajkit.view.site import write_view as _write

    return _write(paths, out)


__all__ = ["write_view"]
