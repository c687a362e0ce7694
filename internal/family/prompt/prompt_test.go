package prompt

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/provider"
)

func user(s string) provider.Message {
	return provider.Message{Role: provider.User, Content: []provider.Block{{Type: provider.TextBlock, Text: s}}}
}

func assistant(s string) provider.Message {
	return provider.Message{Role: provider.Assistant, Content: []provider.Block{{Type: provider.TextBlock, Text: s}}}
}

func conv(system string, msgs ...provider.Message) *provider.Conversation {
	c := &provider.Conversation{Messages: msgs}
	if system != "" {
		c.System = []provider.Block{{Type: provider.TextBlock, Text: system}}
	}
	return c
}

type parseCase struct {
	name   string
	prompt string
	want   *provider.Conversation // nil: not this format
}

func runCases(t *testing.T, name string, p Parser, cases []parseCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p(tt.prompt)
			if ok != (tt.want != nil) {
				t.Fatalf("%s(%q) ok = %v, want %v (got %+v)", name, tt.prompt, ok, tt.want != nil, got)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s(%q) mismatch (-want +got):\n%s", name, tt.prompt, diff)
			}
		})
	}
}

func TestPlain(t *testing.T) {
	runCases(t, "Plain", Plain, []parseCase{
		{"instruction", "Describe the purpose of a 'hello world' program in one line.", conv("", user("Describe the purpose of a 'hello world' program in one line."))},
		{"trimmed", "\n  Hi there \n", conv("", user("Hi there"))},
		{"blank", " \n\t", nil},
		{"empty", "", nil},
	})
}

func TestLlama2(t *testing.T) {
	runCases(t, "Llama2", Llama2, []parseCase{
		{"one turn", "<s>[INST] What is 2+2? [/INST]", conv("", user("What is 2+2?"))},
		{"without bos", "[INST] Hi [/INST]", conv("", user("Hi"))},
		{"system", "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nName a colour. [/INST]", conv("You are terse.", user("Name a colour."))},
		{"multi turn", "<s>[INST] Hi [/INST] Hello! </s><s>[INST] Name a colour. [/INST]",
			conv("", user("Hi"), assistant("Hello!"), user("Name a colour."))},
		{"missing eos", "[INST] Hi [/INST] Hello! [INST] Bye [/INST]", conv("", user("Hi"), assistant("Hello!"), user("Bye"))},
		{"prefill", "<s>[INST] Name a colour. [/INST] The colour is", conv("", user("Name a colour."), assistant("The colour is"))},
		{"ends with a finished answer", "<s>[INST] Hi [/INST] Hello! </s>", nil},
		{"unclosed inst", "<s>[INST] Hi", nil},
		{"unclosed sys", "[INST] <<SYS>> be brief [/INST]", nil},
		{"text before", "Question: [INST] Hi [/INST]", nil},
		{"plain", "Once upon a time", nil},
		{"empty instruction", "[INST] [/INST]", nil},
	})
}

func TestMistral(t *testing.T) {
	runCases(t, "Mistral", Mistral, []parseCase{
		{"aws example", "<s>[INST] Describe the purpose of a 'hello world' program in one line. [/INST]",
			conv("", user("Describe the purpose of a 'hello world' program in one line."))},
		{"multi turn", "<s>[INST] Instruction [/INST] Model answer</s>[INST] Follow-up instruction [/INST]",
			conv("", user("Instruction"), assistant("Model answer"), user("Follow-up instruction"))},
		{"sys is text", "[INST] <<SYS>> x <</SYS>> Hi [/INST]", conv("", user("<<SYS>> x <</SYS>> Hi"))},
		{"prefill", "[INST] Count to three. [/INST] One,", conv("", user("Count to three."), assistant("One,"))},
		{"plain", "The capital of France is", nil},
	})
}

const (
	l3sys  = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
	l3user = "<|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|>"
	l3cue  = "<|start_header_id|>assistant<|end_header_id|>\n\n"
)

