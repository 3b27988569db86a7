"""An app with no OpenTelemetry code at all: ``opentelemetry-instrument`` adds everything.

    OTEL_TRACES_EXPORTER=otel_llm OTEL_SERVICE_NAME=checkout opentelemetry-instrument python app.py

``run.py`` beside it does exactly that against local stand-ins of the APIs.
"""

import anthropic
import openai


def main() -> None:
    question = [{"role": "user", "content": "Suggest a gift under $20."}]
    reply = openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=question)
    print("openai:", reply.choices[0].message.content)
    message = anthropic.Anthropic().messages.create(model="claude-haiku-4-5", max_tokens=200, messages=question)
    print("anthropic:", message.content[0].text)


if __name__ == "__main__":
    main()
