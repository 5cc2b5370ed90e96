"""Dialect-neutral summaries of model answers, read from raw wire JSON.

Used on both sides of the router: on what the mock upstream sends (replayed straight from the
mock, see `conftest.Mock.replay`) and on what the official SDKs hand to the client (their
pydantic objects dumped to plain dicts). Comparing the two summaries is how the tests check
that text, reasoning, tool calls and usage cross the router unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: upstream path of each dialect on the mock
DIALECT_PATHS = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "responses": "/v1/responses",
}


@dataclass
class ToolCall:
    """One tool call. `args_raw` is the arguments text exactly as sent on the wire (None when
    the wire carried a JSON object, i.e. a non-streamed Anthropic `tool_use.input`)."""

    id: str
    name: str
    args_raw: str | None
    args_obj: Any

    def same_args_as(self, other: ToolCall) -> None:
        """Assert the arguments are byte-for-byte equal when both sides carried text,
        JSON-equal otherwise."""
        if self.args_raw is not None and other.args_raw is not None:
            assert self.args_raw.encode("utf-8") == other.args_raw.encode("utf-8"), (
                f"tool arguments differ byte-for-byte: client {self.args_raw!r} upstream {other.args_raw!r}"
            )
        assert self.args_obj == other.args_obj, (
            f"tool arguments differ: client {self.args_obj!r} upstream {other.args_obj!r}"
        )


@dataclass
class Summary:
    """What a model answer said, whatever the dialect."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop: str | None = None
    #: terminal event seen (message_stop / [DONE] / finish_reason / response.completed)
    completed: bool = False
    #: in-stream error events seen (Responses `error` / `response.failed`, OpenAI `{"error":…}`)
    errors: list[Any] = field(default_factory=list)


def _parse_args(raw: str) -> Any:
    return json.loads(raw) if raw.strip() else {}


def dump(obj: Any) -> Any:
    """An SDK pydantic object as plain JSON data (extra fields such as `reasoning_content`
    included)."""
    if isinstance(obj, (dict, list, str, int, float, bool)) or obj is None:
        return obj
    return obj.model_dump(mode="json", by_alias=True, exclude_unset=False, warnings=False)


def parse_sse(data: bytes) -> list[dict]:
    """Split an SSE body into JSON payloads (the `event:` name is put under `_event` when
    the payload has no `type`). `[DONE]` becomes `{"_done": true}`."""
    out: list[dict] = []
    text = data.decode("utf-8")
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event = None
        lines = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[len("event:") :].strip()
            elif line.startswith("data:"):
                lines.append(line[len("data:") :].lstrip(" "))
        if not lines:
            continue
        payload = "\n".join(lines)
        if payload.strip() == "[DONE]":
            out.append({"_done": True})
            continue
        obj = json.loads(payload)
        if isinstance(obj, dict) and event is not None and "type" not in obj:
            obj["_event"] = event
        out.append(obj)
    return out


# --- Anthropic Messages ------------------------------------------------------------------------


def anthropic_message(msg: dict) -> Summary:
    s = Summary()
    for block in msg.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            s.text += block.get("text") or ""
        elif kind == "thinking":
            s.reasoning += block.get("thinking") or ""
        elif kind == "tool_use":
            s.tool_calls.append(ToolCall(block["id"], block["name"], None, block.get("input")))
    usage = msg.get("usage") or {}
    s.input_tokens = usage.get("input_tokens")
    s.output_tokens = usage.get("output_tokens")
    s.stop = msg.get("stop_reason")
    s.completed = s.stop is not None
    return s


def anthropic_events(events: Iterable[dict]) -> Summary:
    s = Summary()
    blocks: dict[int, dict] = {}
    for ev in events:
        kind = ev.get("type")
        if kind == "message_start":
            usage = (ev.get("message") or {}).get("usage") or {}
            s.input_tokens = usage.get("input_tokens")
            s.output_tokens = usage.get("output_tokens")
        elif kind == "content_block_start":
            block = dict(ev["content_block"])
            block["_json"] = ""
            blocks[ev["index"]] = block
            if block.get("type") == "text":
                s.text += block.get("text") or ""
            elif block.get("type") == "thinking":
                s.reasoning += block.get("thinking") or ""
        elif kind == "content_block_delta":
            delta = ev["delta"]
            dk = delta.get("type")
            if dk == "text_delta":
                s.text += delta["text"]
            elif dk == "thinking_delta":
                s.reasoning += delta["thinking"]
            elif dk == "input_json_delta":
                blocks[ev["index"]]["_json"] += delta["partial_json"]
        elif kind == "message_delta":
            s.stop = (ev.get("delta") or {}).get("stop_reason")
            usage = ev.get("usage") or {}
            if usage.get("output_tokens") is not None:
                s.output_tokens = usage["output_tokens"]
            if usage.get("input_tokens") is not None:
                s.input_tokens = usage["input_tokens"]
        elif kind == "message_stop":
            s.completed = True
        elif kind == "error":
            s.errors.append(ev)
    for index in sorted(blocks):
        block = blocks[index]
        if block.get("type") == "tool_use":
            raw = block["_json"]
            s.tool_calls.append(ToolCall(block["id"], block["name"], raw, _parse_args(raw)))
    return s


# --- OpenAI Chat Completions -------------------------------------------------------------------


