// The OpenAI and Anthropic dialects driven by the vendors' npm SDKs.
//
// internal/server/dialects_npm_test.go (TestJSDialects) starts an Outcrop
// test server on the echo backend and runs `node --test test/js-dialects/`
// with its coordinates in the environment:
//
//   OUTCROP_TEST_URL          the server's base URL (http://127.0.0.1:port)
//   OUTCROP_TEST_API_KEY      a Bedrock API key (bearer token) for root
//   OUTCROP_TEST_MODEL        the echo chat model's ID
//   OUTCROP_TEST_EMBED_MODEL  the echo embedding model's ID
//
// Run it through Go: go test -run TestJSDialects -v ./internal/server/

import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";

const env = process.env;
const skip = env.OUTCROP_TEST_URL ? false : "run through `go test -run TestJSDialects ./internal/server/`";
const model = env.OUTCROP_TEST_MODEL;
const embedModel = env.OUTCROP_TEST_EMBED_MODEL;

const openai = (apiKey = env.OUTCROP_TEST_API_KEY) =>
  new OpenAI({ baseURL: `${env.OUTCROP_TEST_URL}/v1`, apiKey, maxRetries: 0 });
const anthropic = (apiKey = env.OUTCROP_TEST_API_KEY) =>
  new Anthropic({ baseURL: env.OUTCROP_TEST_URL, apiKey, maxRetries: 0 });

const weather = {
  name: "get_weather",
  description: "Weather in a city",
  parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
};

test("openai chat", { skip }, async () => {
  const r = await openai().chat.completions.create({
    model,
    messages: [
      { role: "system", content: "be brief" },
      { role: "user", content: "hello from node" },
    ],
  });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.model, model);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.choices[0].message.content, "hello from node");
  assert.equal(r.choices[0].finish_reason, "stop");
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
});

