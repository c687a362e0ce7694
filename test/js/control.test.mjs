// The bedrock control plane (model catalog) through @aws-sdk/client-bedrock.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import { BedrockClient, GetFoundationModelCommand, ListFoundationModelsCommand, ResourceNotFoundException, ValidationException } from "@aws-sdk/client-bedrock";

import { clientOptions, skip, target } from "./helpers.mjs";

describe("bedrock control plane", { skip }, () => {
  const client = target && new BedrockClient(clientOptions());
  after(() => client?.destroy());

  test("ListFoundationModels", async () => {
    const out = await client.send(new ListFoundationModelsCommand({}));
    assert.deepEqual(out.modelSummaries.map((m) => m.modelId), [target.model]);
    const m = out.modelSummaries[0];
    assert.equal(m.modelArn, target.modelArn);
    assert.equal(m.providerName, "Outcrop");
    assert.deepEqual(m.inputModalities, ["TEXT"]);
    assert.deepEqual(m.outputModalities, ["TEXT"]);
    assert.equal(m.responseStreamingSupported, true);
    const text = await client.send(new ListFoundationModelsCommand({ byOutputModality: "TEXT" }));
    assert.deepEqual(text.modelSummaries.map((m) => m.modelId), [target.model]);
  });

  test("ListFoundationModels with a bad filter", async () => {
    await assert.rejects(client.send(new ListFoundationModelsCommand({ byOutputModality: "AUDIO" })), (err) => {
      assert.ok(err instanceof ValidationException, `${err.name}: ${err.message}`);
      assert.equal(err.$metadata.httpStatusCode, 400);
      return true;
    });
  });

  for (const by of ["id", "arn"]) {
    test(`GetFoundationModel by ${by}`, async () => {
      const ident = by === "id" ? target.model : target.modelArn;
      const out = await client.send(new GetFoundationModelCommand({ modelIdentifier: ident }));
      assert.equal(out.modelDetails.modelId, target.model);
      assert.equal(out.modelDetails.modelArn, target.modelArn);
      assert.equal(out.modelDetails.responseStreamingSupported, true);
    });
  }

  test("GetFoundationModel of an unknown model", async () => {
    await assert.rejects(client.send(new GetFoundationModelCommand({ modelIdentifier: "amazon.nope-v1" })), (err) => {
      assert.ok(err instanceof ResourceNotFoundException, `${err.name}: ${err.message}`);
      assert.equal(err.$metadata.httpStatusCode, 404);
      return true;
    });
  });
});
