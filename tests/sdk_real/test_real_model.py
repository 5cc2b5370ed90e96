"""The official SDKs through the router in front of a real model (llama.cpp's llama-server with
SmolLM2-135M, started by `cargo xtask e2e`): each SDK, whole and streamed, gets a real answer and
the model server's own usage numbers.

Environment: ANVIL_URL (the router, whose `chat` preset is the real model) and ANVIL_PROMPT_TOKENS
(the model server's own count of PROMPT, asked directly by the runner).
"""

from __future__ import annotations

import os

import anthropic
import openai
import pytest

ROUTER_URL = os.environ.get("ANVIL_URL", "")
PROMPT = "Say hello in one short sentence."
PROMPT_TOKENS = int(os.environ.get("ANVIL_PROMPT_TOKENS", "0"))
MAX_TOKENS = 24


@pytest.fixture(scope="module", autouse=True)
def environment() -> None:
    if not ROUTER_URL or PROMPT_TOKENS <= 0:
        pytest.fail("ANVIL_URL and ANVIL_PROMPT_TOKENS must be set (cargo xtask e2e sets them)")


def anthropic_client() -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=ROUTER_URL, api_key="x", timeout=120, max_retries=0)


def openai_client() -> openai.OpenAI:
    return openai.OpenAI(base_url=ROUTER_URL + "/v1", api_key="x", timeout=120, max_retries=0)


def check_usage(prompt: int, completion: int) -> None:
    assert prompt == PROMPT_TOKENS, f"prompt tokens {prompt}, the model server counts {PROMPT_TOKENS}"
    assert 1 <= completion <= MAX_TOKENS, completion


def test_anthropic_whole() -> None:
    message = anthropic_client().messages.create(
        model="chat", max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": PROMPT}]
    )
    assert message.content[0].type == "text" and message.content[0].text.strip()
    usage = message.usage
    check_usage(
        usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0),
        usage.output_tokens,
    )


def test_anthropic_streamed() -> None:
    with anthropic_client().messages.stream(
        model="chat", max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": PROMPT}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.strip()
    usage = final.usage
    check_usage(
        usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0),
        usage.output_tokens,
    )


def test_openai_chat_whole() -> None:
    completion = openai_client().chat.completions.create(
        model="chat", max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": PROMPT}]
    )
    assert completion.choices[0].message.content.strip()
    check_usage(completion.usage.prompt_tokens, completion.usage.completion_tokens)


def test_openai_chat_streamed() -> None:
    stream = openai_client().chat.completions.create(
        model="chat",
        max_tokens=MAX_TOKENS,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    assert text.strip()
    assert usage is not None, "no usage chunk although include_usage was set"
    check_usage(usage.prompt_tokens, usage.completion_tokens)


def test_openai_responses_whole_and_streamed() -> None:
    client = openai_client()
    response = client.responses.create(model="chat", input=PROMPT, max_output_tokens=MAX_TOKENS)
    assert response.output_text.strip()
    check_usage(response.usage.input_tokens, response.usage.output_tokens)
    # A small model may use the whole budget: the stream then ends with `response.incomplete`
    # (as OpenAI's does), which the SDK's get_final_response() does not accept, so read the
    # terminal event itself.
    text, final = "", None
    for event in client.responses.create(
        model="chat", input=PROMPT, max_output_tokens=MAX_TOKENS, stream=True
    ):
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type in ("response.completed", "response.incomplete"):
            final = event.response
    assert text.strip()
    assert final is not None, "no terminal event"
    assert final.output_text == text
    check_usage(final.usage.input_tokens, final.usage.output_tokens)
