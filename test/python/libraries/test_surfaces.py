"""More of each library's surface on the echo backend: the Responses API
(openai SDK and ChatOpenAI(use_responses_api=True)), legacy completions,
errors inside a stream, async clients, images, Anthropic's model list, and
ChatBedrock / ChatBedrockConverse / BedrockEmbeddings over every family
whose native body LangChain writes (langchain-aws has no ChatBedrock chat
for Cohere or AI21)."""

import base64
import json

import anthropic
import openai
import pytest
from openai import OpenAI
from anthropic import Anthropic
from langchain_openai import ChatOpenAI
from langchain_anthropic import ChatAnthropic
from langchain_aws import BedrockEmbeddings, ChatBedrock, ChatBedrockConverse
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from catalog_ids import CLAUDE

@tool
def get_weather(q: str) -> str:
    """Weather in a city."""
    return "sunny"

def oc(t): return OpenAI(base_url=t.openai_base, api_key=t.api_key, max_retries=0)
def ac(t): return Anthropic(base_url=t.url, api_key=t.api_key, max_retries=0)

def test_openai_stream_error(target):
    with pytest.raises(openai.APIError) as e:
        for _ in oc(target).chat.completions.create(model=target.model, stream=True, messages=[{"role":"user","content":"failmid:throttled"}]):
            pass

def test_anthropic_stream_error(target):
    with pytest.raises(anthropic.APIError) as e:
        with ac(target).messages.stream(model=target.model, max_tokens=10, messages=[{"role":"user","content":"failmid:throttled"}]) as s:
            for _ in s: pass

def test_responses(target):
    c = oc(target)
    r = c.responses.create(model=target.model, input="granite basalt")
    assert r.output_text == "granite basalt"
    with c.responses.stream(model=target.model, input="granite basalt") as s:
        for _ in s: pass
        f = s.get_final_response()
    assert f.output_text == "granite basalt"
    r = c.responses.create(model=target.model, input="tool:get_weather", tools=[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}])
    fc = [o for o in r.output if o.type == "function_call"][0]
    assert fc.name == "get_weather" and json.loads(fc.arguments) == {"q":"echo"}

def test_chatopenai_responses(target):
    llm = ChatOpenAI(model=target.model, base_url=target.openai_base, api_key=target.api_key, max_retries=0, use_responses_api=True)
    assert llm.invoke("granite basalt").text == "granite basalt"
    full = None
    for c in llm.stream("granite basalt"):
        full = c if full is None else full + c
    assert full.text == "granite basalt"
    m = llm.bind_tools([get_weather]).invoke("tool:get_weather")
    assert m.tool_calls[0]["args"] == {"q": "echo"}

def test_completions(target):
    r = oc(target).completions.create(model=target.model, prompt="granite basalt", max_tokens=10)
    assert r.choices[0].text == "granite basalt"

def test_anthropic_models(target):
    ids = [m.id for m in ac(target).models.list()]
    assert CLAUDE in ids
    assert ac(target).models.retrieve(CLAUDE).id == CLAUDE

