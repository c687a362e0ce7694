"""langchain-aws's ChatBedrockConverse, ChatBedrock and BedrockEmbeddings,
SigV4-signed, on the echo backend."""

import pytest
from langchain_aws import BedrockEmbeddings, ChatBedrock, ChatBedrockConverse
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool

from catalog_ids import CLAUDE


@tool
def get_weather(q: str) -> str:
    """Weather in a city."""
    return "sunny"


@pytest.fixture(scope="module")
def converse(target):
    return ChatBedrockConverse(model=target.model, **target.aws())


@pytest.fixture(scope="module", params=[CLAUDE, "converse"])
def chat_bedrock(request, target):
    # ChatBedrock writes Anthropic's native InvokeModel body for Claude IDs,
    # and calls Converse when asked to.
    if request.param == "converse":
        return ChatBedrock(model_id=target.model, beta_use_converse_api=True, **target.aws())
    return ChatBedrock(model_id=request.param, **target.aws())


def test_converse_invoke(converse):
    msg = converse.invoke([SystemMessage("You are terse."), HumanMessage("granite basalt shale")])
    assert msg.content == "granite basalt shale"
    assert msg.response_metadata["stopReason"] == "end_turn"
    assert msg.usage_metadata["output_tokens"] == 3


def test_converse_stream(converse):
    full = None
    for c in converse.stream("granite basalt shale"):
        full = c if full is None else full + c
    assert full.text == "granite basalt shale"
    assert full.usage_metadata["output_tokens"] == 3


def test_converse_tools(converse):
    with_tools = converse.bind_tools([get_weather])
    msg = with_tools.invoke("tool:get_weather")
    assert msg.tool_calls[0]["name"] == "get_weather"
    assert msg.tool_calls[0]["args"] == {"q": "echo"}
    answer = with_tools.invoke([HumanMessage("tool:get_weather"), msg, get_weather.invoke(msg.tool_calls[0])])
    assert "sunny" in answer.text


def test_converse_stream_tools(converse):
    full = None
    for c in converse.bind_tools([get_weather]).stream("tool:get_weather"):
        full = c if full is None else full + c
    assert full.tool_calls[0]["name"] == "get_weather"
    assert full.tool_calls[0]["args"] == {"q": "echo"}


def test_chat_bedrock_invoke(chat_bedrock):
    msg = chat_bedrock.invoke([SystemMessage("You are terse."), HumanMessage("granite basalt shale")])
    assert msg.text == "granite basalt shale"


def test_chat_bedrock_stream(chat_bedrock):
    text = "".join(c.text for c in chat_bedrock.stream("granite basalt shale"))
    assert text == "granite basalt shale"


def test_chat_bedrock_tools(chat_bedrock):
    msg = chat_bedrock.bind_tools([get_weather]).invoke("tool:get_weather")
    assert msg.tool_calls[0]["name"] == "get_weather"
    assert msg.tool_calls[0]["args"] == {"q": "echo"}


def test_embeddings(target):
    emb = BedrockEmbeddings(model_id="amazon.titan-embed-text-v1", **target.aws())
    assert emb.embed_query("a b") == [3.0, 2.0, 1.0, 0.0]
    assert emb.embed_documents(["a b", "c"]) == [[3.0, 2.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0]]
