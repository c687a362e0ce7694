"""bedrock-runtime through boto3 against an Outcrop test server."""

import json

import boto3
import botocore.exceptions
import pytest

from conftest import NO_RETRY, REGION

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}
TOOL_CONFIG = {"tools": [{"toolSpec": {"name": "lookup", "description": "Look something up.",
                                       "inputSchema": {"json": SCHEMA}}}]}


def user(text):
    return [{"role": "user", "content": [{"text": text}]}]


def kind(event):
    """The one member name of a stream event."""
    (name,) = event.keys()
    return name


class Wire:
    """Records the headers and URL of each request a client sends."""

    def __init__(self, client):
        self.requests = []
        client.meta.events.register("before-send", self._record)

    def _record(self, request, **_):
        self.requests.append(request)

    @property
    def last(self):
        return self.requests[-1]


def test_converse(runtime, target):
    out = runtime.converse(modelId=target.model, messages=user("hello outcrop world"),
                           system=[{"text": "be brief"}])
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert out["output"]["message"] == {"role": "assistant", "content": [{"text": "hello outcrop world"}]}
    assert out["stopReason"] == "end_turn"
    assert out["usage"]["inputTokens"] == 5
    assert out["usage"]["outputTokens"] == 3
    assert out["usage"]["totalTokens"] == 8
    assert isinstance(out["metrics"]["latencyMs"], int)


def test_converse_max_tokens(runtime, target):
    out = runtime.converse(modelId=target.model, messages=user("one two three four"),
                           inferenceConfig={"maxTokens": 2, "temperature": 0.5})
    assert out["output"]["message"]["content"] == [{"text": "one two"}]
    assert out["stopReason"] == "max_tokens"


def test_converse_tool_use(runtime, target):
    out = runtime.converse(modelId=target.model, messages=user("tool:lookup"), toolConfig=TOOL_CONFIG)
    assert out["stopReason"] == "tool_use"
    assert out["output"]["message"]["content"] == [
        {"toolUse": {"toolUseId": "tooluse_echo1", "name": "lookup", "input": {"q": "echo"}}}]


def test_converse_stream(runtime, target):
    out = runtime.converse_stream(modelId=target.model, messages=user("one two three STOP four"),
                                  inferenceConfig={"stopSequences": ["STOP"]})
    events = list(out["stream"])
    assert [kind(e) for e in events] == [
        "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
        "contentBlockStop", "messageStop", "metadata"]
    assert events[0]["messageStart"] == {"role": "assistant"}
    deltas = [e["contentBlockDelta"] for e in events if kind(e) == "contentBlockDelta"]
    assert "".join(d["delta"]["text"] for d in deltas) == "one two three"
    assert all(d["contentBlockIndex"] == 0 for d in deltas)
    assert events[4]["contentBlockStop"] == {"contentBlockIndex": 0}
    assert events[5]["messageStop"]["stopReason"] == "stop_sequence"
    meta = events[6]["metadata"]
    assert meta["usage"]["inputTokens"] == 5
    assert meta["usage"]["outputTokens"] == 3
    assert meta["usage"]["totalTokens"] == 8
    assert isinstance(meta["metrics"]["latencyMs"], int)


def test_converse_stream_tool_use(runtime, target):
    out = runtime.converse_stream(modelId=target.model, messages=user("tool:lookup"), toolConfig=TOOL_CONFIG)
    events = list(out["stream"])
    assert [kind(e) for e in events] == [
        "messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockDelta",
        "contentBlockStop", "messageStop", "metadata"]
    start = events[1]["contentBlockStart"]
    assert start["start"]["toolUse"]["name"] == "lookup"
    assert start["start"]["toolUse"]["toolUseId"] == "tooluse_echo1"
    index = start["contentBlockIndex"]
    deltas = [e["contentBlockDelta"] for e in events if kind(e) == "contentBlockDelta"]
    assert all(d["contentBlockIndex"] == index for d in deltas)
    assert json.loads("".join(d["delta"]["toolUse"]["input"] for d in deltas)) == {"q": "echo"}
    assert events[5]["messageStop"]["stopReason"] == "tool_use"


