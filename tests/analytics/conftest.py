"""The known data set of ``dataset.py`` in a real embedded store (chDB), loaded once per module."""

from __future__ import annotations

import pytest

from tests.analytics import dataset
from otel_llm.storage import open_store


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory) -> str:
    url = f"chdb://{tmp_path_factory.mktemp('analytics')}/db"
    dataset.load(url)
    return url


@pytest.fixture
def store(seeded_url):
    # Opened per test and closed after it: the embedded directory admits one holder at a time,
    # and the CLI tests open it themselves.
    opened = open_store(seeded_url)
    yield opened
    opened.close()