test("openai streaming", { skip }, async () => {
  const stream = await openai().chat.completions.create({
    model,
    messages: [{ role: "user", content: "one two three" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.delta.content ?? "";
      finish = c.finish_reason ?? finish;
    }
    usage = chunk.usage ?? usage;
  }
  assert.equal(text, "one two three");
  assert.equal(finish, "stop");
  assert.ok(usage && usage.total_tokens > 0);
});

test("openai tools", { skip }, async () => {
  const c = openai();
  const tools = [{ type: "function", function: weather }];
  const r = await c.chat.completions.create({
    model,
    messages: [{ role: "user", content: "tool:get_weather" }],
    tools,
  });
  const call = r.choices[0].message.tool_calls?.[0];
  assert.ok(call, `no tool call in ${JSON.stringify(r.choices[0])}`);
  assert.equal(r.choices[0].finish_reason, "tool_calls");
  assert.equal(call.function.name, "get_weather");
  assert.deepEqual(JSON.parse(call.function.arguments), { q: "echo" });
  const r2 = await c.chat.completions.create({
    model,
    tools,
    messages: [
      { role: "user", content: "tool:get_weather" },
      r.choices[0].message,
      { role: "tool", tool_call_id: call.id, content: "sunny" },
    ],
  });
  assert.equal(r2.choices[0].finish_reason, "stop");
  assert.equal(r2.choices[0].message.content, "tool result sunny");
});

test("openai embeddings", { skip }, async () => {
  const c = openai();
  const r = await c.embeddings.create({ model: embedModel, input: ["alpha", "beta"] });
  assert.equal(r.data.length, 2);
  assert.equal(r.data[1].index, 1);
  assert.equal(r.data[0].embedding.length, 4);
  assert.ok(r.data[0].embedding.every((x) => typeof x === "number"));
  // The SDK asks for base64 by default and decodes it; ask for floats too.
  const f = await c.embeddings.create({ model: embedModel, input: "alpha", encoding_format: "float" });
  assert.deepEqual(f.data[0].embedding, r.data[0].embedding);
});

test("openai models", { skip }, async () => {
  const ids = [];
  for await (const m of openai().models.list()) ids.push(m.id);
  assert.ok(ids.includes(model), `${model} not in ${ids}`);
  assert.equal((await openai().models.retrieve(model)).id, model);
});

test("openai errors", { skip }, async () => {
  await assert.rejects(
    openai().chat.completions.create({ model: "amazon.nope-v1", messages: [{ role: "user", content: "x" }] }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === "model_not_found",
  );
  await assert.rejects(
    openai().chat.completions.create({ model, messages: [{ role: "user", content: "fail:throttled" }] }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && e.type === "rate_limit_error",
  );
  await assert.rejects(
    openai("bedrock-api-key-bogus").chat.completions.create({ model, messages: [{ role: "user", content: "x" }] }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401,
  );
  await assert.rejects(
    openai().embeddings.create({ model, input: "x" }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400,
  );
});

test("anthropic messages", { skip }, async () => {
  const r = await anthropic().messages.create({
    model,
    max_tokens: 100,
    system: "be brief",
    messages: [{ role: "user", content: "hello from node" }],
  });
  assert.equal(r.type, "message");
  assert.equal(r.role, "assistant");
  assert.equal(r.content[0].type, "text");
  assert.equal(r.content[0].text, "hello from node");
  assert.equal(r.stop_reason, "end_turn");
  assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
  const n = await anthropic().messages.countTokens({ model, messages: [{ role: "user", content: "hello" }] });
  assert.ok(n.input_tokens > 0);
});

test("anthropic streaming", { skip }, async () => {
  const stream = anthropic().messages.stream({
    model,
    max_tokens: 100,
    messages: [{ role: "user", content: "one two three" }],
  });
  const types = new Set();
  let text = "";
  stream.on("text", (t) => (text += t));
  for await (const ev of stream) types.add(ev.type);
  const final = await stream.finalMessage();
  assert.equal(text, "one two three");
  assert.equal(final.content[0].text, "one two three");
  for (const t of ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]) {
    assert.ok(types.has(t), `no ${t} event`);
  }
});

test("anthropic tools", { skip }, async () => {
  const tools = [{ name: weather.name, description: weather.description, input_schema: weather.parameters }];
  const messages = [{ role: "user", content: "tool:get_weather" }];
  const r = await anthropic().messages.create({ model, max_tokens: 100, tools, messages });
  assert.equal(r.stop_reason, "tool_use");
  const use = r.content.find((b) => b.type === "tool_use");
  assert.ok(use, `no tool_use in ${JSON.stringify(r.content)}`);
  assert.equal(use.name, "get_weather");
  assert.deepEqual(use.input, { q: "echo" });
  const r2 = await anthropic().messages.create({
    model,
    max_tokens: 100,
    tools,
    messages: [
      ...messages,
      { role: "assistant", content: r.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny" }] },
    ],
  });
  assert.equal(r2.stop_reason, "end_turn");
  assert.equal(r2.content[0].text, "tool result sunny");
});

test("anthropic errors", { skip }, async () => {
  const msg = (content, m = model, c = anthropic()) =>
    c.messages.create({ model: m, max_tokens: 100, messages: [{ role: "user", content }] });
  await assert.rejects(msg("x", "amazon.nope-v1"), (e) => e instanceof Anthropic.NotFoundError && e.status === 404);
  await assert.rejects(
    msg("fail:throttled"),
    (e) => e instanceof Anthropic.RateLimitError && e.status === 429 && e.error?.error?.type === "rate_limit_error",
  );
  await assert.rejects(
    msg("x", model, anthropic("bedrock-api-key-bogus")),
    (e) => e instanceof Anthropic.AuthenticationError && e.status === 401,
  );
  await assert.rejects(
    anthropic().messages.create({ model, max_tokens: 0, messages: [] }),
    (e) => e instanceof Anthropic.BadRequestError && e.status === 400,
  );
});
