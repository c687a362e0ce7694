"""The openai Python SDK against the OpenAI dialect, on the echo backend."""

import json

import openai
import pytest
from openai import OpenAI

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    },
}


@pytest.fixture(scope="module")
def client(target):
    return OpenAI(base_url=target.openai_base, api_key=target.api_key, max_retries=0)


def test_chat(client, target):
    r = client.chat.completions.create(
        model=target.model,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "granite basalt shale"},
        ],
    )
    assert r.choices[0].message.content == "granite basalt shale"
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.role == "assistant"
    assert r.usage.completion_tokens == 3
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.model == target.model


def test_chat_max_tokens(client, target):
    r = client.chat.completions.create(
        model=target.model, max_completion_tokens=2,
        messages=[{"role": "user", "content": "one two three four"}],
    )
    assert r.choices[0].message.content == "one two"
    assert r.choices[0].finish_reason == "length"


def test_stream(client, target):
    stream = client.chat.completions.create(
        model=target.model, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "granite basalt shale"}],
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert text == "granite basalt shale"
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == 3


def test_stream_helper(client, target):
    with client.chat.completions.stream(
        model=target.model, messages=[{"role": "user", "content": "granite basalt"}],
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "granite basalt"


def test_tools(client, target):
    r = client.chat.completions.create(
        model=target.model, tools=[WEATHER],
        messages=[{"role": "user", "content": "tool:get_weather"}],
    )
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls"
    call = msg.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"q": "echo"}

    # The tool's answer goes back in a tool message.
    r2 = client.chat.completions.create(
        model=target.model, tools=[WEATHER],
        messages=[
            {"role": "user", "content": "tool:get_weather"},
            msg.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
    )
    assert "sunny" in r2.choices[0].message.content


def test_stream_tools(client, target):
    stream = client.chat.completions.create(
        model=target.model, tools=[WEATHER], stream=True,
        messages=[{"role": "user", "content": "tool:get_weather"}],
    )
    name, args, finish = "", "", None
    for chunk in stream:
        for c in chunk.choices:
            for tc in c.delta.tool_calls or []:
                name += (tc.function.name or "") if tc.function else ""
                args += (tc.function.arguments or "") if tc.function else ""
            finish = c.finish_reason or finish
    assert name == "get_weather"
    assert json.loads(args) == {"q": "echo"}
    assert finish == "tool_calls"


def test_embeddings(client, target):
    r = client.embeddings.create(model=target.embed_model, input=["a b", "c"])
    assert [d.index for d in r.data] == [0, 1]
    assert r.data[0].embedding == [3.0, 2.0, 1.0, 0.0]
    assert r.usage.prompt_tokens == 3
    # The SDK asks for base64 by default when numpy is present and decodes it; ask explicitly too.
    b = client.embeddings.create(model=target.embed_model, input="a b", encoding_format="base64")
    assert isinstance(b.data[0].embedding, str)


def test_models(client, target):
    ids = [m.id for m in client.models.list()]
    assert target.model in ids
    assert client.models.retrieve(target.model).id == target.model


def test_bad_request(client, target):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=target.embed_model, messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 400
    assert isinstance(e.value.body, dict) and e.value.body.get("message")


def test_not_found(client, target):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])


def test_rate_limit(client, target):
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model=target.model, messages=[{"role": "user", "content": "fail:throttled"}])
    assert e.value.status_code == 429


def test_auth(target):
    bad = OpenAI(base_url=target.openai_base, api_key="not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model=target.model, messages=[{"role": "user", "content": "x"}])
