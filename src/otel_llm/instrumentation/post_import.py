"""Patch a provider SDK when the app imports it, never by importing it ourselves.

``setup()`` (and ``opentelemetry-instrument``) turn on every installed instrumentor; importing
each SDK there would load ``anthropic`` into an OpenAI-only app (tens of MiB a process) and vice
versa. wrapt's post-import hooks run the patch right after the app's own import of the module
(or at once when it is already imported).
"""

from __future__ import annotations

from types import ModuleType
from typing import Callable

import wrapt

from otel_llm.instrumentation.safety import report


def when_imported(module: str, patch: Callable[[ModuleType], None]) -> None:
    """Run ``patch(module)`` once ``module`` is imported; a failing patch is logged, and the
    app's import goes on as without us."""

    def hook(imported: ModuleType) -> None:
        try:
            patch(imported)
        except Exception as error:
            report(f"{module}.instrument", error)

    wrapt.register_post_import_hook(hook, module)
