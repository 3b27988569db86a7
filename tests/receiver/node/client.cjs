// A small Node.js service as a user would write it: the official OpenAI and Anthropic SDKs,
// traced by one GenAI instrumentation, exported by one official OTLP exporter.
//
//   node client.cjs <instrumentation> <exporter>
//
// instrumentation: openllmetry | openinference | anthropic-sdk | ai6 | ai7 | ai7-legacy
// exporter: http (OTLP/HTTP JSON) | proto (OTLP/HTTP protobuf) | grpc
// Environment: OTLP_HTTP_URL, OTLP_GRPC_URL, OTLP_TOKEN, OPENAI_BASE_URL, ANTHROPIC_BASE_URL
// (the stand-ins). Prints one line of JSON: what the calls returned, for the test to compare.
"use strict";

const api = require("@opentelemetry/api");
const { AsyncLocalStorageContextManager } = require("@opentelemetry/context-async-hooks");
const { TracerProvider, BatchSpanProcessor } = require("@opentelemetry/sdk-trace");
const { resourceFromAttributes } = require("@opentelemetry/resources");

const [instrumentation, exporterKind] = process.argv.slice(2);
const headers = { authorization: `Bearer ${process.env.OTLP_TOKEN}` };

function makeExporter() {
  if (exporterKind === "grpc") {
    const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-grpc");
    const { Metadata } = require("@grpc/grpc-js");
    const metadata = new Metadata();
    metadata.set("authorization", headers.authorization);
    return new OTLPTraceExporter({ url: process.env.OTLP_GRPC_URL, metadata });
  }
  const pkg = exporterKind === "proto" ? "@opentelemetry/exporter-trace-otlp-proto" : "@opentelemetry/exporter-trace-otlp-http";
  const { OTLPTraceExporter } = require(pkg);
  return new OTLPTraceExporter({ url: process.env.OTLP_HTTP_URL, headers });
}

const exporter = makeExporter();
// Report what the exporter could not send: the receiver's answer is part of what is tested.
const exportFailures = [];
const originalExport = exporter.export.bind(exporter);
exporter.export = (spans, done) =>
  originalExport(spans, (result) => {
    if (result.code !== 0) exportFailures.push(String(result.error && result.error.message));
    done(result);
  });

const provider = new TracerProvider({
  resource: resourceFromAttributes({ "service.name": `node-${instrumentation}-${exporterKind}` }),
  // OTLP_BATCH_SIZE=1: every span in a request of its own, as spans of one call may arrive.
  spanProcessors: [
    new BatchSpanProcessor({ exporter, scheduledDelayMillis: 200, maxExportBatchSize: Number(process.env.OTLP_BATCH_SIZE || 512) }),
  ],
});
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
api.trace.setGlobalTracerProvider(provider);

const OpenAI = require("openai");
// OpenLLMetry-JS patches Anthropic.Completions, which the 1.x SDK no longer has: the last 0.x SDK
// (which traces itself too) is what it instruments.
const Anthropic = require(instrumentation === "openllmetry" ? "anthropic-sdk-0" : "@anthropic-ai/sdk");

if (instrumentation === "openllmetry") {
  const { OpenAIInstrumentation } = require("@traceloop/instrumentation-openai");
  const { AnthropicInstrumentation } = require("@traceloop/instrumentation-anthropic");
  const openai = new OpenAIInstrumentation();
  openai.setTracerProvider(provider);
  openai.manuallyInstrument(OpenAI);
  const anthropic = new AnthropicInstrumentation();
  anthropic.setTracerProvider(provider);
  anthropic.manuallyInstrument(Anthropic);
} else if (instrumentation === "openinference") {
  const { OpenAIInstrumentation } = require("@arizeai/openinference-instrumentation-openai");
  const { AnthropicInstrumentation } = require("@arizeai/openinference-instrumentation-anthropic");
  const openai = new OpenAIInstrumentation({ tracerProvider: provider });
  openai.manuallyInstrument(OpenAI);
  const anthropic = new AnthropicInstrumentation({ tracerProvider: provider });
  anthropic.manuallyInstrument(Anthropic);
}
// "anthropic-sdk": no instrumentation at all, the Anthropic SDK traces itself (it does so under
// every other instrumentation too, unless ANTHROPIC_OPEN_TELEMETRY=false).

