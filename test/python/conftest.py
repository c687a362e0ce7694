"""Fixtures for the boto3 suite.

internal/server/clients_test.go (TestBoto3) starts an Outcrop test server and
runs this suite with its coordinates in the environment:

    OUTCROP_TEST_URL      the server's base URL (http://127.0.0.1:port)
    OUTCROP_TEST_KEY_ID   the root SigV4 access key ID
    OUTCROP_TEST_SECRET   its secret
    OUTCROP_TEST_API_KEY  a Bedrock API key (bearer token) for root
    OUTCROP_TEST_MODEL    the echo model's ID

Run it through Go: go test -run TestBoto3 -v ./internal/server/
"""

import os

import boto3
import pytest
from botocore.config import Config

REGION = "us-east-1"
# One attempt only: error tests must not wait for retries.
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


class Target:
    """The test server's coordinates, read from the environment."""

    def __init__(self, env):
        self.url = env["OUTCROP_TEST_URL"]
        self.key_id = env["OUTCROP_TEST_KEY_ID"]
        self.secret = env["OUTCROP_TEST_SECRET"]
        self.api_key = env["OUTCROP_TEST_API_KEY"]
        self.model = env["OUTCROP_TEST_MODEL"]

    @property
    def model_arn(self):
        return f"arn:aws:bedrock:{REGION}::foundation-model/{self.model}"

    def client(self, service, key_id=None, secret=None):
        """A SigV4 client for service pointed at the test server."""
        return boto3.session.Session().client(
            service,
            region_name=REGION,
            endpoint_url=self.url,
            aws_access_key_id=key_id or self.key_id,
            aws_secret_access_key=secret or self.secret,
            config=NO_RETRY,
        )


@pytest.fixture(scope="session")
def target():
    if "OUTCROP_TEST_URL" not in os.environ:
        pytest.skip("OUTCROP_TEST_URL is unset: run via `go test -run TestBoto3 ./internal/server/`")
    return Target(os.environ)


@pytest.fixture(scope="session")
def runtime(target):
    return target.client("bedrock-runtime")


@pytest.fixture(scope="session")
def control(target):
    return target.client("bedrock")
