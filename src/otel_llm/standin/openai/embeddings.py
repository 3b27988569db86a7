"""Embeddings (``/v1/embeddings``): a deterministic vector per input, as floats or base64."""

from __future__ import annotations

import base64
import struct
from typing import Any

from otel_llm.standin.server import JSONResponse


def embeddings(body: dict[str, Any]) -> JSONResponse:
    inputs = body.get("input")
    texts = inputs if isinstance(inputs, list) else [inputs]
    dimensions = int(body.get("dimensions") or 8)
    data = []
    for index in range(len(texts)):
        vector = [round(0.1 * (index + 1) + 0.01 * d, 4) for d in range(dimensions)]
        encoded: Any = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = 5 * len(texts)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": body.get("model", "unknown"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
