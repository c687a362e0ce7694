package chat

import (
	"fmt"
	"strings"
)

// Fallback families.
const (
	FamilyChatML  = "chatml"
	FamilyLlama3  = "llama3"
	FamilyMistral = "mistral"
)

// Fallback returns a hand-written template for family: "chatml" (with
// Qwen2.5-style tool calling), "llama3" or "mistral" ([INST], also right
// for Llama 2 without a system prompt). Unknown families get ChatML.
func Fallback(family string) *Template {
	switch family {
	case FamilyLlama3:
		return &Template{family: family, system: true}
	case FamilyMistral:
		return &Template{family: family, system: true}
	}
	return &Template{family: FamilyChatML, tools: true, system: true}
}

// Detect guesses the fallback family of a template source from the
// special tokens it prints; it returns "chatml" when nothing matches.
func Detect(src string) string {
	switch {
	case strings.Contains(src, "<|start_header_id|>"):
		return FamilyLlama3
	case strings.Contains(src, "[INST]"):
		return FamilyMistral
	}
	return FamilyChatML
}

func renderFallback(family string, msgs []Message, opts Options) (string, error) {
	var b strings.Builder
	var err error
	switch family {
	case FamilyLlama3:
		renderLlama3(&b, msgs, opts)
	case FamilyMistral:
		renderMistral(&b, msgs, opts)
	default:
		err = renderChatML(&b, msgs, opts)
	}
	if err != nil {
		return "", err
	}
	if b.Len() > maxOutput {
		return "", fmt.Errorf("chat: render %s: output over %d bytes", family, maxOutput)
	}
	return b.String(), nil
}

// toolsPreamble is the Qwen2.5 tool instructions, which Hermes-style
// ChatML models also follow.
const (
	toolsIntro = "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
		"You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
	toolsOutro = "\n</tools>\n\nFor each function call, return a json object with function name and arguments " +
		"within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"
	defaultSystem = "You are a helpful assistant."
)

// pyJSON renders v as Python's json.dumps would.
func pyJSON(v any) (string, error) {
	var b strings.Builder
	err := writeJSON(&b, v, &jsonOptions{itemSep: ", ", keySep: ": "}, 0)
	return b.String(), err
}

// renderChatML follows the Qwen2.5 template, minus its default system
// prompt when there are no tools.
func renderChatML(b *strings.Builder, msgs []Message, opts Options) error {
	first := 0
	if len(opts.Tools) > 0 {
		sys := defaultSystem
		if len(msgs) > 0 && msgs[0].Role == "system" {
			sys, first = msgs[0].Content, 1
		}
		b.WriteString("<|im_start|>system\n" + sys + toolsIntro)
		for _, tl := range opts.Tools {
			s, err := pyJSON(dict("type", "function", "function",
				dict("name", tl.Name, "description", tl.Description, "parameters", jsonValue(tl.Parameters))))
			if err != nil {
				return fmt.Errorf("chat: render tool %q: %w", tl.Name, err)
			}
			b.WriteString("\n" + s)
		}
		b.WriteString(toolsOutro + "<|im_end|>\n")
	}
	for i := first; i < len(msgs); i++ {
		m := msgs[i]
		switch {
		case m.Role == "assistant" && len(m.ToolCalls) > 0:
			b.WriteString("<|im_start|>assistant")
			if m.Content != "" {
				b.WriteString("\n" + m.Content)
			}
			for _, c := range m.ToolCalls {
				args, err := pyJSON(jsonValue(c.Arguments))
				if err != nil {
					return fmt.Errorf("chat: render tool call %q: %w", c.Name, err)
				}
				b.WriteString("\n<tool_call>\n{\"name\": \"" + c.Name + "\", \"arguments\": " + args + "}\n</tool_call>")
			}
			b.WriteString("<|im_end|>\n")
		case m.Role == "tool":
			if i == 0 || msgs[i-1].Role != "tool" {
				b.WriteString("<|im_start|>user")
			}
			b.WriteString("\n<tool_response>\n" + m.Content + "\n</tool_response>")
			if i == len(msgs)-1 || msgs[i+1].Role != "tool" {
				b.WriteString("<|im_end|>\n")
			}
		default:
			b.WriteString("<|im_start|>" + m.Role + "\n" + m.Content + "<|im_end|>\n")
		}
	}
	if opts.AddGenerationPrompt {
		b.WriteString("<|im_start|>assistant\n")
	}
	return nil
}

// renderLlama3 follows the Llama 3 Instruct template; tool results use the
// "ipython" role as Llama 3.1 does.
func renderLlama3(b *strings.Builder, msgs []Message, opts Options) {
	b.WriteString(opts.BOS)
	for _, m := range msgs {
		role := m.Role
		if role == "tool" {
			role = "ipython"
		}
		content := strings.TrimSpace(m.Content)
		if m.Role == "assistant" && len(m.ToolCalls) > 0 && content == "" {
			var calls []string
			for _, c := range m.ToolCalls {
				s, err := pyJSON(dict("name", c.Name, "parameters", jsonValue(c.Arguments)))
				if err == nil {
					calls = append(calls, s)
				}
			}
			content = strings.Join(calls, "\n")
		}
		b.WriteString("<|start_header_id|>" + role + "<|end_header_id|>\n\n" + content + "<|eot_id|>")
	}
	if opts.AddGenerationPrompt {
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
}

// renderMistral follows the Mistral Instruct v0.1 template; a system
// message is folded into the next user turn, and tool results are sent as
// user turns.
func renderMistral(b *strings.Builder, msgs []Message, opts Options) {
	b.WriteString(opts.BOS)
	var system string
	for _, m := range msgs {
		switch m.Role {
		case "system":
			system += m.Content
		case "assistant":
			b.WriteString(m.Content + opts.EOS)
		default:
			content := m.Content
			if system != "" {
				content = system + "\n\n" + content
				system = ""
			}
			b.WriteString("[INST] " + content + " [/INST]")
		}
	}
}
