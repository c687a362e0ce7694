// bedrock-runtime through @aws-sdk/client-bedrock-runtime, over the SDK's
// default (HTTP/2, cleartext) request handler.
import assert from "node:assert/strict";
import { after, describe, test as nodeTest } from "node:test";

import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ThrottlingException,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";

import { clientOptions, header, invokeBody, kind, recordRequests, skip, target, user } from "./helpers.mjs";

const TOOL_CONFIG = {
  tools: [
    {
      toolSpec: {
        name: "lookup",
        description: "Look something up.",
        inputSchema: { json: { type: "object", properties: { q: { type: "string" } } } },
      },
    },
  ],
};

const decoder = new TextDecoder();

async function collect(stream) {
  const events = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** Asserts that promise rejects with an error of that name and status. */
async function rejectsWith(promise, name, status, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(`${err.name} ${err.$metadata?.httpStatusCode}`, `${name} ${status}`, err.message);
    if (message !== undefined) assert.equal(err.message, message);
    assert.ok(err.$metadata.requestId, "no request ID");
    return true;
  });
}

const AUTH = {
  // The root access key, signed with SigV4.
  sigv4: { options: () => ({}), todo: false },
  // A Bedrock API key; SigV4 credentials are configured too, the preference picks bearer auth.
  bearer: {
    options: () => ({ token: { token: target.apiKey }, authSchemePreference: ["httpBearerAuth"] }),
    todo: false,
  },
};

