"""The vendors' SDKs set up for Amazon Bedrock, pointed at Outcrop.

AWS serves OpenAI's and Anthropic's APIs for Bedrock models on two endpoints:
bedrock-runtime (OpenAI under /openai/v1, Anthropic under /anthropic/v1,
SigV4 for the service "bedrock" or a Bedrock API key) and bedrock-mantle
(OpenAI under /v1 and /openai/v1, Anthropic under /anthropic/v1, SigV4 for
"bedrock-mantle" or an API key). The openai SDK's `bedrock` provider and
the anthropic SDK's AnthropicBedrockMantle sign for whichever endpoint they
are set up for; AnthropicBedrock calls InvokeModel with Messages bodies.
Outcrop answers all of them on its one listener.
"""

import anthropic
import openai
import pytest
from anthropic import AnthropicBedrock
from anthropic.lib.bedrock import AnthropicBedrockMantle
from openai import OpenAI
from openai.providers import bedrock

from conftest import REGION

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


def openai_client(target, endpoint, path, sigv4=True, secret=None):
    if sigv4:
        provider = bedrock(
            endpoint=endpoint, region=REGION, base_url=target.url + path, api_key=None,
            access_key_id=target.key_id, secret_access_key=secret or target.secret,
        )
    else:
        provider = bedrock(endpoint=endpoint, region=REGION, base_url=target.url + path, api_key=target.api_key)
    return OpenAI(provider=provider, max_retries=0)


@pytest.mark.parametrize(
    "endpoint,path,sigv4",
    [
        ("runtime", "/openai/v1", True),
        ("runtime", "/openai/v1", False),
        ("mantle", "/v1", True),
        ("mantle", "/openai/v1", False),
    ],
)
def test_openai_bedrock_provider(target, endpoint, path, sigv4):
    c = openai_client(target, endpoint, path, sigv4)
    r = c.chat.completions.create(model=target.model, messages=[{"role": "user", "content": "granite basalt shale"}])
    assert r.choices[0].message.content == "granite basalt shale"
    stream = c.chat.completions.create(
        model=target.model, messages=[{"role": "user", "content": "granite basalt"}], stream=True,
    )
    assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices) == "granite basalt"
    resp = c.responses.create(model=target.model, input="quartz feldspar")
    assert resp.output_text == "quartz feldspar"
    assert target.model in [m.id for m in c.models.list()]


def test_openai_bedrock_provider_bad_signature(target):
    c = openai_client(target, "runtime", "/openai/v1", secret="not-the-secret-key-at-all-0000000000000000")
    # OpenAI's shape for a caller that failed to authenticate: 401.
    with pytest.raises(openai.AuthenticationError) as e:
        c.chat.completions.create(model=target.model, messages=[{"role": "user", "content": "granite"}])
    assert "signature we calculated does not match" in str(e.value)


@pytest.mark.parametrize("sigv4", [True, False])
def test_anthropic_bedrock_mantle(target, sigv4):
    kw = dict(aws_access_key=target.key_id, aws_secret_key=target.secret) if sigv4 else dict(api_key=target.api_key)
    c = AnthropicBedrockMantle(aws_region=REGION, base_url=target.url + "/anthropic", max_retries=0, **kw)
    m = c.messages.create(model=target.model, max_tokens=100, messages=[{"role": "user", "content": "granite basalt shale"}])
    assert m.content[0].text == "granite basalt shale"
    with c.messages.stream(model=target.model, max_tokens=100, messages=[{"role": "user", "content": "granite basalt"}]) as s:
        assert "".join(s.text_stream) == "granite basalt"
    n = c.messages.count_tokens(model=target.model, messages=[{"role": "user", "content": "granite basalt"}])
    assert n.input_tokens > 0


def test_anthropic_bedrock_invoke_model(target):
    # AnthropicBedrock sends InvokeModel Messages bodies with the SDK's own
    # anthropic_version (a date), which Bedrock accepts beside bedrock-2023-05-31.
    c = AnthropicBedrock(
        aws_region=REGION, base_url=target.url, aws_access_key=target.key_id, aws_secret_key=target.secret, max_retries=0,
    )
    m = c.messages.create(model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": "granite basalt shale"}])
    assert m.content[0].text == "granite basalt shale"
    assert m.stop_reason == "end_turn"
    with c.messages.stream(model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": "granite basalt"}]) as s:
        assert "".join(s.text_stream) == "granite basalt"
    with pytest.raises(anthropic.BadRequestError):
        c.messages.create(model=CLAUDE, max_tokens=0, messages=[{"role": "user", "content": "granite"}])
