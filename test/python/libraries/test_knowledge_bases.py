"""boto3's bedrock-agent and bedrock-agent-runtime clients and langchain-aws's
AmazonKnowledgeBasesRetriever, used as their documentation shows, on the echo
backend: a knowledge base with a custom data source filled by direct
ingestion, Retrieve with a metadata filter, the LangChain retriever, and
RetrieveAndGenerate whose citations point at the ingested passage."""

import boto3
import pytest
from langchain_aws import AmazonKnowledgeBasesRetriever
from pydantic import SecretStr

from conftest import REGION

EMBED_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"

DOCS = {
    "rocks": ("Granite is an igneous rock that cools slowly deep underground, which gives it large crystals.", "geology"),
    "bread": ("Sourdough rises with a starter of wild yeast and lactic acid bacteria and proves overnight.", "baking"),
    "bees": ("A honey bee colony keeps one queen, and workers forage for nectar within three kilometres.", "biology"),
}


def aws_kwargs(target):
    return dict(region_name=REGION, endpoint_url=target.url,
                aws_access_key_id=target.key_id, aws_secret_access_key=target.secret)


@pytest.fixture(scope="module")
def agent(target):
    return boto3.client("bedrock-agent", **aws_kwargs(target))


@pytest.fixture(scope="module")
def runtime(target):
    return boto3.client("bedrock-agent-runtime", **aws_kwargs(target))


@pytest.fixture(scope="module")
def kb_id(agent):
    kb = agent.create_knowledge_base(
        name="pylib-kb", roleArn="arn:aws:iam::000000000000:role/kb",
        knowledgeBaseConfiguration={"type": "VECTOR", "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": EMBED_ARN}},
    )["knowledgeBase"]
    assert kb["status"] == "ACTIVE"
    ds = agent.create_data_source(knowledgeBaseId=kb["knowledgeBaseId"], name="notes",
                                  dataSourceConfiguration={"type": "CUSTOM"})["dataSource"]
    docs = [{
        "content": {"dataSourceType": "CUSTOM", "custom": {
            "customDocumentIdentifier": {"id": doc_id}, "sourceType": "IN_LINE",
            "inlineContent": {"type": "TEXT", "textContent": {"data": text}}}},
        "metadata": {"type": "IN_LINE_ATTRIBUTE", "inlineAttributes": [
            {"key": "topic", "value": {"type": "STRING", "stringValue": topic}}]},
    } for doc_id, (text, topic) in DOCS.items()]
    out = agent.ingest_knowledge_base_documents(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"], documents=docs)
    assert [d["status"] for d in out["documentDetails"]] == ["INDEXED"] * len(DOCS)
    listed = agent.list_knowledge_base_documents(knowledgeBaseId=kb["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])
    assert sorted(d["identifier"]["custom"]["id"] for d in listed["documentDetails"]) == sorted(DOCS)
    yield kb["knowledgeBaseId"]
    agent.delete_knowledge_base(knowledgeBaseId=kb["knowledgeBaseId"])


def test_retrieve_with_filter(runtime, kb_id):
    out = runtime.retrieve(
        knowledgeBaseId=kb_id, retrievalQuery={"text": "How does granite form?"},
        retrievalConfiguration={"vectorSearchConfiguration": {
            "numberOfResults": 5, "filter": {"equals": {"key": "topic", "value": "geology"}}}},
    )
    results = out["retrievalResults"]
    assert [r["location"]["customDocumentLocation"]["id"] for r in results] == ["rocks"]
    assert "igneous" in results[0]["content"]["text"]
    assert results[0]["metadata"]["topic"] == "geology"


def test_retrieve_unknown_knowledge_base(runtime):
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.retrieve(knowledgeBaseId="AAAAAAAAAA", retrievalQuery={"text": "x"})


def test_langchain_retriever(target, kb_id):
    # The retriever's key fields are SecretStr (a plain str trips its
    # validator in langchain-aws 1.6).
    retriever = AmazonKnowledgeBasesRetriever(
        knowledge_base_id=kb_id, retrieval_config={"vectorSearchConfiguration": {"numberOfResults": 2}},
        region_name=REGION, endpoint_url=target.url,
        aws_access_key_id=SecretStr(target.key_id), aws_secret_access_key=SecretStr(target.secret))
    docs = retriever.invoke("sourdough wild yeast starter")
    assert 1 <= len(docs) <= 2
    top = docs[0]
    assert "Sourdough" in top.page_content
    assert top.metadata["location"]["customDocumentLocation"]["id"] == "bread"
    assert top.metadata["source_metadata"]["topic"] == "baking"
    assert top.metadata["type"] == "TEXT" and top.metadata["score"] > 0


def test_retrieve_and_generate(runtime, kb_id, target):
    # The echo model answers with the user's last message, here the prompt
    # with the retrieved passages, so the answer quotes the bee passage and
    # is cited back to it.
    out = runtime.retrieve_and_generate(
        input={"text": "How many queens does a bee colony keep?"},
        retrieveAndGenerateConfiguration={"type": "KNOWLEDGE_BASE", "knowledgeBaseConfiguration": {
            "knowledgeBaseId": kb_id, "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/" + target.model,
            "retrievalConfiguration": {"vectorSearchConfiguration": {
                "numberOfResults": 1, "filter": {"equals": {"key": "topic", "value": "biology"}}}},
            "generationConfiguration": {"promptTemplate": {"textPromptTemplate": "Context: $search_results$ Question: $query$"}},
        }},
    )
    assert "honey bee colony keeps one queen" in out["output"]["text"]
    assert out["sessionId"]
    refs = [ref for c in out["citations"] for ref in c["retrievedReferences"]]
    assert refs and all(r["location"]["customDocumentLocation"]["id"] == "bees" for r in refs)
    span = out["citations"][0]["generatedResponsePart"]["textResponsePart"]["span"]
    assert 0 <= span["start"] <= span["end"] < len(out["output"]["text"])
