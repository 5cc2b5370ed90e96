"""Shared helpers of the SDK black-box tests (contract in README.md)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

import surfaces
import wire

#: the tiers the router config must define, each pointing at the mock upstream
TIERS = {"oa": "openai", "an": "anthropic", "rs": "responses"}

#: the key the clients send; the router must never forward it upstream
CLIENT_KEY = "sk-anvil-sdk-test-client-key"

#: per-request client timeout in seconds (every answer of the mock is immediate)
CLIENT_TIMEOUT = float(os.environ.get("ANVIL_SDK_TIMEOUT", "10"))

DIRECT = os.environ.get("ANVIL_DIRECT") == "1"
MOCK_URL = os.environ.get("ANVIL_MOCK_URL", "").rstrip("/")
ROUTER_URL = os.environ.get("ANVIL_URL", "").rstrip("/")

CROSS_DIALECT_SKIP = (
    "ANVIL_DIRECT=1: the clients talk to the mock itself, so only the surface's own dialect "
    "(tier {native}) applies; tier {tier} needs the router's translation"
)
ROUTER_ONLY_SKIP = "ANVIL_DIRECT=1: {what} is the router's job; the mock does not implement it"


def base_url() -> str:
    return MOCK_URL if DIRECT else ROUTER_URL


def upstream_dialect(surface: str, tier: str) -> str:
    """The dialect the mock upstream is spoken to in."""
    return surfaces.SURFACE_DIALECT[surface] if DIRECT else TIERS[tier]


def combos(modes: tuple = surfaces.MODES) -> list:
    """(surface, tier, mode) parameters; cross-dialect ones are skipped in direct mode."""
    out = []
    for surface in surfaces.SURFACES:
        native = {"anthropic": "an", "openai": "oa", "responses": "rs"}[surfaces.SURFACE_DIALECT[surface]]
        for tier in TIERS:
            for mode in modes:
                marks = []
                if DIRECT and tier != native:
                    marks.append(pytest.mark.skip(reason=CROSS_DIALECT_SKIP.format(native=native, tier=tier)))
                out.append(pytest.param(surface, tier, mode, id=f"{surface}-{tier}-{mode}", marks=marks))
    return out


def router_only(what: str):
    return pytest.mark.skipif(DIRECT, reason=ROUTER_ONLY_SKIP.format(what=what))


def _http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=CLIENT_TIMEOUT) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@dataclass
class Exchange:
    """One client call and what it caused upstream."""

    client: wire.Summary
    #: the request the mock received (its /_mock/requests record)
    upstream_request: dict
    #: the mock's answer to exactly that request, replayed straight from the mock
    upstream: wire.Summary


class Mock:
    """The mock upstream's introspection API."""

    def __init__(self, url: str):
        self.url = url
        self.last_seq = -1

    def reset(self) -> None:
        status, body = _http("POST", self.url + "/_mock/reset", b"")
        assert status == 200, f"POST /_mock/reset answered {status}: {body[:200]!r}"
        self.last_seq = -1

    def requests(self) -> list[dict]:
        status, body = _http("GET", self.url + "/_mock/requests")
        assert status == 200, f"GET /_mock/requests answered {status}"
        return json.loads(body)

    def events(self) -> list[dict]:
        status, body = _http("GET", self.url + "/_mock/events")
        assert status == 200, f"GET /_mock/events answered {status}"
        return json.loads(body)

    def _seq(self, index: int, rec: dict) -> int:
        seq = rec.get("seq")
        return seq if isinstance(seq, int) else index

    def new_requests(self) -> list[dict]:
        """Requests received since the previous call (or the reset)."""
        recs = [(self._seq(i, r), r) for i, r in enumerate(self.requests())]
        fresh = [r for s, r in recs if s > self.last_seq]
        if recs:
            self.last_seq = max(s for s, _ in recs)
        return fresh

    def replay(self, dialect: str, rec: dict) -> wire.Summary:
        """Send the recorded upstream request to the mock again, byte for byte as JSON, and
        summarize the answer (the mock is deterministic in everything the tests compare)."""
        body = rec["body"]
        url = self.url + rec["path"] + (f"?{rec['query']}" if rec.get("query") else "")
        headers = {"content-type": "application/json"}
        if dialect == "anthropic":
            headers["anthropic-version"] = "2023-06-01"
        status, data = _http("POST", url, json.dumps(body, ensure_ascii=False).encode(), headers)
        assert status == 200, f"replay of {rec['path']} answered {status}: {data[:300]!r}"
        self.new_requests()  # the replay itself is not an upstream call of the router
        return wire.summarize_wire(dialect, data, streamed=body.get("stream") is True)

    def exchange(self, dialect: str, do_call) -> Exchange:
        """Run `do_call()`, find the single upstream request it caused, replay it."""
        client = do_call()
        path = wire.DIALECT_PATHS[dialect]
        fresh = [r for r in self.new_requests() if r.get("method") == "POST"]
        upstream = [r for r in fresh if r.get("path") == path]
        assert len(upstream) == 1, (
            f"expected exactly one upstream POST {path}, the mock saw "
            f"{[(r.get('method'), r.get('path')) for r in fresh]}"
        )
        if not DIRECT:
            assert_no_client_key(upstream[0])
        return Exchange(client, upstream[0], self.replay(dialect, upstream[0]))


def assert_no_client_key(rec: dict) -> None:
    headers = rec.get("headers") or {}
    leaked = [k for k, v in headers.items() if CLIENT_KEY in str(v)]
    assert not leaked, f"the client's key was forwarded upstream in {leaked}"


def usage_rule_holds(s: wire.Summary) -> None:
    """The mock's documented usage rule: input = 1000 + words, output = 7 x deltas + 3."""
    assert isinstance(s.input_tokens, int) and s.input_tokens > 1000, s.input_tokens
    assert isinstance(s.output_tokens, int) and s.output_tokens % 7 == 3, s.output_tokens


def assert_same_usage(ex: Exchange) -> None:
    usage_rule_holds(ex.upstream)
    assert (ex.client.input_tokens, ex.client.output_tokens) == (
        ex.upstream.input_tokens,
        ex.upstream.output_tokens,
    ), "usage changed on the way through the router"
