"""Plain tables for the terminal and Markdown, and the number formats both use."""

from __future__ import annotations

import math
from collections.abc import Sequence


def fmt_num(x: float | int | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (no exponent below 1e6); '-' for None."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{x:.{decimals}f}"


def _is_numeric(cell: str) -> bool:
    text = cell.replace("–", "").replace("-", "").replace(".", "").replace("%", "").replace("x", "").replace(",", "")
    text = text.strip()
    return text.isdigit()


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]], markdown: bool = False) -> str:
    """A table of strings; numeric columns are right-aligned. ``markdown`` gives a GitHub pipe table."""
    cells = [[str(c) for c in row] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, expected {len(headers)}: {row}")
    right = [bool(cells) and all(_is_numeric(r[i]) or r[i] == "-" for r in cells) for i in range(len(headers))]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |"]
        lines.append("|" + "|".join("---:" if r else "---" for r in right) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])
