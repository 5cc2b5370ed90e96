"""The commit window seen through the official SDKs: a verified answer held long enough for
keep-alives (Anthropic `ping` events, SSE comment lines for OpenAI) parses as if they were not
there, and a request whose every tier answered badly is an exhaustion error the SDKs type.

These run against `ANVIL_VERIFY_URL`: a second router on the same mock, with verification on
(every e2e tier is `allow-with-verify` in the seed profile) and keep-alives every 0.3 s."""

from __future__ import annotations

import json
import os
import urllib.request

import anthropic
import openai
import pytest

import surfaces
from harness import CLIENT_KEY, CLIENT_TIMEOUT, DIRECT, combos

VERIFY_URL = os.environ.get("ANVIL_VERIFY_URL", "").rstrip("/")

pytestmark = pytest.mark.skipif(
    DIRECT or not VERIFY_URL,
    reason="needs the verifying router (ANVIL_VERIFY_URL, set by `cargo xtask e2e`)",
)

#: five deltas 400 ms apart: the window holds the answer ~2 s, about six keep-alives
SLOW = "Count slowly. MOCK:slow=400:5"
TICKS = "tick1 tick2 tick3 tick4 tick5"


@pytest.fixture(scope="module")
def verify_surface_of():
    a = anthropic.Anthropic(base_url=VERIFY_URL, api_key=CLIENT_KEY, timeout=CLIENT_TIMEOUT, max_retries=0)
    o = openai.OpenAI(base_url=VERIFY_URL + "/v1", api_key=CLIENT_KEY, timeout=CLIENT_TIMEOUT, max_retries=0)

    def make(name: str) -> surfaces.Surface:
        return surfaces.surface_for(name, a, o)

    return make


@pytest.mark.parametrize("surface,tier,mode", combos())
def test_keepalives_are_invisible_to_the_sdks(verify_surface_of, surface, tier, mode):
    s = verify_surface_of(surface)
    answer = s.call(mode, tier, s.user(SLOW))
    assert answer.text == TICKS
    assert answer.completed
    assert not answer.errors


@pytest.mark.parametrize(
    "path,body,keepalive",
    [
        (
            "/v1/messages",
            {"model": "an", "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": SLOW}]},
            b'event: ping\ndata: {"type": "ping"}\n\n',
        ),
        (
            "/v1/chat/completions",
            {"model": "oa", "stream": True, "messages": [{"role": "user", "content": SLOW}]},
            b": keep-alive\n\n",
        ),
        (
            "/v1/responses",
            {"model": "rs", "stream": True, "input": SLOW},
            b": keep-alive\n\n",
        ),
    ],
    ids=["anthropic", "chat", "responses"],
)
def test_the_window_really_sends_keepalives(path, body, keepalive):
    req = urllib.request.Request(
        VERIFY_URL + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {CLIENT_KEY}", "x-api-key": CLIENT_KEY},
    )
    with urllib.request.urlopen(req, timeout=CLIENT_TIMEOUT) as resp:
        assert resp.status == 200
        assert resp.headers["x-anvil-attempts"].endswith(":in-window"), resp.headers["x-anvil-attempts"]
        raw = resp.read()
    assert raw.count(keepalive) >= 3, raw[:400]
    # the answer follows the keep-alives, and the final attempts are told in a comment
    assert raw.index(keepalive) < raw.index(b"tick1")
    assert b": x-anvil-attempts: " in raw


@pytest.mark.parametrize("surface,tier,mode", combos())
def test_every_tier_broken_is_a_typed_exhaustion_error(verify_surface_of, surface, tier, mode):
    s = verify_surface_of(surface)
    expected = anthropic.ServiceUnavailableError if s.dialect == "anthropic" else openai.InternalServerError
    with pytest.raises(expected) as info:
        s.call(mode, tier, s.user("Fix the bug. MOCK:broken=refusal"))
    assert info.value.status_code == 503
    assert "no local tier could serve" in str(info.value)
    assert "sorry" not in str(info.value).lower()