func TestLlama3(t *testing.T) {
	runCases(t, "Llama3", Llama3, []parseCase{
		{"aws example", "\n<|begin_of_text|><|start_header_id|>user<|end_header_id|>\nDescribe the purpose of a 'hello world' program in one line.\n<|eot_id|>\n<|start_header_id|>assistant<|end_header_id|>\n",
			conv("", user("Describe the purpose of a 'hello world' program in one line."))},
		{"system", l3sys + l3user + l3cue, conv("You are terse.", user("Name a colour."))},
		{"multi turn", "<|begin_of_text|>" + l3user + l3cue + "Blue.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother.<|eot_id|>" + l3cue,
			conv("", user("Name a colour."), assistant("Blue."), user("Another."))},
		{"prefill", l3sys + l3user + l3cue + "My answer:", conv("You are terse.", user("Name a colour."), assistant("My answer:"))},
		{"no cue", l3user, conv("", user("Name a colour."))},
		{"eot left out", "<|start_header_id|>user<|end_header_id|>\n\nHi<|start_header_id|>assistant<|end_header_id|>\n\n", conv("", user("Hi"))},
		{"merged user turns", l3user + l3user + l3cue, conv("", user("Name a colour.\n\nName a colour."))},
		{"tool role", l3user + "<|start_header_id|>ipython<|end_header_id|>\n\n{}<|eot_id|>" + l3cue, nil},
		{"assistant first", l3cue + "Hi<|eot_id|>" + l3user + l3cue, nil},
		{"ends with a finished answer", l3user + l3cue + "Blue.<|eot_id|>", nil},
		{"system only", l3sys + l3cue, nil},
		{"unclosed header", "<|start_header_id|>user", nil},
		{"text before", "Hi " + l3user, nil},
		{"plain", "Hello", nil},
	})
}

func TestTitan(t *testing.T) {
	runCases(t, "Titan", Titan, []parseCase{
		{"chat", "User: Name a colour.\nBot:", conv("", user("Name a colour."))},
		{"context", "You are terse.\n\nUser: Name a colour.\nBot:", conv("You are terse.", user("Name a colour."))},
		{"multi turn", "User: Hi\nBot: Hello!\nUser: Name a colour.\nBot:", conv("", user("Hi"), assistant("Hello!"), user("Name a colour."))},
		{"multi-line turn", "User: Line one\nline two\nBot:", conv("", user("Line one\nline two"))},
		{"prefill", "User: Count to three.\nBot: One,", conv("", user("Count to three."), assistant("One,"))},
		{"bot cue only", "Name a colour.\nBot:", conv("", user("Name a colour."))},
		{"no cue", "User: Name a colour.", conv("", user("Name a colour."))},
		{"indented markers", "  User: Hi\n  Bot:", conv("", user("Hi"))},
		{"marker mid-line", "Reply as User: no", nil},
		{"plain", "Describe the purpose of a 'hello world' program in one line.", nil},
		{"only cue", "Bot:", nil},
	})
}

const (
	dsBOS = "<｜begin▁of▁sentence｜>"
	dsU   = "<｜User｜>"
	dsA   = "<｜Assistant｜>"
	dsEOS = "<｜end▁of▁sentence｜>"
)

func TestDeepSeek(t *testing.T) {
	runCases(t, "DeepSeek", DeepSeek, []parseCase{
		// The prompt of the example on Bedrock's DeepSeek page, built
		// with a triple-quoted f-string: a newline before and after.
		{"aws example", "\n" + dsBOS + dsU + "Describe the purpose of a 'hello world' program in one line." + dsA + "<think>\n\n",
			conv("", user("Describe the purpose of a 'hello world' program in one line."))},
		{"system", dsBOS + "You are terse." + dsU + "Name a colour." + dsA, conv("You are terse.", user("Name a colour."))},
		{"v3.1 non-thinking", dsBOS + dsU + "Hi" + dsA + "</think>", conv("", user("Hi"))},
		{"multi turn drops reasoning", dsBOS + dsU + "Hi" + dsA + "<think>greet back</think>Hello!" + dsEOS + dsU + "Name a colour." + dsA + "<think>\n",
			conv("", user("Hi"), assistant("Hello!"), user("Name a colour."))},
		{"eos left out", dsU + "Hi" + dsA + "Hello!" + dsU + "Bye" + dsA, conv("", user("Hi"), assistant("Hello!"), user("Bye"))},
		{"prefill", dsU + "Count to three." + dsA + "One,", conv("", user("Count to three."), assistant("One,"))},
		{"reasoning prefill", dsU + "Count to three." + dsA + "<think>\nThe user wants", conv("", user("Count to three."), assistant("<think>\nThe user wants"))},
		{"ends with a finished answer", dsU + "Hi" + dsA + "Hello!" + dsEOS, nil},
		{"assistant first", dsA + "Hello" + dsU + "Hi" + dsA, nil},
		{"ascii bars", "<|User|>Hi<|Assistant|>", nil},
		{"plain", "Hello", nil},
	})
}

