"""The three client surfaces (Anthropic Messages, OpenAI Chat Completions, OpenAI Responses)
driven through the official SDKs in three modes each:

- `create`: the non-streaming call;
- `raw`: `create(stream=True)` and plain iteration over the SDK's parsed events;
- `helper`: the SDK's streaming helper (`messages.stream`, `chat.completions.stream`,
  `responses.stream`) read to the end, with its final accumulated object cross-checked against
  the events it yielded.

Every call returns a `wire.Summary` built from the SDK objects dumped to plain JSON.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

import wire
from wire import Summary, dump

MODES = ("create", "raw", "helper")

TOOL_NAME = "get_weather"
TOOL_DESCRIPTION = "Get the current weather for a city."
TOOL_SCHEMA = {
    "type": "object",
    "properties": {"location": {"type": "string", "description": "City name"}},
    "required": ["location"],
    "additionalProperties": False,
}
#: the tools a request may offer, in order: (name, description, JSON schema)
TOOL_DEFS = [
    (TOOL_NAME, TOOL_DESCRIPTION, TOOL_SCHEMA),
    (
        "get_time",
        "Get the local time in a timezone.",
        {
            "type": "object",
            "properties": {
                "timezone": {"type": "string", "description": "IANA timezone"},
                "utc": {"type": "boolean"},
            },
            "required": ["timezone", "utc"],
            "additionalProperties": False,
        },
    ),
]

_ANTHROPIC_RAW_EVENTS = {
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
}


def _cross_check(stream: Summary, final: Summary) -> None:
    """A streaming helper's final object must agree with the events it yielded."""
    assert final.text == stream.text, (final.text, stream.text)
    assert final.reasoning == stream.reasoning, (final.reasoning, stream.reasoning)
    assert [(t.id, t.name, t.args_obj) for t in final.tool_calls] == [
        (t.id, t.name, t.args_obj) for t in stream.tool_calls
    ]
    assert (final.input_tokens, final.output_tokens) == (stream.input_tokens, stream.output_tokens)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class Surface:
    """One inbound API surface of the router."""

    name: str
    #: the wire dialect this surface speaks
    dialect: str
    #: the tier whose upstream speaks the same dialect
    native_tier: str

    def call(self, mode: str, model: str, history: list, tools: int = 0) -> Summary:
        raise NotImplementedError

    def user(self, text: str) -> list:
        return [{"role": "user", "content": text}]

    def with_tool_result(self, history: list, answer: Summary, results: list[str]) -> list:
        raise NotImplementedError


class AnthropicMessages(Surface):
    name = "anthropic-messages"
    dialect = "anthropic"
    native_tier = "an"

    def __init__(self, client: anthropic.Anthropic):
        self.client = client

    def tools(self, n: int) -> list:
        return [{"name": name, "description": d, "input_schema": schema} for name, d, schema in TOOL_DEFS[:n]]

    def call(self, mode: str, model: str, history: list, tools: int = 0) -> Summary:
        kw: dict[str, Any] = {"model": model, "max_tokens": 256, "messages": history}
        if tools:
            kw["tools"] = self.tools(tools)
        c = self.client
        if mode == "create":
            return wire.anthropic_message(dump(c.messages.create(**kw)))
        if mode == "raw":
            return wire.anthropic_events([dump(e) for e in c.messages.create(stream=True, **kw)])
        assert mode == "helper"
        with c.messages.stream(**kw) as st:
            events = list(st)
            final = st.get_final_message()
        streamed = wire.anthropic_events([dump(e) for e in events if e.type in _ANTHROPIC_RAW_EVENTS])
        assert "".join(e.text for e in events if e.type == "text") == streamed.text
        _cross_check(streamed, wire.anthropic_message(dump(final)))
        return streamed

    def with_tool_result(self, history: list, answer: Summary, results: list[str]) -> list:
        content: list[dict] = []
        if answer.text:
            content.append({"type": "text", "text": answer.text})
        content += [
            {"type": "tool_use", "id": t.id, "name": t.name, "input": t.args_obj} for t in answer.tool_calls
        ]
        blocks = [
            {"type": "tool_result", "tool_use_id": t.id, "content": r}
            for t, r in zip(answer.tool_calls, results, strict=True)
        ]
        return history + [
            {"role": "assistant", "content": content},
            {"role": "user", "content": blocks},
        ]


class ChatCompletions(Surface):
    name = "openai-chat"
    dialect = "openai"
    native_tier = "oa"

    def __init__(self, client: openai.OpenAI):
        self.client = client

    def tools(self, n: int) -> list:
        return [
            {
                "type": "function",
                "function": {"name": name, "description": d, "parameters": schema, "strict": True},
            }
            for name, d, schema in TOOL_DEFS[:n]
        ]

    def call(self, mode: str, model: str, history: list, tools: int = 0) -> Summary:
        kw: dict[str, Any] = {"model": model, "max_tokens": 256, "messages": history}
        if tools:
            kw["tools"] = self.tools(tools)
        c = self.client
        if mode == "create":
            return wire.openai_completion(dump(c.chat.completions.create(**kw)))
        kw["stream_options"] = {"include_usage": True}
        if mode == "raw":
            s = wire.openai_chunks([dump(x) for x in c.chat.completions.create(stream=True, **kw)])
            s.completed = s.stop is not None  # the SDK swallows `[DONE]`
            return s
        assert mode == "helper"
        with c.chat.completions.stream(**kw) as st:
            events = list(st)
            final = st.get_final_completion()
        s = wire.openai_chunks([dump(e.chunk) for e in events if e.type == "chunk"])
        s.completed = s.stop is not None
        assert "".join(e.delta for e in events if e.type == "content.delta") == s.text
        final_s = wire.openai_completion(dump(final))
        # the helper's accumulated message has no reasoning_content: compare the rest
        final_s.reasoning = s.reasoning
        _cross_check(s, final_s)
        assert [t.args_raw for t in final_s.tool_calls] == [t.args_raw for t in s.tool_calls]
        return s

    def with_tool_result(self, history: list, answer: Summary, results: list[str]) -> list:
        assistant = {
            "role": "assistant",
            "content": answer.text or None,
            "tool_calls": [
                {
                    "id": t.id,
                    "type": "function",
                    "function": {"name": t.name, "arguments": t.args_raw},
                }
                for t in answer.tool_calls
            ],
        }
        messages = [
            {"role": "tool", "tool_call_id": t.id, "content": r}
            for t, r in zip(answer.tool_calls, results, strict=True)
        ]
        return history + [assistant] + messages