def test_converse_stream_error_after_start(runtime, target):
    out = runtime.converse_stream(modelId=target.model, messages=user("failmid:throttled"))
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    seen = []
    with pytest.raises(botocore.exceptions.EventStreamError) as err:
        for event in out["stream"]:
            seen.append(event)
    # botocore names an in-stream exception by its event type, the union member.
    assert err.value.response["Error"]["Code"] == "throttlingException"
    assert err.value.response["Error"]["Message"]
    assert [kind(e) for e in seen][:2] == ["messageStart", "contentBlockDelta"]
    assert seen[1]["contentBlockDelta"]["delta"]["text"] == "partial"


def test_converse_stream_error_before_start(runtime, target):
    with pytest.raises(runtime.exceptions.ThrottlingException) as err:
        runtime.converse_stream(modelId=target.model, messages=user("fail:throttled"))
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def invoke_body(text):
    return json.dumps({"messages": user(text)})


def test_invoke_model_without_content_type(runtime, target):
    wire = Wire(runtime)
    out = runtime.invoke_model(modelId=target.model, body=invoke_body("alpha beta"))
    # The point of this test: boto3 sends InvokeModel with no Content-Type.
    assert "Content-Type" not in wire.last.headers
    assert out["contentType"] == "application/json"
    body = json.loads(out["body"].read())
    assert body["output"]["message"]["content"] == [{"text": "alpha beta"}]
    assert body["stopReason"] == "end_turn"
    assert body["usage"]["outputTokens"] == 2


def test_invoke_model_with_content_type(runtime, target):
    out = runtime.invoke_model(modelId=target.model, body=invoke_body("alpha beta"),
                               contentType="application/json", accept="application/json")
    assert json.loads(out["body"].read())["output"]["message"]["content"] == [{"text": "alpha beta"}]


def test_invoke_model_arn(runtime, target):
    wire = Wire(runtime)
    out = runtime.invoke_model(modelId=target.model_arn, body=invoke_body("gamma delta"))
    # The ARN travels percent-encoded in the path (and is signed encoded twice).
    assert "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2F" in wire.last.url
    assert json.loads(out["body"].read())["output"]["message"]["content"] == [{"text": "gamma delta"}]


