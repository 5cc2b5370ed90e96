"""Answers through the router: plain text, a tool-use round trip, reasoning.

Every (surface, tier, mode) combination: the client's view (through the official SDK) is
compared with what the mock upstream sent, obtained by replaying the exact request the
upstream received (`harness.Mock.exchange`).
"""

from __future__ import annotations

import pytest

import surfaces
from harness import assert_same_usage, combos, router_only, upstream_dialect
from wire import DIALECT_PATHS

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


ROUND_TRIPS = [
    # (directive, tools offered, text before the calls, results sent back)
    pytest.param("MOCK:tool", 1, "", [TOOL_RESULT], id="one-call"),
    pytest.param("MOCK:tools2", 2, "Calling two tools.", ["rain", TOOL_RESULT], id="two-calls"),
]


@pytest.mark.parametrize("directive,n_tools,preamble,results", ROUND_TRIPS)
@pytest.mark.parametrize("surface,tier,mode", combos())
def test_tool_round_trip(mock, surface_of, surface, tier, mode, directive, n_tools, preamble, results):
    s = surface_of(surface)
    dialect = upstream_dialect(surface, tier)
    history = s.user(f"What is the weather in Paris? {directive}")
    offered_defs = [(name, schema) for name, _, schema in surfaces.TOOL_DEFS[:n_tools]]

    # 1. the call with tools: the client gets well-formed tool calls
    first = mock.exchange(dialect, lambda: s.call(mode, tier, history, tools=n_tools))
    offered = surfaces.upstream_tools(dialect, first.upstream_request["body"])
    assert offered == offered_defs, f"the upstream was offered {offered}"
    assert len(first.upstream.tool_calls) == len(results), "the mock did not call the tools"
    assert len(first.client.tool_calls) == len(results), f"client got {first.client.tool_calls}"
    assert first.client.text == first.upstream.text == preamble
    # the mock calls the offered tools in order, one call each
    for got, sent, (name, schema) in zip(
        first.client.tool_calls, first.upstream.tool_calls, offered_defs, strict=True
    ):
        assert got.name == sent.name == name
        assert isinstance(got.id, str) and got.id
        assert isinstance(got.args_obj, dict)
        assert set(schema["required"]) <= set(got.args_obj)
        got.same_args_as(sent)
    assert len({t.id for t in first.client.tool_calls}) == len(results), "tool call ids repeat"
    expected_stop = {"anthropic": "tool_use", "openai": "tool_calls", "responses": "completed"}
    assert first.client.stop == expected_stop[s.dialect]
    assert first.client.completed
    assert_same_usage(first)

    # 2. the call with the tool results: the upstream sees them, the client gets the answer
    history = s.with_tool_result(history, first.client, results)
    second = mock.exchange(dialect, lambda: s.call(mode, tier, history, tools=n_tools))
    body = second.upstream_request["body"]
    calls = first.client.tool_calls
    assert surfaces.upstream_tool_results(dialect, body) == [
        (t.id, r) for t, r in zip(calls, results, strict=True)
    ]
    assert surfaces.upstream_tool_calls(dialect, body) == [(t.id, t.name, t.args_obj) for t in calls]
    # the mock answers from the last tool result
    assert second.client.text == second.upstream.text == f"Tool said: {results[-1]}"
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
        raw = anthropic_client.messages.with_raw_response.create(model=tier, max_tokens=64, messages=history)
    elif surface == "openai-chat":
        raw = openai_client.chat.completions.with_raw_response.create(model=tier, messages=history)
    else:
        raw = openai_client.responses.with_raw_response.create(model=tier, input=history)
    assert raw.headers.get("x-anvil-tier") == tier
    assert raw.headers.get("x-anvil-request-id")
    raw.parse()  # the body is a valid object of the SDK's type
    path = DIALECT_PATHS[upstream_dialect(surface, tier)]
    assert [r.get("path") for r in mock.new_requests() if r.get("method") == "POST"] == [path]
