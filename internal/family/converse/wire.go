// Package converse is Bedrock's Converse wire format: the JSON request and
// response of Converse and ConverseStream, their validation with Bedrock's
// own error messages, and the translation to and from the canonical provider
// types. The runtime API uses it for the Converse operations, and it is also
// the InvokeModel family ("converse") of Outcrop's own model IDs, whose
// native body is simply a Converse request.
package converse

import "encoding/json"

// Request is the JSON body of Converse and ConverseStream.
type Request struct {
	Messages                          []Message                 `json:"messages"`
	System                            []SystemBlock             `json:"system,omitempty"`
	InferenceConfig                   *InferenceConfig          `json:"inferenceConfig,omitempty"`
	ToolConfig                        *ToolConfig               `json:"toolConfig,omitempty"`
	GuardrailConfig                   *GuardrailConfig          `json:"guardrailConfig,omitempty"`
	AdditionalModelRequestFields      json.RawMessage           `json:"additionalModelRequestFields,omitempty"`
	AdditionalModelResponseFieldPaths []string                  `json:"additionalModelResponseFieldPaths,omitempty"`
	PromptVariables                   map[string]PromptVariable `json:"promptVariables,omitempty"`
	RequestMetadata                   map[string]string         `json:"requestMetadata,omitempty"`
	PerformanceConfig                 *PerformanceConfig        `json:"performanceConfig,omitempty"`
	ServiceTier                       *ServiceTier              `json:"serviceTier,omitempty"`
	OutputConfig                      json.RawMessage           `json:"outputConfig,omitempty"`
}

// Message is one conversation turn.
type Message struct {
	Role    string         `json:"role"`
	Content []ContentBlock `json:"content"`
}

// ContentBlock is a union: exactly one member is set.
type ContentBlock struct {
	Text             *string           `json:"text,omitempty"`
	Image            *ImageBlock       `json:"image,omitempty"`
	Document         *DocumentBlock    `json:"document,omitempty"`
	Video            json.RawMessage   `json:"video,omitempty"`
	Audio            json.RawMessage   `json:"audio,omitempty"`
	ToolUse          *ToolUseBlock     `json:"toolUse,omitempty"`
	ToolResult       *ToolResultBlock  `json:"toolResult,omitempty"`
	GuardContent     *GuardContent     `json:"guardContent,omitempty"`
	CachePoint       *CachePoint       `json:"cachePoint,omitempty"`
	ReasoningContent *ReasoningContent `json:"reasoningContent,omitempty"`
	CitationsContent json.RawMessage   `json:"citationsContent,omitempty"`
	SearchResult     json.RawMessage   `json:"searchResult,omitempty"`
}

// SystemBlock is a union of text, guardContent and cachePoint.
type SystemBlock struct {
	Text         *string       `json:"text,omitempty"`
	GuardContent *GuardContent `json:"guardContent,omitempty"`
	CachePoint   *CachePoint   `json:"cachePoint,omitempty"`
}

// ImageBlock is an image.
type ImageBlock struct {
	Format string `json:"format"`
	Source Source `json:"source"`
}

// DocumentBlock is a document.
type DocumentBlock struct {
	Format    string          `json:"format,omitempty"`
	Name      string          `json:"name"`
	Source    Source          `json:"source"`
	Context   string          `json:"context,omitempty"`
	Citations json.RawMessage `json:"citations,omitempty"`
}

// Source is a union of inline bytes, an S3 location, text and content.
type Source struct {
	Bytes      []byte          `json:"bytes,omitempty"`
	S3Location *S3Location     `json:"s3Location,omitempty"`
	Text       *string         `json:"text,omitempty"`
	Content    []SourceContent `json:"content,omitempty"`
}

// S3Location names an object.
type S3Location struct {
	URI         string `json:"uri"`
	BucketOwner string `json:"bucketOwner,omitempty"`
}

// SourceContent is a chunk of document text.
type SourceContent struct {
	Text *string `json:"text,omitempty"`
}

// ToolUseBlock is a tool call made by the model.
type ToolUseBlock struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Type      string          `json:"type,omitempty"`
}

// ToolResultBlock answers a tool call.
type ToolResultBlock struct {
	ToolUseID string              `json:"toolUseId"`
	Content   []ToolResultContent `json:"content"`
	Status    string              `json:"status,omitempty"`
	Type      string              `json:"type,omitempty"`
}

