"""Fail set-up when an extra the Makefile asks for is not one trajkit declares.

pip only warns ("does not provide the extra") and goes on, so a misspelt or un-normalised extra
silently installs nothing; this turns that warning into a stop with the reason.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import metadata


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(requested: str) -> int:
    provided = set(metadata("trajkit").get_all("Provides-Extra") or [])
    missing = [e for e in requested.split(",") if e and normalise(e) not in provided]
    if missing:
        print(
            f"error: trajkit declares no extra {', '.join(missing)} (it declares "
            f"{', '.join(sorted(provided))}) — fix EXTRAS in the Makefile or pyproject.toml",
            file=sys.stderr,
        )
        return 2
    spelled_differently = [e for e in requested.split(",") if e and normalise(e) != e]
    if spelled_differently:
        print(
            f"error: extras {', '.join(spelled_differently)} are not in normalised form; "
            "older pips ignore them — write them as "
            + ", ".join(normalise(e) for e in spelled_differently),
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
