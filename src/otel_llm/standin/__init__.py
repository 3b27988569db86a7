"""Local stand-ins for provider APIs, speaking their real wire formats on 127.0.0.1.

Used by the test-suite and by ``otel-llm demo`` so the real SDKs can be exercised with no API key
and no network.  They answer with canned, clearly labelled content; they are not the providers.
"""
