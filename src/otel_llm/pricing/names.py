"""How a model id as an SDK or cloud reports it maps onto price-table names.

Only well-defined decorations are removed, never guessed at: a provider prefix (``openai/gpt-4o``,
Bedrock ``us.anthropic.…-v2:0`` and ARNs), a Vertex version (``claude-3-5-sonnet-v2@20241022``),
and a snapshot suffix (``-2024-08-06``, ``-20241022``, ``-latest``).  A name that is still unknown
after that stays unpriced.
"""

from __future__ import annotations

import re

# Bedrock model ids: optional cross-region inference prefix ("us.", "eu.", "apac.", "global.",
# "us-gov."), then the vendor ("anthropic.", "openai.").
_BEDROCK_VENDOR = re.compile(r"^(?:[a-z-]{2,8}\.)?(?:anthropic|openai)\.")
_BEDROCK_VERSION = re.compile(r"-v\d+:\d+$")
# Vertex: "claude-3-5-sonnet-v2@20241022", "claude-sonnet-4-5@20250929".
_VERTEX_VERSION = re.compile(r"(?:-v\d+)?@[^@]*$")
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def candidates(model: str) -> tuple[str, ...]:
    """Names to look up for ``model``, most specific first, so an exact table entry (for example a
    snapshot priced differently from its family) wins over the stripped name."""
    exact = model.strip().lower()
    # After the last "/": "openai/gpt-4o", "arn:aws:bedrock:…:inference-profile/us.anthropic.…".
    bare = exact.rsplit("/", 1)[-1]
    bare = _VERTEX_VERSION.sub("", bare)
    bare = _BEDROCK_VERSION.sub("", _BEDROCK_VENDOR.sub("", bare))
    family = _SNAPSHOT.sub("", bare)
    return tuple(dict.fromkeys((exact, bare, family)))
