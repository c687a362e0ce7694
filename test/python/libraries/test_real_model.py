"""One smoke test per client against the built-in engine with the real
default weights (SmolLM2-135M-Instruct and all-MiniLM-L6-v2), through the
Bedrock IDs and the built-in IDs of the default catalog. A 135M model's
words are not predictable: these tests check shapes, not wording, except
where decoding is constrained to JSON."""

import json

import pytest
from anthropic import Anthropic
from langchain_anthropic import ChatAnthropic
from langchain_aws import BedrockEmbeddings, ChatBedrock, ChatBedrockConverse
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from openai import OpenAI
from pydantic import BaseModel

from catalog_ids import CLAUDE

SMOL = "outcrop.smollm2-135m-instruct"
MINILM = "outcrop.all-minilm-l6-v2"
QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module", autouse=True)
def local(target):
    if not target.local:
        pytest.skip("needs the built-in engine: run via `go test -run TestPythonLibrariesLocal ./internal/server/`")


def chat_openai(target, **kw):
    return ChatOpenAI(model=SMOL, base_url=target.openai_base, api_key=target.api_key,
                      max_retries=0, temperature=0, **kw)


def test_openai_sdk(target):
    c = OpenAI(base_url=target.openai_base, api_key=target.api_key, max_retries=0)
    r = c.chat.completions.create(model=SMOL, max_tokens=20, temperature=0,
                                  messages=[{"role": "user", "content": QUESTION}])
    assert r.choices[0].message.content.strip()
    assert r.choices[0].finish_reason in ("stop", "length")
    e = c.embeddings.create(model=MINILM, input=["granite", "basalt"])
    assert len(e.data) == 2 and len(e.data[0].embedding) == 384


def test_anthropic_sdk(target):
    a = Anthropic(base_url=target.url, api_key=target.api_key, max_retries=0)
    m = a.messages.create(model=CLAUDE, max_tokens=20,
                          messages=[{"role": "user", "content": QUESTION}])
    assert m.content[0].text.strip()
    assert m.stop_reason in ("end_turn", "max_tokens")
    with a.messages.stream(model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": QUESTION}]) as s:
        assert "".join(s.text_stream).strip()


def test_chat_openai(target):
    llm = chat_openai(target, max_tokens=20)
    assert llm.invoke(QUESTION).content.strip()
    assert "".join(c.content for c in llm.stream(QUESTION)).strip()


class Capital(BaseModel):
    country: str
    city: str


def test_chat_openai_json_schema(target):
    llm = chat_openai(target, max_tokens=60).with_structured_output(Capital, method="json_schema")
    out = llm.invoke("France's capital city, as JSON with keys country and city.")
    assert isinstance(out, Capital)
    assert out.country and out.city


def test_chat_openai_json_mode(target):
    llm = chat_openai(target, max_tokens=60).with_structured_output(method="json_mode")
    out = llm.invoke('Answer in JSON: {"country": ..., "city": ...} for the capital of France.')
    assert isinstance(out, dict)
    json.dumps(out)


def test_openai_embeddings(target):
    emb = OpenAIEmbeddings(model=MINILM, base_url=target.openai_base, api_key=target.api_key,
                           max_retries=0, check_embedding_ctx_length=False)
    v = emb.embed_query("granite")
    assert len(v) == 384
    assert abs(sum(x * x for x in v) - 1) < 1e-3


def test_chat_anthropic(target):
    llm = ChatAnthropic(model=CLAUDE, base_url=target.url, api_key=target.api_key,
                        max_retries=0, max_tokens=20, temperature=0)
    assert llm.invoke(QUESTION).text.strip()
    assert "".join(c.text for c in llm.stream(QUESTION)).strip()


def test_chat_bedrock_converse(target):
    llm = ChatBedrockConverse(model=SMOL, max_tokens=20, temperature=0, **target.aws())
    assert llm.invoke(QUESTION).text.strip()
    assert "".join(c.text for c in llm.stream(QUESTION)).strip()


def test_chat_bedrock(target):
    llm = ChatBedrock(model_id=CLAUDE, model_kwargs={"max_tokens": 20, "temperature": 0}, **target.aws())
    assert llm.invoke(QUESTION).text.strip()


def test_bedrock_embeddings(target):
    # BedrockEmbeddings' own default model, Titan Embeddings G1.
    emb = BedrockEmbeddings(**target.aws())
    v = emb.embed_documents(["granite", "basalt"])
    assert len(v) == 2 and len(v[0]) == 384



def test_chat_openai_function_calling(target):
    # The built-in engine has no native tools: Outcrop prompts for the call
    # and constrains it to JSON (the tools-prompted adaptation).
    llm = chat_openai(target, max_tokens=60).with_structured_output(Capital, method="function_calling")
    assert isinstance(llm.invoke("France's capital city, as JSON with keys country and city."), Capital)


def test_chat_anthropic_structured(target):
    llm = ChatAnthropic(model=CLAUDE, base_url=target.url, api_key=target.api_key, max_retries=0, max_tokens=60)
    for method in ("json_schema", "function_calling"):
        out = llm.with_structured_output(Capital, method=method).invoke(
            "France's capital city, as JSON with keys country and city.")
        assert isinstance(out, Capital), method


def test_chat_bedrock_converse_structured(target):
    # Under a Claude ID langchain-aws forces the tool (toolChoice tool); for
    # IDs it does not know it leaves the choice to the model, and a 135M
    # model may answer in prose.
    llm = ChatBedrockConverse(model=CLAUDE, max_tokens=60, **target.aws())
    out = llm.with_structured_output(Capital).invoke("France's capital city, as JSON with keys country and city.")
    assert isinstance(out, Capital)
