#!/usr/bin/env python3
"""What a rendered meeting page's bytes are spent on, per participant-minute.

    python3 bench/pages.py SITE_FOLDER        # a folder written by `webex-quality render --out`

For every `meetings/*.html` page it splits the bytes by section (the participant-by-minute timeline,
the participants table, the per-participant charts, the rest), counts the timeline's cells (one per
participant session and minute) and the charts, and prints one Markdown table: totals, bytes per
meeting, and each section's bytes per timeline cell, that is per participant-minute. The sessions
exports (`days/*.sessions.csv`, `.json`; before 2026-12-02, `meetings/*.csv` and `*.json`) are
counted beside.
"""

import re
import statistics
import sys
from pathlib import Path

SECTIONS = ("timeline", "participants", "charts")


def split(page):
    """Bytes per section of one page: the text from each section's heading to the next one's."""
    marks = sorted((page.find(f'<h2 id="{name}"'), name) for name in SECTIONS if f'<h2 id="{name}"' in page)
    sizes = dict.fromkeys(SECTIONS, 0)
    for (start, name), following in zip(marks, marks[1:] + [(None, None)]):
        end = following[0]
        if end is None:
            end = page.find("</main>", start)
            end = len(page) if end < 0 else end
        sizes[name] = len(page[start:end].encode())
    sizes["rest"] = len(page.encode()) - sum(sizes[name] for name in SECTIONS)
    return sizes


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    site = Path(sys.argv[1])
    pages = sorted((site / "meetings").glob("*.html"))
    if not pages:
        raise SystemExit(f"no meetings/*.html under {site}")
    totals = dict.fromkeys(SECTIONS + ("rest",), 0)
    cells = charts = 0
    per_meeting = []
    for path in pages:
        page = path.read_text()
        sizes = split(page)
        for name, size in sizes.items():
            totals[name] += size
        timeline = page[page.find('<h2 id="timeline"'):]
        cells += len(re.findall(r"<td class=\"?(?:cell|[gfpno]\b)", timeline[:timeline.find("</table>")]))
        charts += page.count("<svg")
        per_meeting.append(path.stat().st_size)
    exports = sum(p.stat().st_size for pattern in ("meetings/*.csv", "meetings/*.json",
                                                   "days/*.sessions.csv", "days/*.sessions.json")
                  for p in site.glob(pattern))
    html = sum(per_meeting)
    print("| meetings | HTML | per meeting (median, max) | exports (CSV + JSON) | participant-minutes "
          "| timeline | charts | participants table | rest |")
    print("|---|---|---|---|---|---|---|---|---|")
    per_cell = lambda name: f"{totals[name] / 1e6:.0f} MB, {totals[name] / max(cells, 1):.0f} B/min"
    print(f"| {len(pages)} | {html / 1e6:.0f} MB | {statistics.median(per_meeting) / 1e3:.0f} KB, "
          f"{max(per_meeting) / 1e6:.1f} MB | {exports / 1e6:.0f} MB | {cells} "
          f"| {per_cell('timeline')} | {per_cell('charts')} ({charts} charts, "
          f"{totals['charts'] / max(charts, 1):.0f} B each) | {per_cell('participants')} "
          f"| {per_cell('rest')} |")


if __name__ == "__main__":
    main()