func TestRead(t *testing.T) {
	for _, tt := range []struct {
		name    string
		prompt  string
		parsers []Parser
		want    *provider.Conversation
	}{
		{"format first", "User: Hi\nBot:", []Parser{Titan, Plain}, conv("", user("Hi"))},
		{"plain fallback", "Hi", []Parser{Titan, Plain}, conv("", user("Hi"))},
		{"verbatim", "Once upon a time", []Parser{Llama3, Llama2}, nil},
		{"second format", "[INST] Hi [/INST]", []Parser{Llama3, Llama2}, conv("", user("Hi"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Read(tt.prompt, tt.parsers...)); diff != "" {
				t.Errorf("Read(%q) mismatch (-want +got):\n%s", tt.prompt, diff)
			}
		})
	}
}

// checkConversation checks what every parser promises of a conversation it
// returns.
func checkConversation(t *testing.T, name, s string, p Parser) {
	c, ok := p(s)
	if !ok {
		if c != nil {
			t.Fatalf("%s(%q) = %+v, false", name, s, c)
		}
		return
	}
	if c == nil || len(c.Messages) == 0 {
		t.Fatalf("%s(%q) = %+v, true: no messages", name, s, c)
	}
	if c.Messages[0].Role != provider.User {
		t.Fatalf("%s(%q): first turn is the %s's", name, s, c.Messages[0].Role)
	}
	for i, m := range c.Messages {
		if i > 0 && m.Role == c.Messages[i-1].Role {
			t.Fatalf("%s(%q): turns %d and %d are both the %s's", name, s, i-1, i, m.Role)
		}
		text := provider.TextOf(m.Content)
		if len(m.Content) != 1 || strings.TrimSpace(text) != text || text == "" {
			t.Fatalf("%s(%q): turn %d is %q", name, s, i, text)
		}
		if utf8.ValidString(s) && !utf8.ValidString(text) {
			t.Fatalf("%s(%q): turn %d is not valid UTF-8", name, s, i)
		}
	}
}

func fuzzParser(f *testing.F, name string, p Parser, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkConversation(t, name, s, p) })
}

func FuzzPlain(f *testing.F) { fuzzParser(f, "Plain", Plain, "Hi", " ", "") }

func FuzzLlama2(f *testing.F) {
	fuzzParser(f, "Llama2", Llama2, "<s>[INST] <<SYS>>\nx\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST]", "[INST] [/INST] x", "[INST]<<SYS>>")
}

func FuzzMistral(f *testing.F) {
	fuzzParser(f, "Mistral", Mistral, "<s>[INST] Instruction [/INST] Model answer</s>[INST] Follow-up instruction [/INST]", "[INST]</s>[/INST]")
}

func FuzzLlama3(f *testing.F) {
	fuzzParser(f, "Llama3", Llama3, l3sys+l3user+l3cue+"x", "<|start_header_id|><|end_header_id|><|eot_id|>")
}

func FuzzTitan(f *testing.F) {
	fuzzParser(f, "Titan", Titan, "ctx\nUser: Hi\nBot: Hello\nUser: x\nBot:", "Bot:\nUser:", "\n\n")
}

func FuzzDeepSeek(f *testing.F) {
	fuzzParser(f, "DeepSeek", DeepSeek, dsBOS+"sys"+dsU+"Hi"+dsA+"<think>a</think>b"+dsEOS+dsU+"x"+dsA+"<think>\n", dsU+dsA+dsEOS)
}
