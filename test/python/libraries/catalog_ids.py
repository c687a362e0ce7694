"""Model IDs the library suite names besides those in the environment."""

# An echo model under a Bedrock Claude ID with Claude 3 Haiku's limits
# (internal/server/pylibs_test.go pyLibModels); in the default catalog, the
# built-in engine serves it.
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
