"""Errors reach the client as the SDK's typed errors, with the right status, in the client's
own dialect's envelope; broken streams make the SDK raise instead of ending quietly."""

from __future__ import annotations

import os

import anthropic
import openai
import pytest

import surfaces
from harness import CROSS_DIALECT_SKIP, DIRECT, TIERS, combos, router_only, upstream_dialect
from wire import DIALECT_PATHS

STATUS_CASES = [
    (429, anthropic.RateLimitError, openai.RateLimitError),
    (500, anthropic.InternalServerError, openai.InternalServerError),
    (503, anthropic.ServiceUnavailableError, openai.InternalServerError),
]


def _assert_envelope(dialect: str, exc: Exception) -> None:
    body = getattr(exc, "body", None)
    if dialect == "anthropic":
        # {"type":"error","error":{"type","message"}}
        assert isinstance(body, dict) and body.get("type") == "error", body
        assert isinstance(body["error"].get("type"), str), body
        assert isinstance(body["error"].get("message"), str), body
    else:
        # the OpenAI SDK keeps the inner {"message","type","param","code"}
        assert isinstance(body, dict) and isinstance(body.get("message"), str), body


@pytest.mark.parametrize("code,an_error,oa_error", STATUS_CASES, ids=[str(c[0]) for c in STATUS_CASES])
@pytest.mark.parametrize("surface,tier,mode", combos(modes=("create", "raw")))
def test_upstream_status(mock, surface_of, surface, tier, mode, code, an_error, oa_error):
    s = surface_of(surface)
    expected = an_error if s.dialect == "anthropic" else oa_error
    with pytest.raises(expected) as info:
        s.call(mode, tier, s.user(f"Fail please. MOCK:status={code}"))
    assert info.value.status_code == code
    _assert_envelope(s.dialect, info.value)
    paths = {r.get("path") for r in mock.new_requests() if r.get("method") == "POST"}
    assert paths == {surfaces_path(surface, tier)}, f"upstream requests went to {paths}"


def surfaces_path(surface: str, tier: str) -> str:
    return DIALECT_PATHS[upstream_dialect(surface, tier)]


@pytest.mark.parametrize("tier", ["oa", "an", "rs"])
def test_missing_max_tokens(mock, anthropic_client, tier):
    if DIRECT and tier != "an":
        pytest.skip(CROSS_DIALECT_SKIP.format(native="an", tier=tier))
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client.post(
            "/v1/messages",
            cast_to=anthropic.types.Message,
            body={"model": tier, "messages": [{"role": "user", "content": "hello there"}]},
        )
    assert info.value.status_code == 400
    _assert_envelope("anthropic", info.value)
    assert info.value.body["error"]["type"] == "invalid_request_error"
    tier_path = DIALECT_PATHS["anthropic" if DIRECT else TIERS[tier]]
    wrong = [r.get("path") for r in mock.new_requests() if r.get("path") != tier_path]
    assert wrong == [], f"requests went to paths other than the tier's {tier_path}: {wrong}"


MALFORMED = b'{"model": "oa", "messages": [ {"role": "user", '


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions", "/v1/responses"])
def test_malformed_json(mock, anthropic_client, openai_client, path):
    headers = {"content-type": "application/json"}
    if path == "/v1/messages":
        with pytest.raises(anthropic.BadRequestError) as info:
            anthropic_client.post(
                path, cast_to=anthropic.types.Message, content=MALFORMED, options={"headers": headers}
            )
        _assert_envelope("anthropic", info.value)
    else:
        with pytest.raises(openai.BadRequestError) as info:
            openai_client.post(
                path[len("/v1") :],
                cast_to=object,
                content=MALFORMED,
                options={"headers": headers},
            )
        _assert_envelope("openai", info.value)
    assert info.value.status_code == 400
    if not DIRECT:
        forwarded = [r for r in mock.new_requests() if not r.get("path", "").startswith("/_mock")]
        assert forwarded == [], "a malformed request was forwarded upstream"


def _broken_stream(s: surfaces.Surface, mode: str, tier: str, directive: str):
    """Read a stream the upstream breaks; return (exception or None, summary or None)."""
    try:
        return None, s.call(mode, tier, s.user(f"Start then break. {directive}"))
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - any SDK/transport error counts as raising
        return exc, None


@pytest.mark.parametrize("directive", ["MOCK:midstream-error", "MOCK:midstream-reset"])
@pytest.mark.parametrize("surface,tier,mode", combos(modes=("raw", "helper")))
def test_midstream_failure_raises(mock, surface_of, surface, tier, mode, directive):
    s = surface_of(surface)
    exc, summary = _broken_stream(s, mode, tier, directive)
    if exc is None:
        # only a Responses client may see the failure as an event instead of an exception
        assert s.dialect == "responses" and mode == "raw", (
            f"the SDK did not raise; the stream ended quietly: {summary}"
        )
        assert summary.errors, f"the stream ended without an error event: {summary}"
        assert not summary.completed, "a broken stream was reported as completed"
    upstream = [r for r in mock.new_requests() if r.get("method") == "POST"]
    assert [(r.get("path"), (r.get("body") or {}).get("stream")) for r in upstream] == [
        (surfaces_path(surface, tier), True)
    ], "expected one streamed upstream request on the tier's path"

    # the next request on the same client succeeds
    after = s.call("create", tier, s.user("Are you still there?"))
    assert after.text == "Hello from the mock upstream."


@router_only("GET /v1/models")
def test_models_list(mock, anthropic_client, openai_client):
    an_ids = surfaces.model_ids(anthropic_client.models.list())
    oa_ids = surfaces.model_ids(openai_client.models.list())
    assert an_ids, "the Anthropic SDK listed no model"
    assert sorted(an_ids) == sorted(oa_ids), (an_ids, oa_ids)
    expected = [m for m in os.environ.get("ANVIL_EXPECT_MODELS", "").split(",") if m]
    missing = [m for m in expected if m not in oa_ids]
    assert not missing, f"presets missing from /v1/models: {missing} (listed {oa_ids})"