for (const [auth, { options: authOptions, todo }] of Object.entries(AUTH)) describe(`bedrock-runtime (${auth})`, { skip }, () => {
  const clients = [];
  function newClient(options = authOptions()) {
    const c = new BedrockRuntimeClient(clientOptions(options));
    clients.push(c);
    return c;
  }
  after(() => clients.forEach((c) => c.destroy()));
  const client = target && newClient();
  // test, marked TODO while a server bug breaks this auth mode.
  const test = (name, fn) => nodeTest(name, { todo }, fn);

  nodeTest("uses the SDK's default HTTP/2 handler", () => {
    // The point of this suite is h2c: keep whatever the SDK picks by default.
    assert.ok(client.config.requestHandler instanceof NodeHttp2Handler, client.config.requestHandler.constructor.name);
  });

  test("Converse", async () => {
    const out = await client.send(
      new ConverseCommand({ modelId: target.model, messages: user("hello outcrop world"), system: [{ text: "be brief" }] }),
    );
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.deepEqual(out.output.message, { role: "assistant", content: [{ text: "hello outcrop world" }] });
    assert.equal(out.stopReason, "end_turn");
    assert.deepEqual(
      [out.usage.inputTokens, out.usage.outputTokens, out.usage.totalTokens],
      [5, 3, 8],
    );
    assert.equal(typeof out.metrics.latencyMs, "number");
  });

  test("Converse with maxTokens", async () => {
    const out = await client.send(
      new ConverseCommand({ modelId: target.model, messages: user("one two three four"), inferenceConfig: { maxTokens: 2 } }),
    );
    assert.deepEqual(out.output.message.content, [{ text: "one two" }]);
    assert.equal(out.stopReason, "max_tokens");
  });

  test("Converse with tool use", async () => {
    const out = await client.send(
      new ConverseCommand({ modelId: target.model, messages: user("tool:lookup"), toolConfig: TOOL_CONFIG }),
    );
    assert.equal(out.stopReason, "tool_use");
    assert.deepEqual(out.output.message.content, [
      { toolUse: { toolUseId: "tooluse_echo1", name: "lookup", input: { q: "echo" } } },
    ]);
  });

  test("ConverseStream with a stop sequence", async () => {
    const out = await client.send(
      new ConverseStreamCommand({
        modelId: target.model,
        messages: user("one two three STOP four"),
        inferenceConfig: { stopSequences: ["STOP"] },
      }),
    );
    const events = await collect(out.stream);
    assert.deepEqual(events.map(kind), [
      "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
      "contentBlockStop", "messageStop", "metadata",
    ]);
    assert.equal(events[0].messageStart.role, "assistant");
    const deltas = events.filter((e) => e.contentBlockDelta).map((e) => e.contentBlockDelta);
    assert.equal(deltas.map((d) => d.delta.text).join(""), "one two three");
    assert.ok(deltas.every((d) => d.contentBlockIndex === 0));
    assert.equal(events[4].contentBlockStop.contentBlockIndex, 0);
    assert.equal(events[5].messageStop.stopReason, "stop_sequence");
    const { usage, metrics } = events[6].metadata;
    assert.deepEqual([usage.inputTokens, usage.outputTokens, usage.totalTokens], [5, 3, 8]);
    assert.equal(typeof metrics.latencyMs, "number");
  });

  test("ConverseStream with tool use", async () => {
    const out = await client.send(
      new ConverseStreamCommand({ modelId: target.model, messages: user("tool:lookup"), toolConfig: TOOL_CONFIG }),
    );
    const events = await collect(out.stream);
    assert.deepEqual(events.map(kind), [
      "messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockDelta",
      "contentBlockStop", "messageStop", "metadata",
    ]);
    const start = events[1].contentBlockStart;
    assert.deepEqual(start.start.toolUse, { toolUseId: "tooluse_echo1", name: "lookup" });
    const deltas = events.filter((e) => e.contentBlockDelta).map((e) => e.contentBlockDelta);
    assert.ok(deltas.every((d) => d.contentBlockIndex === start.contentBlockIndex));
    assert.deepEqual(JSON.parse(deltas.map((d) => d.delta.toolUse.input).join("")), { q: "echo" });
    assert.equal(events[5].messageStop.stopReason, "tool_use");
  });

  test("ConverseStream failing after the stream started", async () => {
    const out = await client.send(new ConverseStreamCommand({ modelId: target.model, messages: user("failmid:throttled") }));
    assert.equal(out.$metadata.httpStatusCode, 200);
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const event of out.stream) seen.push(event);
      })(),
      (err) => {
        assert.ok(err instanceof ThrottlingException, `${err.name}: ${err.message}`);
        assert.ok(err.message);
        return true;
      },
    );
    assert.deepEqual(seen.slice(0, 2).map(kind), ["messageStart", "contentBlockDelta"]);
    assert.equal(seen[1].contentBlockDelta.delta.text, "partial");
  });

  test("ConverseStream failing before the stream started", async () => {
    await rejectsWith(
      client.send(new ConverseStreamCommand({ modelId: target.model, messages: user("fail:throttled") })),
      "ThrottlingException",
      429,
    );
  });

  test("InvokeModel without a content type", async () => {
    // boto3 sends no Content-Type; the JS SDK fills in application/octet-stream.
    const c = newClient();
    const requests = recordRequests(c);
    const out = await c.send(new InvokeModelCommand({ modelId: target.model, body: invokeBody("alpha beta") }));
    assert.equal(header(requests.at(-1), "content-type"), "application/octet-stream");
    assert.equal(out.contentType, "application/json");
    const body = JSON.parse(decoder.decode(out.body));
    assert.deepEqual(body.output.message.content, [{ text: "alpha beta" }]);
    assert.equal(body.stopReason, "end_turn");
    assert.equal(body.usage.outputTokens, 2);
  });

  test("InvokeModel with a JSON content type", async () => {
    const out = await client.send(
      new InvokeModelCommand({
        modelId: target.model,
        body: invokeBody("alpha beta"),
        contentType: "application/json",
        accept: "application/json",
      }),
    );
    assert.deepEqual(JSON.parse(decoder.decode(out.body)).output.message.content, [{ text: "alpha beta" }]);
  });

  test("InvokeModel by model ARN", async () => {
    const c = newClient();
    const requests = recordRequests(c);
    const out = await c.send(new InvokeModelCommand({ modelId: target.modelArn, body: invokeBody("gamma delta") }));
    // The ARN travels percent-encoded in the path (and is signed encoded twice).
    assert.match(requests.at(-1).path, /^\/model\/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2F/);
    assert.deepEqual(JSON.parse(decoder.decode(out.body)).output.message.content, [{ text: "gamma delta" }]);
  });

  for (const by of ["id", "arn"]) {
    test(`InvokeModelWithResponseStream by ${by}`, async () => {
      const out = await client.send(
        new InvokeModelWithResponseStreamCommand({
          modelId: by === "id" ? target.model : target.modelArn,
          body: invokeBody("a b c"),
        }),
      );
      assert.equal(out.contentType, "application/json");
      const chunks = (await collect(out.body)).map((e) => JSON.parse(decoder.decode(e.chunk.bytes)));
      assert.deepEqual(chunks.slice(0, -1).map((c) => Object.keys(c)[0]), [
        "messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
        "contentBlockStop", "messageStop",
      ]);
      const text = chunks.filter((c) => c.contentBlockDelta).map((c) => c.contentBlockDelta.delta.text).join("");
      assert.equal(text, "a b c");
      const last = chunks.at(-1);
      assert.ok(last.metadata, `last chunk ${JSON.stringify(last)} lacks metadata`);
      const metrics = last["amazon-bedrock-invocationMetrics"];
      assert.equal(metrics.inputTokenCount, 3);
      assert.equal(metrics.outputTokenCount, 3);
      assert.equal(typeof metrics.invocationLatency, "number");
      assert.equal(typeof metrics.firstByteLatency, "number");
      assert.ok(chunks.slice(0, -1).every((c) => !("amazon-bedrock-invocationMetrics" in c)));
    });
  }

  test("CountTokens", async () => {
    let out = await client.send(
      new CountTokensCommand({ modelId: target.model, input: { converse: { messages: user("four words right here") } } }),
    );
    assert.equal(out.inputTokens, 4);
    out = await client.send(
      new CountTokensCommand({ modelId: target.model, input: { invokeModel: { body: invokeBody("three words here") } } }),
    );
    assert.equal(out.inputTokens, 3);
  });

  const errors = [
    // name, client options, modelId (undefined: the echo model), messages, error name, status, message
    ["unknown model", {}, "amazon.nope-v1", user("hi"), "ValidationException", 400, "The provided model identifier is invalid."],
    ["wrong secret", { secret: "wrong" }, undefined, user("hi"), "InvalidSignatureException", 403],
    ["unknown key", { keyId: "AKIAUNKNOWNUNKNOWN00" }, undefined, user("hi"), "UnrecognizedClientException", 403],
    ["throttled", {}, undefined, user("fail:throttled"), "ThrottlingException", 429],
    ["roles not alternating", {}, undefined, [...user("one"), ...user("two")], "ValidationException", 400,
      "A conversation must alternate between user and assistant roles. " +
        "Make sure the conversation alternates between user and assistant roles and try again."],
    ["assistant first", {}, undefined, [{ role: "assistant", content: [{ text: "x" }] }], "ValidationException", 400,
      "A conversation must start with a user message. Try again with a conversation that starts with a user message."],
    ["model timeout", {}, undefined, user("fail:timeout"), "ModelTimeoutException", 408],
    ["model error", {}, undefined, user("fail:model"), "ModelErrorException", 424],
    ["unavailable", {}, undefined, user("fail:unavailable"), "ServiceUnavailableException", 503],
  ];
  for (const [name, options, model, messages, errName, status, message] of errors) {
    if (Object.keys(options).length && auth !== "sigv4") continue;
    test(`error: ${name} (Converse)`, async () => {
      const c = Object.keys(options).length ? newClient(options) : client;
      await rejectsWith(c.send(new ConverseCommand({ modelId: model ?? target.model, messages })), errName, status, message);
    });
    test(`error: ${name} (InvokeModel)`, async () => {
      const c = Object.keys(options).length ? newClient(options) : client;
      const body = new TextEncoder().encode(JSON.stringify({ messages }));
      await rejectsWith(c.send(new InvokeModelCommand({ modelId: model ?? target.model, body })), errName, status, message);
    });
  }
});

