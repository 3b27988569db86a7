"""Provider-neutral machinery every otel-llm instrumentor is built from.

- :mod:`.telemetry`: the tracer, GenAI metric instruments and settings one instrumentor holds.
- :mod:`.call`: :class:`LLMCall`, one in-flight SDK call and its span, ended exactly once.
- :mod:`.wrapping`: wrapping an SDK method, sync or async, with the call's span current.
- :mod:`.streams`: proxies that watch a provider stream without changing what the caller sees.
- :mod:`.raw`: the proxy that watches a raw response until the caller has read its body.
- :mod:`.safety`: the rule that instrumentation never breaks the user's app.
"""