async function sdkCalls() {
  const openai = new OpenAI({ apiKey: "sk-test", baseURL: `${process.env.OPENAI_BASE_URL}/v1` });
  const anthropic = new Anthropic({ apiKey: "sk-ant-test", baseURL: process.env.ANTHROPIC_BASE_URL });
  const calls = [];
  const chat = await openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "hello [cached]" }],
  });
  calls.push({ provider: "openai", stream: false, id: chat.id });
  const chunks = await openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "stream please" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let streamId = "";
  for await (const chunk of chunks) streamId = streamId || chunk.id;
  calls.push({ provider: "openai", stream: true, id: streamId });
  const message = await anthropic.messages.create({
    model: "claude-haiku-4-5",
    max_tokens: 100,
    messages: [{ role: "user", content: "hello standin:cached" }],
  });
  calls.push({ provider: "anthropic", stream: false, id: message.id });
  const events = await anthropic.messages.create({
    model: "claude-haiku-4-5",
    max_tokens: 100,
    messages: [{ role: "user", content: "stream standin:cached" }],
    stream: true,
  });
  let messageId = "";
  for await (const event of events) if (event.type === "message_start") messageId = event.message.id;
  calls.push({ provider: "anthropic", stream: true, id: messageId });
  return calls;
}

async function aiSdkCalls(version) {
  const ai = require(version === 6 ? "ai6" : "ai");
  const { createOpenAI } = require(version === 6 ? "ai6-openai" : "@ai-sdk/openai");
  const { createAnthropic } = require(version === 6 ? "ai6-anthropic" : "@ai-sdk/anthropic");
  let telemetry = { isEnabled: true, recordInputs: true, recordOutputs: true };
  if (version === 7) {
    const otel = require("@ai-sdk/otel");
    const Integration = instrumentation === "ai7-legacy" ? otel.LegacyOpenTelemetry : otel.OpenTelemetry;
    telemetry = { ...telemetry, integrations: [new Integration()] };
  }
  const openai = createOpenAI({ apiKey: "sk-test", baseURL: `${process.env.OPENAI_BASE_URL}/v1` });
  const anthropic = createAnthropic({ apiKey: "sk-ant-test", baseURL: `${process.env.ANTHROPIC_BASE_URL}/v1` });
  const calls = [];
  const models = [
    ["openai", openai.chat("gpt-4o-mini"), "hello [cached]"],
    // openai(model) is the Responses API, what a new user of the AI SDK gets.
    ["openai", openai("gpt-4o-mini"), "responses hello [cached]"],
    ["anthropic", anthropic("claude-haiku-4-5"), "hello standin:cached"],
  ];
  for (const [name, model, prompt] of models) {
    const generated = await ai.generateText({ model, prompt, experimental_telemetry: telemetry, telemetry });
    calls.push({ provider: name, stream: false, id: generated.response.id });
    const streamed = ai.streamText({ model, prompt: `stream ${prompt}`, experimental_telemetry: telemetry, telemetry });
    for await (const _ of streamed.textStream);
    calls.push({ provider: name, stream: true, id: (await streamed.response).id });
  }
  return calls;
}

async function main() {
  const calls = instrumentation.startsWith("ai") ? await aiSdkCalls(instrumentation.startsWith("ai6") ? 6 : 7) : await sdkCalls();
  await provider.forceFlush();
  await provider.shutdown();
  process.stdout.write(JSON.stringify({ calls, exportFailures }) + "\n");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