// ToolResultContent is a union of json, text, image, document, video and searchResult.
type ToolResultContent struct {
	JSON         json.RawMessage `json:"json,omitempty"`
	Text         *string         `json:"text,omitempty"`
	Image        *ImageBlock     `json:"image,omitempty"`
	Document     *DocumentBlock  `json:"document,omitempty"`
	Video        json.RawMessage `json:"video,omitempty"`
	SearchResult json.RawMessage `json:"searchResult,omitempty"`
}

// GuardContent marks content for guardrail evaluation.
type GuardContent struct {
	Text *struct {
		Text       string   `json:"text"`
		Qualifiers []string `json:"qualifiers,omitempty"`
	} `json:"text,omitempty"`
	Image *ImageBlock `json:"image,omitempty"`
}

// CachePoint marks a prompt-cache boundary.
type CachePoint struct {
	Type string `json:"type"`
	TTL  string `json:"ttl,omitempty"`
}

// ReasoningContent is model reasoning.
type ReasoningContent struct {
	ReasoningText *struct {
		Text      string `json:"text"`
		Signature string `json:"signature,omitempty"`
	} `json:"reasoningText,omitempty"`
	RedactedContent []byte `json:"redactedContent,omitempty"`
}

// InferenceConfig holds the common inference parameters.
type InferenceConfig struct {
	MaxTokens     *int     `json:"maxTokens,omitempty"`
	Temperature   *float64 `json:"temperature,omitempty"`
	TopP          *float64 `json:"topP,omitempty"`
	StopSequences []string `json:"stopSequences,omitempty"`
}

// ToolConfig lists tools and the tool choice.
type ToolConfig struct {
	Tools      []ToolEntry `json:"tools"`
	ToolChoice *ToolChoice `json:"toolChoice,omitempty"`
}

// ToolEntry is a union of toolSpec, systemTool and cachePoint.
type ToolEntry struct {
	ToolSpec   *ToolSpec       `json:"toolSpec,omitempty"`
	SystemTool json.RawMessage `json:"systemTool,omitempty"`
	CachePoint *CachePoint     `json:"cachePoint,omitempty"`
}

// ToolSpec describes one tool.
type ToolSpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	InputSchema struct {
		JSON json.RawMessage `json:"json"`
	} `json:"inputSchema"`
	Strict *bool `json:"strict,omitempty"`
}

// ToolChoice is a union of auto, any and tool.
type ToolChoice struct {
	Auto *struct{} `json:"auto,omitempty"`
	Any  *struct{} `json:"any,omitempty"`
	Tool *struct {
		Name string `json:"name"`
	} `json:"tool,omitempty"`
}

// GuardrailConfig names a guardrail to apply.
type GuardrailConfig struct {
	GuardrailIdentifier  string `json:"guardrailIdentifier"`
	GuardrailVersion     string `json:"guardrailVersion"`
	Trace                string `json:"trace,omitempty"`
	StreamProcessingMode string `json:"streamProcessingMode,omitempty"`
}

// PromptVariable is a value for a prompt-management variable.
type PromptVariable struct {
	Text *string `json:"text,omitempty"`
}

// PerformanceConfig selects latency optimisation.
type PerformanceConfig struct {
	Latency string `json:"latency,omitempty"`
}

// ServiceTier selects a service tier.
type ServiceTier struct {
	Type string `json:"type,omitempty"`
}

// Response is the JSON body of a Converse response.
type Response struct {
	Output struct {
		Message *OutMessage `json:"message,omitempty"`
	} `json:"output"`
	StopReason                    string             `json:"stopReason"`
	Usage                         Usage              `json:"usage"`
	Metrics                       Metrics            `json:"metrics"`
	AdditionalModelResponseFields json.RawMessage    `json:"additionalModelResponseFields,omitempty"`
	PerformanceConfig             *PerformanceConfig `json:"performanceConfig,omitempty"`
	ServiceTier                   *ServiceTier       `json:"serviceTier,omitempty"`
}

// OutMessage is the assistant message of a response.
type OutMessage struct {
	Role    string            `json:"role"`
	Content []OutContentBlock `json:"content"`
}

// OutContentBlock is a content block of a response.
type OutContentBlock struct {
	Text             *string           `json:"text,omitempty"`
	ToolUse          *ToolUseBlock     `json:"toolUse,omitempty"`
	ReasoningContent *ReasoningContent `json:"reasoningContent,omitempty"`
}

// Usage counts tokens.
type Usage struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
	TotalTokens  int `json:"totalTokens"`
}

// Metrics reports latency.
type Metrics struct {
	LatencyMs int64 `json:"latencyMs"`
}
