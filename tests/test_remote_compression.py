"""Remote inserts are LZ4-compressed (``?compress=lz4``, the default off loopback): the server, here
ClickHouse's HTTP interface served by chDB, gets every row of an Arrow and a JSON batch intact."""

from __future__ import annotations

from otel_llm.storage import open_store, open_writer, parse_url
from otel_llm.storage.http_store import HttpStore

from tests.rows import make_row


def test_compressed_inserts_arrive_whole(clickhouse_http, monkeypatch):
    sent = []
    original = HttpStore._insert

    def recording(self, payload, settings, fmt):  # the real insert, its encoding noted
        sent.append((fmt, self._encoding))
        return original(self, payload, settings, fmt)

    monkeypatch.setattr(HttpStore, "_insert", recording)
    url = clickhouse_http.url + "?compress=lz4"
    assert parse_url(url).insert_encoding == "lz4"
    writer = open_writer(url)  # an app's writer: JSON
    writer.submit([make_row(i, run="lz4") for i in range(300)])
    assert writer.shutdown()
    store = open_store(url)
    try:
        store.insert_arrow(_arrow([make_row(i, run="lz4-arrow") for i in range(200)]))
        _, [(rows, payload)] = store.query("SELECT count(), sum(length(request_json)) FROM llm_traces")
    finally:
        store.close()
    assert rows == 500 and payload == sum(len(make_row(i)["request_json"]) for i in range(500))
    assert {fmt for fmt, _ in sent} == {"JSONCompactEachRow", "ArrowStream"}
    assert {encoding for _, encoding in sent} == {"lz4"}


def _arrow(rows):
    from otel_llm.storage import codec

    return codec.encode(rows)
