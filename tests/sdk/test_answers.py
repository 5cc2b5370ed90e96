"""Answers through the router: plain text, a tool-use round trip, reasoning.

Every (surface, tier, mode) combination: the client's view (through the official SDK) is
compared with what the mock upstream sent, obtained by replaying the exact request the
upstream received (`harness.Mock.exchange`).
"""

from __future__ import annotations

import pytest

import surfaces
from wire import DIALECT_PATHS
from harness import assert_same_usage, combos, router_only, upstream_dialect

DEFAULT_TEXT = "Hello from the mock upstream."
#: the tool result sent back (non-ASCII on purpose)
TOOL_RESULT = "sunny, 21 °C in Zürich"


@pytest.mark.parametrize("surface,tier,mode", combos())
def test_plain_text(mock, surface_of, surface, tier, mode):
    s = surface_of(surface)
    ex = mock.exchange(
        upstream_dialect(surface, tier),
        lambda: s.call(mode, tier, s.user("Say hello to the tests please.")),
    )
    assert ex.upstream.text == DEFAULT_TEXT
    assert ex.client.text == DEFAULT_TEXT
    assert ex.client.tool_calls == []
    assert ex.client.completed, "the answer did not end normally"
    assert_same_usage(ex)


@pytest.mark.parametrize("surface,tier,mode", combos())
def test_tool_round_trip(mock, surface_of, surface, tier, mode):
    s = surface_of(surface)
    dialect = upstream_dialect(surface, tier)
    history = s.user("What is the weather in Paris? MOCK:tool")

    # 1. the call with tools: the client gets a well-formed tool call
    first = mock.exchange(dialect, lambda: s.call(mode, tier, history, tools=True))
    offered = surfaces.upstream_tools(dialect, first.upstream_request["body"])
    assert offered == [(surfaces.TOOL_NAME, surfaces.TOOL_SCHEMA)], (
        f"the upstream was offered {offered}"
    )
    assert len(first.upstream.tool_calls) == 1, "the mock did not answer with a tool call"
    assert len(first.client.tool_calls) == 1, f"client got {first.client.tool_calls}"
    got, sent = first.client.tool_calls[0], first.upstream.tool_calls[0]
    assert got.name == surfaces.TOOL_NAME
    assert isinstance(got.id, str) and got.id
    assert isinstance(got.args_obj, dict)
    assert set(surfaces.TOOL_SCHEMA["required"]) <= set(got.args_obj)
    got.same_args_as(sent)
    expected_stop = {"anthropic": "tool_use", "openai": "tool_calls", "responses": "completed"}
    assert first.client.stop == expected_stop[s.dialect]
    assert first.client.completed
    assert_same_usage(first)

    # 2. the call with the tool result: the upstream sees it, the client gets the answer
    history = s.with_tool_result(history, first.client, TOOL_RESULT)
    second = mock.exchange(dialect, lambda: s.call(mode, tier, history, tools=True))
    body = second.upstream_request["body"]
    assert surfaces.upstream_tool_results(dialect, body) == [(got.id, TOOL_RESULT)]
    assert surfaces.upstream_tool_calls(dialect, body) == [(got.id, got.name, got.args_obj)]
    assert second.client.text == f"Tool said: {TOOL_RESULT}"
    assert second.client.tool_calls == []
    assert second.client.completed
    assert_same_usage(second)


@pytest.mark.parametrize("surface,tier,mode", combos())
def test_reasoning(mock, surface_of, surface, tier, mode):
    """MOCK:reason: OpenAI chat clients get `reasoning_content`, Anthropic clients thinking
    blocks, Responses clients a reasoning item."""
    s = surface_of(surface)
    ex = mock.exchange(
        upstream_dialect(surface, tier),
        lambda: s.call(mode, tier, s.user("Think first. MOCK:reason")),
    )
    assert ex.upstream.reasoning, "the mock sent no reasoning"
    assert ex.client.reasoning == ex.upstream.reasoning
    assert ex.client.text == ex.upstream.text == DEFAULT_TEXT
    assert_same_usage(ex)


@router_only("the x-anvil-* response headers")
@pytest.mark.parametrize("surface,tier,mode", combos(modes=("create",)))
def test_router_headers(mock, anthropic_client, openai_client, surface, tier, mode):
    """The pinned tier serves the request and says so in `x-anvil-tier`."""
    history = [{"role": "user", "content": "Which tier answers?"}]
    if surface == "anthropic-messages":
        raw = anthropic_client.messages.with_raw_response.create(
            model=tier, max_tokens=64, messages=history
        )
    elif surface == "openai-chat":
        raw = openai_client.chat.completions.with_raw_response.create(model=tier, messages=history)
    else:
        raw = openai_client.responses.with_raw_response.create(model=tier, input=history)
    assert raw.headers.get("x-anvil-tier") == tier
    assert raw.headers.get("x-anvil-request-id")
    raw.parse()  # the body is a valid object of the SDK's type
    path = DIALECT_PATHS[upstream_dialect(surface, tier)]
    assert [r.get("path") for r in mock.new_requests() if r.get("method") == "POST"] == [path]
