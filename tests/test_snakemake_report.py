"""``snakemake --report``: one self-contained HTML file with every evaluation's figures, under
categories per modality and model, rendered by a real browser."""

import re

import pytest
from conftest import ARTEFACTS, TINY, headless_chromium, snakemake

#: Where a reference leaves the file: an absolute or protocol-relative URL in src / href.
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|ftp:|//)""", re.IGNORECASE)


@pytest.mark.e2e
def test_report_is_one_self_contained_html_file_a_browser_renders(run):
    out = run / "reports" / "report.html"
    result = snakemake(run, "--configfile", str(TINY), "--report", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    html = out.read_text()
    refs = [html[m.start() : m.end() + 60] for m in EXTERNAL.finditer(html)]
    assert refs == [], refs[:5]
    # every evaluation's confusion matrix and both fusions' F1 bars are embedded as PNGs
    pngs = html.count("data:image/png;")
    evaluations = len(list((run / "reports").glob("*/*/confusion.png")))
    assert evaluations >= 6 and pngs >= evaluations + 2
    for category in (
        "audio",
        "visual",
        "audio_sex",
        "fusion",
        "audio-visual clips",
        "Row-normalised confusion matrix",
    ):
        assert category in html, category
    with headless_chromium(1280, 1000) as page:
        page.get(out.as_uri())
        page.implicitly_wait(10)
        body = page.find_element("tag name", "body").text
        assert "audio" in body and "fusion" in body.lower()
        ARTEFACTS.mkdir(exist_ok=True)
        page.save_screenshot(str(ARTEFACTS / "snakemake_report.png"))
    assert (ARTEFACTS / "snakemake_report.png").read_bytes()[:4] == b"\x89PNG"
