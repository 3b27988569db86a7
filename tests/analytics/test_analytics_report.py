"""The HTML report renders in a real browser, offline, with every chart present."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from tests.analytics.dataset import T0
from otel_llm.analytics import report
from otel_llm.analytics.window import Window

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def page(store) -> str:
    return report.build(store, Window(T0 - timedelta(days=1, hours=1), T0 + timedelta(hours=1)))


def test_page_is_self_contained(page):
    # No scripts and no external references: it opens offline and phones nobody.
    assert "<script" not in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page


def test_page_has_every_chart_and_table(page):
    ids: set[str] = set()

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in ("figure", "table"):
                ids.add(dict(attrs).get("id", ""))

    Collect().feed(page)
    assert set(report.CHART_IDS) <= ids
    assert {"table-by-model", "table-by-customer", "table-by-agent", "table-by-provider", "table-errors"} <= ids
    assert "$0.003175" in page or "$0.0032" in page  # cache savings: 2000 x 1.25/M + 250 x 2.7/M


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_renders_in_headless_chromium(page, tmp_path):
    html = tmp_path / "report.html"
    html.write_text(page)
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=60,
    )
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    for chart_id in report.CHART_IDS:
        # Each figure made it into the parsed DOM with an <svg> inside.
        figure = re.search(rf'<figure id="{chart_id}">(.*?)</figure>', dom, re.S)
        assert figure, chart_id
        assert "<svg" in figure.group(1), chart_id
    assert "RateLimitError" in dom