describe("Bedrock API keys", { skip }, () => {
  const test = nodeTest;
  const clients = [];
  after(() => clients.forEach((c) => c.destroy()));
  function bearerClient(token) {
    // SigV4 credentials are configured too: the preference picks bearer auth.
    const c = new BedrockRuntimeClient(clientOptions({ token: { token }, authSchemePreference: ["httpBearerAuth"] }));
    clients.push(c);
    return c;
  }

  test("token option", async () => {
    const c = bearerClient(target.apiKey);
    const requests = recordRequests(c);
    let out = await c.send(new ConverseCommand({ modelId: target.model, messages: user("hello bearer") }));
    assert.equal(header(requests.at(-1), "authorization"), `Bearer ${target.apiKey}`);
    assert.deepEqual(out.output.message.content, [{ text: "hello bearer" }]);

    const stream = await c.send(new ConverseStreamCommand({ modelId: target.model, messages: user("streamed bearer") }));
    const events = await collect(stream.stream);
    assert.equal(events.filter((e) => e.contentBlockDelta).map((e) => e.contentBlockDelta.delta.text).join(""), "streamed bearer");
    assert.match(header(requests.at(-1), "authorization"), /^Bearer /);

    out = await c.send(new InvokeModelCommand({ modelId: target.modelArn, body: invokeBody("invoked bearer") }));
    assert.match(header(requests.at(-1), "authorization"), /^Bearer /);
    assert.deepEqual(JSON.parse(decoder.decode(out.body)).output.message.content, [{ text: "invoked bearer" }]);
  });

  test("AWS_BEARER_TOKEN_BEDROCK", async () => {
    process.env.AWS_BEARER_TOKEN_BEDROCK = target.apiKey;
    try {
      const c = new BedrockRuntimeClient(clientOptions());
      clients.push(c);
      const requests = recordRequests(c);
      const out = await c.send(new ConverseCommand({ modelId: target.model, messages: user("from the environment") }));
      assert.equal(header(requests.at(-1), "authorization"), `Bearer ${target.apiKey}`);
      assert.deepEqual(out.output.message.content, [{ text: "from the environment" }]);
    } finally {
      delete process.env.AWS_BEARER_TOKEN_BEDROCK;
    }
  });

  test("unknown token", async () => {
    await rejectsWith(
      bearerClient("bedrock-api-key-bm9wZQ==").send(new ConverseCommand({ modelId: target.model, messages: user("hi") })),
      "UnrecognizedClientException",
      403,
    );
  });
});

// Over HTTP/1.1 the SDK signs 'host'; over HTTP/2 (the suites above, with the
// SDK's default handler) it signs ':authority'. Both must verify.
describe("bedrock-runtime (sigv4 over HTTP/1.1)", { skip }, () => {
  const client = target && new BedrockRuntimeClient(clientOptions({ requestHandler: new NodeHttpHandler() }));
  after(() => client?.destroy());

  nodeTest("Converse and ConverseStream", async () => {
    const requests = recordRequests(client);
    const out = await client.send(new ConverseCommand({ modelId: target.modelArn, messages: user("over http one") }));
    assert.match(header(requests.at(-1), "authorization"), /SignedHeaders=[^,]*\bhost\b/);
    assert.deepEqual(out.output.message.content, [{ text: "over http one" }]);
    const stream = await client.send(new ConverseStreamCommand({ modelId: target.model, messages: user("a b") }));
    assert.deepEqual((await collect(stream.stream)).map(kind).at(-1), "metadata");
  });
});
