"""Fixtures of the SDK black-box tests (contract in README.md)."""

from __future__ import annotations

import anthropic
import openai
import pytest

import surfaces
from harness import CLIENT_KEY, CLIENT_TIMEOUT, DIRECT, MOCK_URL, ROUTER_URL, Mock, base_url


@pytest.fixture(scope="session")
def mock_url() -> str:
    if not MOCK_URL:
        pytest.fail("ANVIL_MOCK_URL is not set (see tests/sdk/README.md)")
    if not DIRECT and not ROUTER_URL:
        pytest.fail("ANVIL_URL is not set and ANVIL_DIRECT is not 1 (see tests/sdk/README.md)")
    return MOCK_URL


@pytest.fixture(autouse=True)
def mock(mock_url: str) -> Mock:
    m = Mock(mock_url)
    m.reset()
    return m


# one client of each SDK for the whole run, as a long-lived application would keep (its
# connection pool included: a stream broken by an earlier test must not poison later ones)
@pytest.fixture(scope="session")
def anthropic_client(mock_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url(), api_key=CLIENT_KEY, timeout=CLIENT_TIMEOUT, max_retries=0)


@pytest.fixture(scope="session")
def openai_client(mock_url: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url() + "/v1", api_key=CLIENT_KEY, timeout=CLIENT_TIMEOUT, max_retries=0
    )


@pytest.fixture
def surface_of(anthropic_client, openai_client):
    def make(name: str) -> surfaces.Surface:
        return surfaces.surface_for(name, anthropic_client, openai_client)

    return make
