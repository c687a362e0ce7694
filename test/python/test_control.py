"""The bedrock control plane (model catalog) through boto3."""

import botocore.exceptions
import pytest


def error_of(err):
    got = err.value.response
    return got["Error"]["Code"], got["ResponseMetadata"]["HTTPStatusCode"]


def test_list_foundation_models(control, target):
    out = control.list_foundation_models()
    assert [m["modelId"] for m in out["modelSummaries"]] == [target.model]
    m = out["modelSummaries"][0]
    assert m["modelArn"] == target.model_arn
    assert m["providerName"] == "Outcrop"
    assert m["inputModalities"] == ["TEXT"]
    assert m["outputModalities"] == ["TEXT"]
    assert m["responseStreamingSupported"] is True
    out = control.list_foundation_models(byOutputModality="TEXT")
    assert [m["modelId"] for m in out["modelSummaries"]] == [target.model]


def test_list_foundation_models_bad_filter(control):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        control.list_foundation_models(byOutputModality="AUDIO")
    assert error_of(err) == ("ValidationException", 400)


@pytest.mark.parametrize("by", ["id", "arn"])
def test_get_foundation_model(control, target, by):
    ident = target.model if by == "id" else target.model_arn
    out = control.get_foundation_model(modelIdentifier=ident)
    d = out["modelDetails"]
    assert d["modelId"] == target.model
    assert d["modelArn"] == target.model_arn
    assert d["responseStreamingSupported"] is True


def test_get_foundation_model_unknown(control):
    with pytest.raises(control.exceptions.ResourceNotFoundException) as err:
        control.get_foundation_model(modelIdentifier="amazon.nope-v1")
    assert error_of(err) == ("ResourceNotFoundException", 404)