def test_anthropic_image(target):
    import base64
    png = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c626001000000ffff03000006000557bfabd40000000049454e44ae426082")).decode()
    m = ac(target).messages.create(model=target.model, max_tokens=10, messages=[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":png}},{"type":"text","text":"granite"}]}])
    assert m.content[0].text == "granite"

def test_chatanthropic_stream_tools(target):
    llm = ChatAnthropic(model=CLAUDE, base_url=target.url, api_key=target.api_key, max_retries=0)
    full = None
    for c in llm.bind_tools([get_weather]).stream("tool:get_weather"):
        full = c if full is None else full + c
    assert full.tool_calls[0]["args"] == {"q": "echo"}

def test_openai_raw_headers(target):
    r = oc(target).chat.completions.with_raw_response.create(model=target.model, messages=[{"role":"user","content":"x"}])
    assert r.headers.get("x-request-id")
    assert r.parse().choices[0].message.content == "x"

def test_openai_embed_dims(target):
    r = oc(target).embeddings.create(model=target.embed_model, input="a", dimensions=4)
    assert len(r.data[0].embedding) == 4

def test_async_openai(target):
    import asyncio
    from openai import AsyncOpenAI
    async def go():
        c = AsyncOpenAI(base_url=target.openai_base, api_key=target.api_key, max_retries=0)
        r = await c.chat.completions.create(model=target.model, messages=[{"role":"user","content":"a b"}])
        s = await c.chat.completions.create(model=target.model, stream=True, messages=[{"role":"user","content":"a b"}])
        t = ""
        async for ch in s:
            for cc in ch.choices: t += cc.delta.content or ""
        return r.choices[0].message.content, t
    assert asyncio.run(go()) == ("a b", "a b")

def test_chatanthropic_ainvoke(target):
    import asyncio
    llm = ChatAnthropic(model=CLAUDE, base_url=target.url, api_key=target.api_key, max_retries=0)
    assert asyncio.run(llm.ainvoke("a b")).text == "a b"

# ChatBedrock sends Anthropic's Messages body to every Claude ID, Claude 2.1 included.
FAMS = ["meta.llama3-8b-instruct-v1:0", "mistral.mistral-7b-instruct-v0:2", "amazon.titan-text-express-v1",
        "amazon.nova-micro-v1:0", "anthropic.claude-v2:1"]
CONVERSE_ONLY = ["cohere.command-r-v1:0", "ai21.jamba-1-5-mini-v1:0"]

@pytest.mark.parametrize("mid", FAMS)
def test_chat_bedrock_families(target, mid):
    llm = ChatBedrock(model_id=mid, **target.aws())
    out = llm.invoke("granite basalt").text
    assert "granite basalt" in out
    st = "".join(c.text for c in llm.stream("granite basalt"))
    assert "granite basalt" in st

@pytest.mark.parametrize("mid", ["amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"])
def test_bedrock_embed_families(target, mid):
    emb = BedrockEmbeddings(model_id=mid, **target.aws())
    assert emb.embed_query("a b") == [3.0, 2.0, 1.0, 0.0]

@pytest.mark.parametrize("mid", FAMS + CONVERSE_ONLY)
def test_converse_families(target, mid):
    llm = ChatBedrockConverse(model=mid, **target.aws())
    assert llm.invoke("granite basalt").text == "granite basalt"


# Request options that programs pass and a backend may not use: accepted,
# never a 400.

OPTS = [dict(user="u1"), dict(store=False), dict(metadata={"a": "b"}), dict(n=1), dict(frequency_penalty=0.5),
        dict(presence_penalty=0.5), dict(logit_bias={"50256": -100}), dict(service_tier="auto"), dict(parallel_tool_calls=False, tools=[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]),
        dict(reasoning_effort="low"), dict(stop="basalt"), dict(max_tokens=5), dict(top_p=0.5, temperature=0.2, seed=1),
        dict(prediction={"type":"content","content":"x"}), dict(modalities=["text"]), dict(verbosity="low"), dict(safety_identifier="s"), dict(prompt_cache_key="k"),
        dict(tool_choice="none", tools=[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]),
        dict(tools=[{"type":"function","function":{"name":"f","strict":True,"parameters":{"type":"object","properties":{},"additionalProperties":False,"required":[]}}}])]

@pytest.mark.parametrize("kw", OPTS, ids=lambda k: ",".join(k))
def test_openai_opts(target, kw):
    r = oc(target).chat.completions.create(model=target.model, messages=[{"role":"developer","content":"x"},{"role":"user","content":"granite basalt"}], **kw)
    assert r.choices[0].message.content.startswith("granite")

def test_chatopenai_strict_tools(target):
    llm = ChatOpenAI(model=target.model, base_url=target.openai_base, api_key=target.api_key, max_retries=0)
    m = llm.bind_tools([get_weather], strict=True, parallel_tool_calls=False).invoke("tool:get_weather")
    assert m.tool_calls[0]["args"] == {"q": "echo"}

def test_chatopenai_reasoning(target):
    llm = ChatOpenAI(model=target.model, base_url=target.openai_base, api_key=target.api_key, max_retries=0, reasoning_effort="low", temperature=0.1, top_p=0.9, frequency_penalty=0.1, presence_penalty=0.1, seed=3, max_tokens=50, stop=["zzz"])
    assert llm.invoke("granite basalt").content == "granite basalt"

def test_converse_image_doc(target):
    png = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c626001000000ffff03000006000557bfabd40000000049454e44ae426082")).decode()
    llm = ChatBedrockConverse(model=target.model, region_name="us-east-1", endpoint_url=target.url, aws_access_key_id=target.key_id, aws_secret_access_key=target.secret, temperature=0.1, max_tokens=50, stop=["zzz"], top_p=0.9)
    m = llm.invoke([HumanMessage(content=[{"type":"image_url","image_url":{"url":"data:image/png;base64,"+png}}, {"type":"text","text":"granite"}])])
    assert m.text == "granite"

def test_chat_bedrock_stream_tools(target):
    llm = ChatBedrock(model_id=CLAUDE, region_name="us-east-1", endpoint_url=target.url, aws_access_key_id=target.key_id, aws_secret_access_key=target.secret)
    full = None
    for c in llm.bind_tools([get_weather]).stream("tool:get_weather"):
        full = c if full is None else full + c
    assert full.tool_calls[0]["args"] == {"q": "echo"}

def test_titan_v2_normalize(target):
    emb = BedrockEmbeddings(model_id="amazon.titan-embed-text-v2:0", normalize=True, region_name="us-east-1", endpoint_url=target.url, aws_access_key_id=target.key_id, aws_secret_access_key=target.secret)
    v = emb.embed_query("a b")
    assert abs(sum(x*x for x in v) - 1) < 1e-3

def test_anthropic_opts(target):
    a = Anthropic(base_url=target.url, api_key=target.api_key, max_retries=0)
    m = a.messages.create(model=target.model, max_tokens=20, metadata={"user_id": "u"},
                          system=[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],
                          messages=[{"role":"user","content":[{"type":"text","text":"granite","cache_control":{"type":"ephemeral"}}]}])
    assert m.content[0].text == "granite"
    m = a.messages.create(model=target.model, max_tokens=20, service_tier="auto", messages=[{"role":"user","content":"granite"}])
    assert m.content[0].text == "granite"
    m = a.messages.create(model=target.model, max_tokens=20, tool_choice={"type":"auto","disable_parallel_tool_use":True}, tools=[{"name":"f","input_schema":{"type":"object"}}], messages=[{"role":"user","content":"granite"}])
    assert m.content[0].text == "granite"
    m = a.messages.create(model=target.model, max_tokens=20, messages=[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"rock facts"}},{"type":"text","text":"granite"}]}])
    assert m.content[0].text == "granite"
