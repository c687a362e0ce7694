// Shared setup for the AWS SDK for JavaScript v3 suite.
//
// internal/server/clients_test.go (TestJSSDK) starts an Outcrop test server
// and runs `node --test test/js/` with its coordinates in the environment:
//
//   OUTCROP_TEST_URL      the server's base URL (http://127.0.0.1:port)
//   OUTCROP_TEST_KEY_ID   the root SigV4 access key ID
//   OUTCROP_TEST_SECRET   its secret
//   OUTCROP_TEST_API_KEY  a Bedrock API key (bearer token) for root
//   OUTCROP_TEST_MODEL    the echo model's ID
//
// Run it through Go: go test -run TestJSSDK -v ./internal/server/

export const REGION = "us-east-1";

/** The test server's coordinates, or null when run outside the Go test. */
export const target = process.env.OUTCROP_TEST_URL
  ? {
      url: process.env.OUTCROP_TEST_URL,
      keyId: process.env.OUTCROP_TEST_KEY_ID,
      secret: process.env.OUTCROP_TEST_SECRET,
      apiKey: process.env.OUTCROP_TEST_API_KEY,
      model: process.env.OUTCROP_TEST_MODEL,
      get modelArn() {
        return `arn:aws:bedrock:${REGION}::foundation-model/${this.model}`;
      },
    }
  : null;

/** Why the suite skips when run outside the Go test. */
export const skip = target ? false : "OUTCROP_TEST_URL is unset: run via `go test -run TestJSSDK ./internal/server/`";

/**
 * Options for a client of the test server. The SDK's default request
 * handler is kept: for bedrock-runtime that is its HTTP/2 handler, which
 * speaks cleartext HTTP/2 (h2c) to an http:// endpoint.
 */
export function clientOptions({ keyId, secret, ...rest } = {}) {
  return {
    region: REGION,
    endpoint: target.url,
    credentials: { accessKeyId: keyId ?? target.keyId, secretAccessKey: secret ?? target.secret },
    maxAttempts: 1, // error tests must not wait for retries
    ...rest,
  };
}

/** Records each request a client sends, as signed. */
export function recordRequests(client) {
  const requests = [];
  client.middlewareStack.addRelativeTo(
    (next) => async (args) => {
      requests.push(args.request);
      return next(args);
    },
    { relation: "after", toMiddleware: "httpSigningMiddleware", name: "outcropRecordRequests" },
  );
  return requests;
}

/** A one-message conversation. */
export function user(text) {
  return [{ role: "user", content: [{ text }] }];
}

/** The one member name of a stream event. */
export function kind(event) {
  const keys = Object.keys(event).filter((k) => event[k] !== undefined && k !== "$unknown");
  if (keys.length !== 1) throw new Error(`event ${JSON.stringify(event)} has members ${keys}`);
  return keys[0];
}

/** An InvokeModel body for the converse family. */
export function invokeBody(text) {
  return new TextEncoder().encode(JSON.stringify({ messages: user(text) }));
}

/** The value of a request header, whatever the case of its name. */
export function header(request, name) {
  const key = Object.keys(request.headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : request.headers[key];
}
