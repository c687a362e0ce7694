"""The anthropic Python SDK against the Anthropic dialect, on the echo backend."""

import anthropic
import pytest
from anthropic import Anthropic

WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
}


@pytest.fixture(scope="module")
def client(target):
    return Anthropic(base_url=target.url, api_key=target.api_key, max_retries=0)


def test_messages(client, target):
    m = client.messages.create(
        model=target.model, max_tokens=100, system="You are terse.",
        messages=[{"role": "user", "content": "granite basalt shale"}],
    )
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].type == "text"
    assert m.content[0].text == "granite basalt shale"
    assert m.stop_reason == "end_turn"
    assert m.usage.output_tokens == 3


def test_stop_sequence(client, target):
    m = client.messages.create(
        model=target.model, max_tokens=100, stop_sequences=["basalt"],
        messages=[{"role": "user", "content": "granite basalt shale"}],
    )
    assert m.content[0].text == "granite"
    assert m.stop_reason == "stop_sequence" and m.stop_sequence == "basalt"


def test_stream(client, target):
    with client.messages.stream(
        model=target.model, max_tokens=100,
        messages=[{"role": "user", "content": "granite basalt shale"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "granite basalt shale"
    assert final.content[0].text == "granite basalt shale"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3


def test_stream_events(client, target):
    events = client.messages.create(
        model=target.model, max_tokens=100, stream=True,
        messages=[{"role": "user", "content": "granite basalt"}],
    )
    types = [e.type for e in events]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert "content_block_start" in types and "content_block_delta" in types
    assert "content_block_stop" in types and "message_delta" in types


def test_tools(client, target):
    m = client.messages.create(
        model=target.model, max_tokens=100, tools=[WEATHER],
        messages=[{"role": "user", "content": "tool:get_weather"}],
    )
    assert m.stop_reason == "tool_use"
    use = next(b for b in m.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"q": "echo"}

    m2 = client.messages.create(
        model=target.model, max_tokens=100, tools=[WEATHER],
        messages=[
            {"role": "user", "content": "tool:get_weather"},
            {"role": "assistant", "content": m.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
        ],
    )
    assert "sunny" in m2.content[0].text


def test_stream_tools(client, target):
    with client.messages.stream(
        model=target.model, max_tokens=100, tools=[WEATHER],
        messages=[{"role": "user", "content": "tool:get_weather"}],
    ) as stream:
        final = stream.get_final_message()
    use = next(b for b in final.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input == {"q": "echo"}
    assert final.stop_reason == "tool_use"


def test_count_tokens(client, target):
    r = client.messages.count_tokens(model=target.model, messages=[{"role": "user", "content": "a b c"}])
    assert r.input_tokens == 3


def test_bad_request(client, target):
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model=target.model, max_tokens=0, messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 400
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "invalid_request_error"


def test_rate_limit(client, target):
    with pytest.raises(anthropic.RateLimitError) as e:
        client.messages.create(model=target.model, max_tokens=10, messages=[{"role": "user", "content": "fail:throttled"}])
    assert e.value.status_code == 429
    assert e.value.body["error"]["type"] == "rate_limit_error"


def test_auth(target):
    bad = Anthropic(base_url=target.url, api_key="not-a-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model=target.model, max_tokens=10, messages=[{"role": "user", "content": "x"}])


def test_vendor_model_name(client):
    # Anthropic's own name for a model the catalog holds under its Bedrock ID.
    m = client.messages.create(
        model="claude-3-haiku-20240307", max_tokens=100,
        messages=[{"role": "user", "content": "granite basalt"}],
    )
    assert m.content[0].text == "granite basalt"
    assert m.model == "claude-3-haiku-20240307"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="claude-sonnet-5", max_tokens=10, messages=[{"role": "user", "content": "granite"}])