class Responses(Surface):
    name = "openai-responses"
    dialect = "responses"
    native_tier = "rs"

    def __init__(self, client: openai.OpenAI):
        self.client = client

    def tools(self, n: int) -> list:
        return [
            {"type": "function", "name": name, "description": d, "parameters": schema, "strict": True}
            for name, d, schema in TOOL_DEFS[:n]
        ]

    def call(self, mode: str, model: str, history: list, tools: int = 0) -> Summary:
        kw: dict[str, Any] = {"model": model, "max_output_tokens": 256, "input": history}
        if tools:
            kw["tools"] = self.tools(tools)
        c = self.client
        if mode == "create":
            return wire.responses_response(dump(c.responses.create(**kw)))
        if mode == "raw":
            return wire.responses_events([dump(e) for e in c.responses.create(stream=True, **kw)])
        assert mode == "helper"
        with c.responses.stream(**kw) as st:
            events = [dump(e) for e in st]
            final = st.get_final_response()
        s = wire.responses_events(events)
        _cross_check(s, wire.responses_response(dump(final)))
        return s

    def with_tool_result(self, history: list, answer: Summary, results: list[str]) -> list:
        items: list[dict] = []
        if answer.text:
            items.append({"role": "assistant", "content": answer.text})
        for t in answer.tool_calls:
            items.append({"type": "function_call", "call_id": t.id, "name": t.name, "arguments": t.args_raw})
        for t, r in zip(answer.tool_calls, results, strict=True):
            items.append({"type": "function_call_output", "call_id": t.id, "output": r})
        return history + items


# --- what the upstream received, read in the upstream's own dialect ---------------------------


def upstream_tools(dialect: str, body: dict) -> list[tuple[str, Any]]:
    """(name, JSON schema) of every function tool offered upstream."""
    tools = body.get("tools") or []
    if dialect == "openai":
        return [(t["function"]["name"], t["function"].get("parameters")) for t in tools]
    if dialect == "anthropic":
        return [(t["name"], t.get("input_schema")) for t in tools]
    return [(t["name"], t.get("parameters")) for t in tools if t.get("type") == "function"]


def upstream_tool_results(dialect: str, body: dict) -> list[tuple[str, str]]:
    """(tool call id, result text) of every tool result sent upstream."""
    out = []
    if dialect == "openai":
        for m in body.get("messages") or []:
            if m.get("role") == "tool":
                out.append((m.get("tool_call_id"), _text_of(m.get("content"))))
    elif dialect == "anthropic":
        for m in body.get("messages") or []:
            if m.get("role") == "user" and isinstance(m.get("content"), list):
                for b in m["content"]:
                    if b.get("type") == "tool_result":
                        out.append((b.get("tool_use_id"), _text_of(b.get("content"))))
    else:
        items = body.get("input")
        for it in items if isinstance(items, list) else []:
            if it.get("type") == "function_call_output":
                out.append((it.get("call_id"), _text_of(it.get("output"))))
    return out


def upstream_tool_calls(dialect: str, body: dict) -> list[tuple[str, str, Any]]:
    """(id, name, arguments as JSON value) of every earlier assistant tool call sent upstream."""
    out = []
    if dialect == "openai":
        for m in body.get("messages") or []:
            for tc in m.get("tool_calls") or [] if m.get("role") == "assistant" else []:
                fn = tc["function"]
                out.append((tc.get("id"), fn.get("name"), json.loads(fn.get("arguments") or "{}")))
    elif dialect == "anthropic":
        for m in body.get("messages") or []:
            if m.get("role") == "assistant" and isinstance(m.get("content"), list):
                for b in m["content"]:
                    if b.get("type") == "tool_use":
                        out.append((b.get("id"), b.get("name"), b.get("input")))
    else:
        items = body.get("input")
        for it in items if isinstance(items, list) else []:
            if it.get("type") == "function_call":
                out.append((it.get("call_id"), it.get("name"), json.loads(it.get("arguments") or "{}")))
    return out


def model_ids(page: Any) -> list[str]:
    """Ids of a `models.list()` page of either SDK."""
    return [m.id for m in page.data]


def surface_for(name: str, anthropic_client: anthropic.Anthropic, openai_client: openai.OpenAI) -> Surface:
    if name == AnthropicMessages.name:
        return AnthropicMessages(anthropic_client)
    if name == ChatCompletions.name:
        return ChatCompletions(openai_client)
    assert name == Responses.name
    return Responses(openai_client)


SURFACES = (AnthropicMessages.name, ChatCompletions.name, Responses.name)
SURFACE_DIALECT = {
    AnthropicMessages.name: "anthropic",
    ChatCompletions.name: "openai",
    Responses.name: "responses",
}
