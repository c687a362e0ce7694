"""langchain-anthropic's ChatAnthropic, on the echo backend."""

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool

from catalog_ids import CLAUDE


@tool
def get_weather(q: str) -> str:
    """Weather in a city."""
    return "sunny"


@pytest.fixture(scope="module")
def llm(target):
    # ChatAnthropic asks for 4096 output tokens unless told otherwise:
    # serve it a model that allows that many.
    return ChatAnthropic(model=CLAUDE, base_url=target.url, api_key=target.api_key, max_retries=0)


def test_invoke(llm):
    msg = llm.invoke([SystemMessage("You are terse."), HumanMessage("granite basalt shale")])
    assert msg.content == "granite basalt shale"
    assert msg.response_metadata["stop_reason"] == "end_turn"
    assert msg.usage_metadata["output_tokens"] == 3


def test_stream(llm):
    full = None
    for c in llm.stream("granite basalt shale"):
        full = c if full is None else full + c
    assert full.text == "granite basalt shale"
    assert full.usage_metadata["output_tokens"] == 3


def test_bind_tools(llm):
    msg = llm.bind_tools([get_weather]).invoke("tool:get_weather")
    assert msg.tool_calls[0]["name"] == "get_weather"
    assert msg.tool_calls[0]["args"] == {"q": "echo"}
    answer = llm.bind_tools([get_weather]).invoke(
        [HumanMessage("tool:get_weather"), msg, get_weather.invoke(msg.tool_calls[0])])
    assert "sunny" in answer.text
