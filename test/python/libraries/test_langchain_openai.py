"""langchain-openai's ChatOpenAI and OpenAIEmbeddings, on the echo backend."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings


@tool
def get_weather(q: str) -> str:
    """Weather in a city."""
    return "sunny"


@pytest.fixture(scope="module")
def llm(target):
    return ChatOpenAI(model=target.model, base_url=target.openai_base, api_key=target.api_key, max_retries=0)


def test_invoke(llm):
    msg = llm.invoke([SystemMessage("You are terse."), HumanMessage("granite basalt shale")])
    assert isinstance(msg, AIMessage)
    assert msg.content == "granite basalt shale"
    assert msg.response_metadata["finish_reason"] == "stop"
    assert msg.usage_metadata["output_tokens"] == 3


def test_invoke_string(llm):
    assert llm.invoke("granite basalt").content == "granite basalt"


def test_stream(llm):
    chunks = list(llm.stream("granite basalt shale"))
    assert "".join(c.content for c in chunks) == "granite basalt shale"
    full = chunks[0]
    for c in chunks[1:]:
        full += c
    assert full.content == "granite basalt shale"


def test_stream_usage(target):
    llm = ChatOpenAI(model=target.model, base_url=target.openai_base, api_key=target.api_key,
                     max_retries=0, stream_usage=True)
    full = None
    for c in llm.stream("granite basalt shale"):
        full = c if full is None else full + c
    assert full.usage_metadata["output_tokens"] == 3


def test_bind_tools(llm):
    with_tools = llm.bind_tools([get_weather])
    msg = with_tools.invoke("tool:get_weather")
    assert msg.tool_calls[0]["name"] == "get_weather"
    assert msg.tool_calls[0]["args"] == {"q": "echo"}
    # Run the tool and send its result back, as LangChain's tool-calling guide does.
    history = [HumanMessage("tool:get_weather"), msg]
    for call in msg.tool_calls:
        history.append(get_weather.invoke(call))
    assert isinstance(history[-1], ToolMessage)
    answer = with_tools.invoke(history)
    assert "sunny" in answer.content


def test_bind_tools_stream(llm):
    full = None
    for c in llm.bind_tools([get_weather], tool_choice="get_weather").stream("tool:get_weather"):
        full = c if full is None else full + c
    assert full.tool_calls[0]["name"] == "get_weather"
    assert full.tool_calls[0]["args"] == {"q": "echo"}


def test_embeddings(target):
    emb = OpenAIEmbeddings(model=target.embed_model, base_url=target.openai_base, api_key=target.api_key,
                           max_retries=0, check_embedding_ctx_length=False)
    assert emb.embed_query("a b") == [3.0, 2.0, 1.0, 0.0]
    docs = emb.embed_documents(["a b", "c"])
    assert docs == [[3.0, 2.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0]]
