"""Fixtures for the library suite: the openai and anthropic SDKs and
LangChain's integrations, used as their documentation shows, against a live
Outcrop server.

internal/server/pylibs_test.go starts the server and runs this suite with
its coordinates in the environment (see ../conftest.py for the variables;
OUTCROP_TEST_EMBED_MODEL names an echo embedding model, OUTCROP_TEST_LOCAL is
set when the built-in engine serves the default catalog). The echo backend
answers with the last user message word by word, "tool:NAME" calls tool NAME
with {"q": "echo"}, and "fail:KIND" fails with that kind of error.

Run it through Go: go test -run 'TestPythonLibraries' -v ./internal/server/
"""

import os

import pytest

REGION = "us-east-1"


class Target:
    def __init__(self, env):
        self.url = env["OUTCROP_TEST_URL"]
        self.key_id = env["OUTCROP_TEST_KEY_ID"]
        self.secret = env["OUTCROP_TEST_SECRET"]
        self.api_key = env["OUTCROP_TEST_API_KEY"]
        self.model = env["OUTCROP_TEST_MODEL"]
        self.embed_model = env.get("OUTCROP_TEST_EMBED_MODEL", "")
        self.local = env.get("OUTCROP_TEST_LOCAL") == "1"

    @property
    def openai_base(self):
        return self.url + "/v1"

    def aws(self):
        """Keyword arguments that point a langchain-aws model at the server."""
        return dict(
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
        )


@pytest.fixture(scope="session")
def target():
    if "OUTCROP_TEST_URL" not in os.environ:
        pytest.skip("OUTCROP_TEST_URL is unset: run via `go test -run TestPythonLibraries ./internal/server/`")
    return Target(os.environ)