def openai_completion(body: dict) -> Summary:
    s = Summary()
    choice = (body.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    s.text = msg.get("content") or ""
    s.reasoning = msg.get("reasoning_content") or ""
    for tc in msg.get("tool_calls") or []:
        raw = tc["function"]["arguments"]
        s.tool_calls.append(ToolCall(tc["id"], tc["function"]["name"], raw, _parse_args(raw)))
    usage = body.get("usage") or {}
    s.input_tokens = usage.get("prompt_tokens")
    s.output_tokens = usage.get("completion_tokens")
    s.stop = choice.get("finish_reason")
    s.completed = s.stop is not None
    return s


def openai_chunks(chunks: Iterable[dict]) -> Summary:
    s = Summary()
    calls: dict[int, dict] = {}
    for chunk in chunks:
        if chunk.get("_done"):
            s.completed = True
            continue
        if chunk.get("error") is not None:
            s.errors.append(chunk["error"])
            continue
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            s.text += delta.get("content") or ""
            s.reasoning += delta.get("reasoning_content") or ""
            for tc in delta.get("tool_calls") or []:
                call = calls.setdefault(tc.get("index", 0), {"id": None, "name": "", "args": ""})
                if tc.get("id"):
                    call["id"] = tc["id"]
                fn = tc.get("function") or {}
                if fn.get("name"):
                    call["name"] += fn["name"]
                call["args"] += fn.get("arguments") or ""
            if choice.get("finish_reason"):
                s.stop = choice["finish_reason"]
        usage = chunk.get("usage")
        if usage:
            s.input_tokens = usage.get("prompt_tokens")
            s.output_tokens = usage.get("completion_tokens")
    for index in sorted(calls):
        c = calls[index]
        s.tool_calls.append(ToolCall(c["id"], c["name"], c["args"], _parse_args(c["args"])))
    return s


# --- OpenAI Responses --------------------------------------------------------------------------


def responses_response(body: dict) -> Summary:
    s = Summary()
    for item in body.get("output") or []:
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    s.text += part.get("text") or ""
        elif kind == "reasoning":
            for part in item.get("summary") or []:
                s.reasoning += part.get("text") or ""
            if not item.get("summary"):
                for part in item.get("content") or []:
                    s.reasoning += part.get("text") or ""
        elif kind == "function_call":
            raw = item["arguments"]
            s.tool_calls.append(ToolCall(item["call_id"], item["name"], raw, _parse_args(raw)))
    usage = body.get("usage") or {}
    s.input_tokens = usage.get("input_tokens")
    s.output_tokens = usage.get("output_tokens")
    s.stop = body.get("status")
    s.completed = s.stop == "completed"
    return s


def responses_events(events: Iterable[dict]) -> Summary:
    """Summary of a Responses event stream. Text, reasoning and arguments come from the deltas;
    usage from the terminal response."""
    s = Summary()
    items: dict[int, dict] = {}
    summary_seen = False
    reasoning_text = ""
    for ev in events:
        kind = ev.get("type") or ev.get("_event")
        if kind == "response.output_text.delta":
            s.text += ev["delta"]
        elif kind == "response.reasoning_summary_text.delta":
            summary_seen = True
            s.reasoning += ev["delta"]
        elif kind == "response.reasoning_text.delta":
            reasoning_text += ev["delta"]
        elif kind == "response.output_item.added":
            item = dict(ev["item"])
            item["_args"] = ""
            items[ev["output_index"]] = item
        elif kind == "response.function_call_arguments.delta":
            items[ev["output_index"]]["_args"] += ev["delta"]
        elif kind == "response.function_call_arguments.done":
            item = items[ev["output_index"]]
            assert ev["arguments"] == item["_args"], (
                f"function_call_arguments.done {ev['arguments']!r} differs from the deltas {item['_args']!r}"
            )
        elif kind in ("response.completed", "response.incomplete"):
            resp = ev["response"]
            usage = resp.get("usage") or {}
            s.input_tokens = usage.get("input_tokens")
            s.output_tokens = usage.get("output_tokens")
            s.stop = resp.get("status")
            s.completed = kind == "response.completed"
        elif kind in ("error", "response.failed"):
            s.errors.append(ev)
    if not summary_seen:
        s.reasoning = reasoning_text
    for index in sorted(items):
        item = items[index]
        if item.get("type") == "function_call":
            raw = item["_args"]
            s.tool_calls.append(ToolCall(item["call_id"], item["name"], raw, _parse_args(raw)))
    return s


def summarize_wire(dialect: str, body: bytes, streamed: bool) -> Summary:
    """Summary of a raw upstream answer body of `dialect`."""
    if streamed:
        events = parse_sse(body)
        return {"anthropic": anthropic_events, "openai": openai_chunks, "responses": responses_events}[
            dialect
        ](events)
    obj = json.loads(body)
    s = {
        "anthropic": anthropic_message,
        "openai": openai_completion,
        "responses": responses_response,
    }[dialect](obj)
    for tc in s.tool_calls:
        if tc.args_raw is None:
            # a non-streamed Anthropic `input` object: recover the exact text the mock wrote
            # for it when it is the compact serialization (as serde_json writes it)
            compact = json.dumps(tc.args_obj, ensure_ascii=False, separators=(",", ":"))
            if compact.encode("utf-8") in body:
                tc.args_raw = compact
    return s