def test_invoke_model_with_response_stream(runtime, target):
    out = runtime.invoke_model_with_response_stream(modelId=target.model, body=invoke_body("a b c"))
    assert out["contentType"] == "application/json"
    chunks = [json.loads(e["chunk"]["bytes"]) for e in out["body"]]
    assert [next(iter(c)) for c in chunks[:-1]] == [
        "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
        "contentBlockStop", "messageStop"]
    text = "".join(c["contentBlockDelta"]["delta"]["text"] for c in chunks if "contentBlockDelta" in c)
    assert text == "a b c"
    last = chunks[-1]
    assert "metadata" in last
    metrics = last["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == 3
    assert metrics["outputTokenCount"] == 3
    assert isinstance(metrics["invocationLatency"], int)
    assert isinstance(metrics["firstByteLatency"], int)
    assert all("amazon-bedrock-invocationMetrics" not in c for c in chunks[:-1])


def test_invoke_model_with_response_stream_arn(runtime, target):
    out = runtime.invoke_model_with_response_stream(modelId=target.model_arn, body=invoke_body("x y"))
    chunks = [json.loads(e["chunk"]["bytes"]) for e in out["body"]]
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 2


def test_count_tokens(runtime, target):
    out = runtime.count_tokens(modelId=target.model,
                               input={"converse": {"messages": user("four words right here")}})
    assert out["inputTokens"] == 4
    out = runtime.count_tokens(modelId=target.model,
                               input={"invokeModel": {"body": invoke_body("three words here")}})
    assert out["inputTokens"] == 3


UNKNOWN_KEY_ID = "AKIAUNKNOWNUNKNOWN00"

ERRORS = [
    # id, client kwargs, modelId (None: the echo model), messages, code, status, message (None: any)
    ("unknown model", {}, "amazon.nope-v1", user("hi"), "ValidationException", 400,
     "The provided model identifier is invalid."),
    ("wrong secret", {"secret": "wrong"}, None, user("hi"), "InvalidSignatureException", 403, None),
    ("unknown key", {"key_id": UNKNOWN_KEY_ID}, None, user("hi"), "UnrecognizedClientException", 403, None),
    ("throttled", {}, None, user("fail:throttled"), "ThrottlingException", 429, None),
    ("roles not alternating", {}, None, user("one") + user("two"), "ValidationException", 400,
     "A conversation must alternate between user and assistant roles. "
     "Make sure the conversation alternates between user and assistant roles and try again."),
    ("assistant first", {}, None, [{"role": "assistant", "content": [{"text": "x"}]}], "ValidationException", 400,
     "A conversation must start with a user message. Try again with a conversation that starts with a user message."),
    ("model timeout", {}, None, user("fail:timeout"), "ModelTimeoutException", 408, None),
    ("model error", {}, None, user("fail:model"), "ModelErrorException", 424, None),
    ("unavailable", {}, None, user("fail:unavailable"), "ServiceUnavailableException", 503, None),
]


@pytest.mark.parametrize("op", ["converse", "invoke_model"])
@pytest.mark.parametrize("name,creds,model,messages,code,status,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(target, op, name, creds, model, messages, code, status, message):
    client = target.client("bedrock-runtime", **creds)
    model = model or target.model
    with pytest.raises(botocore.exceptions.ClientError) as err:
        if op == "converse":
            client.converse(modelId=model, messages=messages)
        else:
            client.invoke_model(modelId=model, body=json.dumps({"messages": messages}))
    got = err.value.response
    assert (got["Error"]["Code"], got["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    if message is not None:
        assert got["Error"]["Message"] == message
    assert got["ResponseMetadata"]["RequestId"]
    # Modelled errors arrive as the client's own exception classes.
    if hasattr(client.exceptions, code):
        assert isinstance(err.value, getattr(client.exceptions, code))


def bearer_client(target, monkeypatch, token):
    # botocore switches to bearer auth when this variable is set, even though
    # the client also has SigV4 credentials.
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", token)
    return target.client("bedrock-runtime")


def test_api_key(target, monkeypatch):
    client = bearer_client(target, monkeypatch, target.api_key)
    wire = Wire(client)
    out = client.converse(modelId=target.model, messages=user("hello bearer"))
    assert wire.last.headers["Authorization"] == b"Bearer " + target.api_key.encode()
    assert out["output"]["message"]["content"] == [{"text": "hello bearer"}]

    stream = client.converse_stream(modelId=target.model, messages=user("streamed bearer"))
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in stream["stream"] if "contentBlockDelta" in e)
    assert text == "streamed bearer"
    assert wire.last.headers["Authorization"].startswith(b"Bearer ")

    out = client.invoke_model(modelId=target.model_arn, body=invoke_body("invoked bearer"))
    assert wire.last.headers["Authorization"].startswith(b"Bearer ")
    assert json.loads(out["body"].read())["output"]["message"]["content"] == [{"text": "invoked bearer"}]


def test_api_key_unknown(target, monkeypatch):
    client = bearer_client(target, monkeypatch, "bedrock-api-key-bm9wZQ==")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client.converse(modelId=target.model, messages=user("hi"))
    got = err.value.response
    assert (got["Error"]["Code"], got["ResponseMetadata"]["HTTPStatusCode"]) == ("UnrecognizedClientException", 403)
