"""Span attribute names written by otel-llm instrumentors and read by the exporter.

GenAI semantic-convention names come from ``opentelemetry-semantic-conventions`` so a rename there
is a visible import error here.  Everything the conventions have no name for lives under
``otel_llm.*``.  README.md has the table mapping each attribute to its ``llm_traces`` column.
"""

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _gen_ai
from opentelemetry.semconv.attributes import error_attributes as _error
from opentelemetry.semconv.attributes import server_attributes as _server

# --- GenAI semantic conventions -------------------------------------------------------------
OPERATION_NAME = _gen_ai.GEN_AI_OPERATION_NAME
PROVIDER_NAME = _gen_ai.GEN_AI_PROVIDER_NAME
REQUEST_MODEL = _gen_ai.GEN_AI_REQUEST_MODEL
REQUEST_STREAM = _gen_ai.GEN_AI_REQUEST_STREAM
REQUEST_MAX_TOKENS = _gen_ai.GEN_AI_REQUEST_MAX_TOKENS
REQUEST_TEMPERATURE = _gen_ai.GEN_AI_REQUEST_TEMPERATURE
REQUEST_TOP_P = _gen_ai.GEN_AI_REQUEST_TOP_P
REQUEST_TOP_K = _gen_ai.GEN_AI_REQUEST_TOP_K
REQUEST_STOP_SEQUENCES = _gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES
REQUEST_SEED = _gen_ai.GEN_AI_REQUEST_SEED
REQUEST_FREQUENCY_PENALTY = _gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY
REQUEST_PRESENCE_PENALTY = _gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY
REQUEST_CHOICE_COUNT = _gen_ai.GEN_AI_REQUEST_CHOICE_COUNT
REQUEST_ENCODING_FORMATS = _gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS
RESPONSE_MODEL = _gen_ai.GEN_AI_RESPONSE_MODEL
RESPONSE_ID = _gen_ai.GEN_AI_RESPONSE_ID
RESPONSE_FINISH_REASONS = _gen_ai.GEN_AI_RESPONSE_FINISH_REASONS
RESPONSE_TIME_TO_FIRST_CHUNK = _gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
OUTPUT_TYPE = _gen_ai.GEN_AI_OUTPUT_TYPE
USAGE_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_INPUT_TOKENS
USAGE_OUTPUT_TOKENS = _gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS
USAGE_CACHE_READ_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
USAGE_CACHE_CREATION_INPUT_TOKENS = _gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
USAGE_REASONING_OUTPUT_TOKENS = _gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
# The Anthropic SDK's own spans use this name for cache writes; accepted on input only.
USAGE_CACHE_WRITE_INPUT_TOKENS_ANTHROPIC = "gen_ai.usage.cache_write.input_tokens"
INPUT_MESSAGES = _gen_ai.GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES = _gen_ai.GEN_AI_OUTPUT_MESSAGES
SYSTEM_INSTRUCTIONS = _gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS
TOOL_DEFINITIONS = _gen_ai.GEN_AI_TOOL_DEFINITIONS
CONVERSATION_ID = _gen_ai.GEN_AI_CONVERSATION_ID
AGENT_ID = _gen_ai.GEN_AI_AGENT_ID
ERROR_TYPE = _error.ERROR_TYPE
SERVER_ADDRESS = _server.SERVER_ADDRESS
SERVER_PORT = _server.SERVER_PORT
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"

# --- otel-llm: usage and cost the conventions do not cover ----------------------------------
# JSON object of provider-specific token counts (cache_write_5m, cache_write_1h, audio_input,
# web_search_requests, ...), kept whole in the row's usage_details map.
USAGE_DETAILS = "otel_llm.usage.details"
COST_USD = "otel_llm.cost.usd"  # decimal string, absent when the model has no price
COST_DETAILS = "otel_llm.cost.details"  # JSON object component -> USD decimal string
COST_PRICING_VERSION = "otel_llm.cost.pricing_version"
COST_UNPRICED_REASON = "otel_llm.cost.unpriced_reason"
# The tier a response was served (and is priced) at: OpenAI's is a semconv name; Anthropic's has
# none, so it is named after the usage field that reports it.
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
ANTHROPIC_SERVICE_TIER = "anthropic.usage.service_tier"
ANTHROPIC_SPEED = "anthropic.usage.speed"  # "fast": priced at the model's fast-mode rates

# --- otel-llm: who the call belongs to (set from llm_context / baggage) ---------------------
ORGANIZATION_ID = "otel_llm.organization_id"
PROJECT_ID = "otel_llm.project_id"
USER_ID = "otel_llm.user_id"
AGENT_TAGS = "otel_llm.agent.tags"
RUN_ID = "otel_llm.run_id"
STEP_ID = "otel_llm.step_id"
CALL_TYPE = "otel_llm.call_type"
BILLING_PLAN_TYPE = "otel_llm.billing.plan_type"
BILLING_COST_SOURCE = "otel_llm.billing.cost_source"
BILLING_CUSTOMER_ID = "otel_llm.billing.customer_id"
IS_BYOK = "otel_llm.is_byok"

# --- otel-llm: payloads -----------------------------------------------------------------------
REQUEST_JSON = "otel_llm.request.json"  # the full request body as sent, minus secrets
RESPONSE_JSON = "otel_llm.response.json"  # the full response (streams: the assembled response)
LLM_CONFIG_JSON = "otel_llm.request.config"  # request parameters without messages
ERROR_MESSAGE = "otel_llm.error.message"
# Set by the exporter on forwarded spans whose payload attribute was replaced by a preview.
PAYLOAD_REF_ROW_ID = "otel_llm.payload.row_id"
PAYLOAD_OFFLOADED_BYTES_SUFFIX = ".offloaded_bytes"

# Attributes whose values are payloads: offloaded by the exporter, never metric dimensions.
PAYLOAD_ATTRIBUTES = (
    INPUT_MESSAGES,
    OUTPUT_MESSAGES,
    SYSTEM_INSTRUCTIONS,
    TOOL_DEFINITIONS,
    REQUEST_JSON,
    RESPONSE_JSON,
)
