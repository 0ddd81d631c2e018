"""Pages a manager reads and prints, checked in a real browser (headless Chromium).

Tables have human headers and no NaN, inf, None or unrounded floats; every image has alt
text; printed to A4 PDF (backgrounds off, as browsers print by default) no heading is the
last line of a page, and the pack's page count is recorded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import CHROMIUM_ARGS, ROOT, block_network

ARTIFACTS = ROOT / "reports" / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
BAD_CELL = re.compile(r"\b(nan|NaN|inf|-inf|None|NaT|<NA>)\b|\d\.\d{4,}")
RAW = re.compile(r"\{'[a-z_]+\.[a-z_.]+'|\w+Warning:|Traceback|object at 0x")
FOOTER = re.compile(r"^Page \d+ of \d+$")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pages(default_run):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed: `make test` installs it with apt-get")
    result, out = default_run  # the session's run over the committed borough (conftest)
    assert result.ok
    return sorted((out / result.period).glob("*.html"))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    outside = block_network(page)
    page.goto(path.as_uri())
    return page, outside


@pytest.fixture(scope="module")
def seen(pages, browser) -> dict[str, dict]:
    """Each page opened once: what the tests below read from it on screen (tables, text,
    image alt texts, headings, blocked requests), then printed to A4 PDF (backgrounds
    off, as browsers print by default) and its PDF pages' text."""
    from pypdf import PdfReader

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = {}
    for path in pages:
        page, outside = _open(browser, path)
        seen = {
            "tables": page.eval_on_selector_all(
                "table",
                """ts => ts.map(t => ({
                    heads: [...t.querySelectorAll('th')].map(x => x.innerText.trim()),
                    cells: [...t.querySelectorAll('td')].map(x => x.innerText.trim()),
                }))""",
            ),
            "text": page.inner_text("body"),
            "alts": page.eval_on_selector_all("img", "is => is.map(i => i.getAttribute('alt'))"),
            "headings": page.eval_on_selector_all(
                "main h1, main h2, main h3, header h1",
                "hs => hs.map(h => h.innerText.replace('¶', '').trim())",
            ),
        }
        pdf = ARTIFACTS / f"{path.stem}.pdf"
        page.pdf(path=str(pdf), format="A4", print_background=False)
        page.close()
        seen["outside"] = outside
        seen["pdf_pages"] = [p.extract_text() or "" for p in PdfReader(str(pdf)).pages]
        out[path.name] = seen
    return out


def test_tables_have_human_headers_and_clean_cells(seen):
    """...and no raw reprs, warnings or tracebacks anywhere on the page."""
    problems = []
    for name, page in seen.items():
        assert page["outside"] == []
        problems += [(name, "raw", m) for m in RAW.findall(page["text"])]
        for t in page["tables"]:
            problems += [(name, "header", h) for h in t["heads"] if SNAKE.match(h)]
            problems += [(name, "cell", c) for c in t["cells"] if BAD_CELL.search(c)]
    assert problems == []


def test_every_image_has_alt_text_stating_its_point(seen):
    alts = [(name, a) for name, page in seen.items() for a in page["alts"]]
    missing = [
        (name, a)
        for name, a in alts
        if not a or len(a) < 20 or a.startswith("No description has been provided")
    ]
    assert len(alts) >= 15 and missing == []


def test_printed_pack_keeps_headings_with_their_content(seen):
    orphans, counts = [], {}
    for name, page in seen.items():
        counts[Path(name).stem] = len(page["pdf_pages"])
        for n, text in enumerate(page["pdf_pages"][:-1], start=1):  # the last may end anywhere
            lines = [x.strip() for x in text.splitlines()]
            lines = [x for x in lines if x and not FOOTER.match(x) and " · " not in x]
            if not lines:
                continue
            last = lines[-1]
            if any(last == h or (len(last) > 12 and h.endswith(last)) for h in page["headings"]):
                orphans.append((name, n, last))
    (ARTIFACTS / "print_pages.json").write_text(json.dumps(counts, indent=1))
    assert orphans == []
    assert all(n >= 1 for n in counts.values())
    # the whole pack (index and every report) fits a board paper: 29 A4 pages with the
    # print styles, 30 since the charts' "how to read this" lines became captions (the
    # line drawn into the image had made SPC charts print at half their size)
    assert sum(counts.values()) <= 30, counts


def test_printed_tables_fit_the_a4_width(pages, browser):
    """The summary's indicator table printed 797 pixels wide in A4's 703 (186 mm between
    the margins): the print style's narrower cell padding lost to pandas Styler's own
    '#T_... td' rule, so the last column ran into the margin."""
    wide = {}
    for path in pages:
        page = browser.new_page(viewport={"width": 703, "height": 1000})
        page.emulate_media(media="print")
        page.goto(path.as_uri())
        widths = page.eval_on_selector_all("table", "ts => ts.map(t => t.scrollWidth)")
        page.close()
        if max(widths, default=0) > 703:
            wide[path.name] = widths
    assert wide == {}
