"""llm_context: nesting, decorators, isolation between concurrent tasks, and W3C baggage."""

import asyncio
import threading

import pytest
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator

from otel_llm import llm_context
from otel_llm.context import current_attributes


def test_nested_contexts_inherit_and_accumulate_tags():
    with llm_context(customer_id="acme", plan_type="pro", agent_tags=["support"], is_byok=False):
        with llm_context(run_id="run-1", step_id="s1", agent_tags=["triage", "support"]):
            inner = current_attributes()
        outer = current_attributes()
    assert inner == {
        "otel_llm.billing.customer_id": "acme",
        "otel_llm.billing.plan_type": "pro",
        "otel_llm.agent.tags": ["support", "triage"],
        "otel_llm.is_byok": False,
        "otel_llm.run_id": "run-1",
        "otel_llm.step_id": "s1",
    }
    assert "otel_llm.run_id" not in outer
    assert current_attributes() == {}


def test_sync_and_async_decorators():
    @llm_context(agent_id="planner", call_type="plan")
    def plan():
        return current_attributes()

    @llm_context(agent_id="writer")
    async def write():
        return current_attributes()

    assert plan() == {"gen_ai.agent.id": "planner", "otel_llm.call_type": "plan"}
    assert asyncio.run(write()) == {"gen_ai.agent.id": "writer"}
    assert current_attributes() == {}


def test_concurrent_tasks_do_not_leak():
    async def request(customer: str) -> str:
        async with llm_context(customer_id=customer):
            await asyncio.sleep(0.01)
            return current_attributes()["otel_llm.billing.customer_id"]

    async def main():
        return await asyncio.gather(*(request(f"c{i}") for i in range(50)))

    assert asyncio.run(main()) == [f"c{i}" for i in range(50)]


def test_threads_do_not_see_each_others_context():
    seen: dict[str, dict] = {}
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        with llm_context(user_id=name):
            barrier.wait()
            seen[name] = current_attributes()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": {"otel_llm.user_id": "a"}, "b": {"otel_llm.user_id": "b"}}


def test_stays_in_the_process_by_default():
    carrier: dict[str, str] = {}
    with llm_context(customer_id="acme", user_id="u-1"):
        W3CBaggagePropagator().inject(carrier)
        assert current_attributes()["otel_llm.billing.customer_id"] == "acme"
    assert "baggage" not in carrier


def _extracted(carrier: dict[str, str]):
    return W3CBaggagePropagator().extract(carrier)


def test_travels_as_w3c_baggage_when_sent_and_is_used_where_accepted(monkeypatch):
    monkeypatch.setenv("OTEL_LLM_CONTEXT_PROPAGATION", "send")
    carrier: dict[str, str] = {}
    with llm_context(customer_id="acme corp", plan_type="enterprise"):
        W3CBaggagePropagator().inject(carrier)
    assert "otel_llm.billing.customer_id=acme+corp" in carrier["baggage"]

    # The service behind the gateway: untrusted by default, its own llm_context only.
    monkeypatch.delenv("OTEL_LLM_CONTEXT_PROPAGATION")
    token = otel_context.attach(_extracted(carrier))
    try:
        assert current_attributes() == {}
        monkeypatch.setenv("OTEL_LLM_CONTEXT_PROPAGATION", "accept")
        assert current_attributes() == {
            "otel_llm.billing.customer_id": "acme corp",
            "otel_llm.billing.plan_type": "enterprise",
        }
        with llm_context(plan_type="pro", agent_tags=["t"]):  # its own values win
            assert current_attributes() == {
                "otel_llm.billing.customer_id": "acme corp",
                "otel_llm.billing.plan_type": "pro",
                "otel_llm.agent.tags": ["t"],
            }
    finally:
        otel_context.detach(token)


def test_unknown_propagation_mode_is_ignored(monkeypatch):
    monkeypatch.setenv("OTEL_LLM_CONTEXT_PROPAGATION", "everywhere")
    carrier: dict[str, str] = {}
    with llm_context(customer_id="acme"):
        W3CBaggagePropagator().inject(carrier)
    assert "baggage" not in carrier


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"is_byok": "yes"}, "is_byok"),
        ({"agent_tags": "one-string"}, "agent_tags"),
        ({"agent_tags": ["a,b"]}, "may not contain ','"),
        ({"customer_id": object()}, "customer_id"),
    ],
)
def test_bad_values_say_what_is_wrong(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        llm_context(**kwargs)


def test_zero_code_context_from_resource_attributes_lands_in_its_columns(monkeypatch):
    """OTEL_RESOURCE_ATTRIBUTES with the keys exporters/README.md names, llm_context's spelling too."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_llm.exporter import span_to_row

    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES",
        "otel_llm.billing.customer_id=acme,otel_llm.billing.plan_type=pro,otel_llm.agent_id=support-bot,"
        "otel_llm.conversation_id=conv-9,otel_llm.agent.tags=a,otel_llm.is_byok=true",
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("chat m", attributes={"gen_ai.operation.name": "chat"}).end()
    row = span_to_row(exporter.get_finished_spans()[0])
    assert (row["customer_id"], row["billing_plan_type"], row["agent_id"], row["conversation_id"]) == (
        "acme",
        "pro",
        "support-bot",
        "conv-9",
    )
    assert list(row["agent_tags"]) == ["a"] and row["is_byok"] is True
    assert not any(key.startswith("otel_llm.") for key in row["resource_attributes"])
