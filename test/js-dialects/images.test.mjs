// /v1/images/generations driven by the openai npm package.
//
// internal/server/images_e2e_test.go (TestJSImages) starts an Outcrop test
// server whose image models are served by the openai-images backend on a
// fake OpenAI Images upstream, and runs this file with, besides the
// variables of dialects.test.mjs:
//
//   OUTCROP_TEST_IMAGE_MODEL  an image model's ID (Titan Image Generator v2)
//
// Under TestJSDialects (no image model) these tests are skipped.

import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";

const env = process.env;
const skip = env.OUTCROP_TEST_IMAGE_MODEL ? false : "run through `go test -run TestJSImages ./internal/server/`";
const imageModel = env.OUTCROP_TEST_IMAGE_MODEL;
const openai = () => new OpenAI({ baseURL: `${env.OUTCROP_TEST_URL}/v1`, apiKey: env.OUTCROP_TEST_API_KEY, maxRetries: 0 });

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const isPNG = (b) => b.length > 8 && b.subarray(0, 8).equals(pngSignature);

test("openai images b64_json", { skip }, async () => {
  const r = await openai().images.generate({
    model: imageModel, prompt: "a lighthouse at dusk", n: 2, size: "512x512", response_format: "b64_json",
  });
  assert.equal(r.data.length, 2);
  assert.ok(r.created > 0);
  for (const d of r.data) assert.ok(isPNG(Buffer.from(d.b64_json, "base64")), "not a PNG");
});

test("openai images url", { skip }, async () => {
  const r = await openai().images.generate({ model: imageModel, prompt: "a lighthouse", response_format: "url" });
  const prefix = "data:image/png;base64,";
  assert.ok(r.data[0].url.startsWith(prefix), r.data[0].url.slice(0, 40));
  assert.ok(isPNG(Buffer.from(r.data[0].url.slice(prefix.length), "base64")));
});

test("openai images errors", { skip }, async () => {
  await assert.rejects(
    openai().images.generate({ model: imageModel, prompt: "x", n: 11 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "n",
  );
  await assert.rejects(
    openai().images.generate({ model: imageModel, prompt: "fail:throttled" }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && e.type === "rate_limit_error",
  );
});
