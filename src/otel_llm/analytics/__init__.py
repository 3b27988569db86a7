"""Reading ``llm_traces`` back: ``otel-llm stats``, ``report``, ``trace`` and ``demo``.

- ``window``: ``--since`` / ``--until`` parsing.
- ``queries``: every SQL statement (parameterized, time-window first, deduplicated with FINAL).
- ``stats``: grouped usage/cost/latency figures; ``render``: tables, JSON, CSV.
- ``report``: a self-contained HTML page; ``charts``: its matplotlib figures as inline SVG.
- ``trace``: one call (or one trace) with every column and its payloads; the only reader of the
  payload columns.
"""
