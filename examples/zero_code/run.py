"""Run ``app.py`` under ``opentelemetry-instrument``, configured by environment variables only.

    python examples/zero_code/run.py

What an app's deployment sets (no code change):

- ``OTEL_TRACES_EXPORTER=otel_llm``: our exporter, found through its entry point, writes the rows;
  with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set it also forwards slim spans to your backend;
- ``OTEL_RESOURCE_ATTRIBUTES``: whom every call of this service belongs to (``llm_context`` in
  code can refine it per call);
- the instrumentors need nothing: ``opentelemetry-instrument`` loads every installed one.
"""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from standins import api_endpoints, print_rows  # noqa: E402

INSTRUMENT = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent)) or "opentelemetry-instrument"

if __name__ == "__main__":
    run_id = f"example-{uuid.uuid4().hex[:8]}"
    with api_endpoints() as endpoints:
        env = {
            **os.environ,
            **endpoints,
            "OTEL_TRACES_EXPORTER": "otel_llm",
            "OTEL_SERVICE_NAME": "checkout",
            "OTEL_RESOURCE_ATTRIBUTES": f"otel_llm.billing.customer_id=acme,gen_ai.agent.id=gift-helper,"
            f"otel_llm.run_id={run_id}",
            # No metrics or logs pipeline in this example (the default would send them over OTLP).
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
        }
        app = Path(__file__).resolve().parent / "app.py"
        subprocess.run([INSTRUMENT, sys.executable, str(app)], env=env, check=True)
    print_rows(run_id)
