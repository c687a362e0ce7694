// Package prompt reads the raw prompts of text-completion families as chat
// turns. Bedrock passes a Llama, Mistral or DeepSeek prompt to its model as
// written, in the model's own prompt format; a backend that is a chat model
// with another format (the built-in SmolLM2 speaks ChatML) answers such a
// prompt best when it is given the turns the prompt was written as,
// rendered through its own template (package adapt does that).
//
// There is one Parser per documented format. A parser reports false when
// the prompt is not in its format — it has none of the format's markers,
// or they do not make a conversation that starts with the user's turn —
// and the prompt is then best kept verbatim. Parsers never fail otherwise
// and never panic (each has a fuzz test).
package prompt

import (
	"strings"

	"github.com/outcrop/outcrop/internal/provider"
)

// Parser reads a prompt written in one format as a conversation.
type Parser func(prompt string) (*provider.Conversation, bool)

// Read returns the conversation of the first of parsers that reads s, or
// nil when none does.
func Read(s string, parsers ...Parser) *provider.Conversation {
	for _, p := range parsers {
		if c, ok := p(s); ok {
			return c
		}
	}
	return nil
}

// Plain reads any prompt that is not blank as one user turn: what a model
// tuned to follow instructions makes of a bare instruction such as
// "Describe the purpose of a 'hello world' program in one line.".
func Plain(s string) (*provider.Conversation, bool) {
	var t turns
	t.add(provider.User, s)
	return t.done()
}

// turns collects a conversation as a parser reads it.
type turns struct {
	system []string
	msgs   []provider.Message
	// open is set when the last message is an assistant turn the prompt
	// left unfinished: a prefill the model continues.
	open bool
}

func (t *turns) addSystem(text string) {
	if text = strings.TrimSpace(text); text != "" {
		t.system = append(t.system, text)
	}
}

// add appends a finished turn. Blank turns are dropped and consecutive
// turns of one role are merged, so that roles alternate.
func (t *turns) add(role provider.Role, text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	t.open = false
	if n := len(t.msgs); n > 0 && t.msgs[n-1].Role == role {
		b := &t.msgs[n-1].Content[0]
		b.Text += "\n\n" + text
		return
	}
	t.msgs = append(t.msgs, provider.Message{Role: role, Content: []provider.Block{{Type: provider.TextBlock, Text: text}}})
}

// prefill appends the assistant turn the prompt ends in, unfinished; a
// blank one is the format's cue for the answer and adds nothing.
func (t *turns) prefill(text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	t.add(provider.Assistant, text)
	t.open = true
}

// done returns the conversation, which must start with the user's turn
// and may end with the assistant's only when that turn is unfinished.
func (t *turns) done() (*provider.Conversation, bool) {
	n := len(t.msgs)
	if n == 0 || t.msgs[0].Role != provider.User || (t.msgs[n-1].Role == provider.Assistant && !t.open) {
		return nil, false
	}
	c := &provider.Conversation{Messages: t.msgs}
	if len(t.system) > 0 {
		c.System = []provider.Block{{Type: provider.TextBlock, Text: strings.Join(t.system, "\n\n")}}
	}
	return c, true
}

// Llama 2 and Mistral markers.
const (
	bos       = "<s>"
	eos       = "</s>"
	instOpen  = "[INST]"
	instClose = "[/INST]"
	sysOpen   = "<<SYS>>"
	sysClose  = "<</SYS>>"
)

// Llama2 reads Meta's Llama 2 chat format:
//
//	<s>[INST] <<SYS>>
//	{system}
//	<</SYS>>
//
//	{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]
//
// Text after the last [/INST] is a prefill.
func Llama2(s string) (*provider.Conversation, bool) { return inst(s, true) }

// Mistral reads Mistral's instruction format, Llama 2's without a system
// prompt: <s>[INST] {user} [/INST] {assistant}</s>[INST] {user} [/INST].
func Mistral(s string) (*provider.Conversation, bool) { return inst(s, false) }

func inst(s string, system bool) (*provider.Conversation, bool) {
	if !strings.Contains(s, instOpen) {
		return nil, false
	}
	var t turns
	rest := s
	for {
		rest = strings.TrimSpace(rest)
		rest = strings.TrimSpace(strings.TrimPrefix(rest, bos))
		if rest == "" {
			break
		}
		if !strings.HasPrefix(rest, instOpen) {
			return nil, false // text outside the turns: not this format
		}
		rest = rest[len(instOpen):]
		end := strings.Index(rest, instClose)
		if end < 0 {
			return nil, false
		}
		user := strings.TrimSpace(rest[:end])
		rest = rest[end+len(instClose):]
		if system && strings.HasPrefix(user, sysOpen) {
			e := strings.Index(user, sysClose)
			if e < 0 {
				return nil, false
			}
			t.addSystem(user[len(sysOpen):e])
			user = user[e+len(sysClose):]
		}
		t.add(provider.User, user)
		// The answer runs to the end of the sequence, or to the next
		// instruction when </s> was left out.
		next := -1
		for _, m := range []string{eos, bos, instOpen} {
			if i := strings.Index(rest, m); i >= 0 && (next < 0 || i < next) {
				next = i
			}
		}
		if next < 0 {
			t.prefill(rest)
			break
		}
		t.add(provider.Assistant, rest[:next])
		rest = strings.TrimPrefix(rest[next:], eos)
	}
	return t.done()
}

// Llama 3 markers.
const (
	beginText  = "<|begin_of_text|>"
	headStart  = "<|start_header_id|>"
	headEnd    = "<|end_header_id|>"
	endOfTurn  = "<|eot_id|>"
	roleSystem = "system"
)

// Llama3 reads Meta's Llama 3 format (also Llama 3.1, 3.2 and 3.3):
//
//	<|begin_of_text|><|start_header_id|>system<|end_header_id|>
//
//	{system}<|eot_id|><|start_header_id|>user<|end_header_id|>
//
//	{user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>
//
// An assistant turn without <|eot_id|> at the end is a prefill. Roles
// other than system, user and assistant (Llama 3.1's ipython tool turns)
// are not read: such prompts stay verbatim.
func Llama3(s string) (*provider.Conversation, bool) {
	if !strings.Contains(s, headStart) {
		return nil, false
	}
	var t turns
	rest := strings.TrimPrefix(strings.TrimSpace(s), beginText)
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		if !strings.HasPrefix(rest, headStart) {
			return nil, false
		}
		rest = rest[len(headStart):]
		e := strings.Index(rest, headEnd)
		if e < 0 {
			return nil, false
		}
		role := strings.TrimSpace(rest[:e])
		rest = rest[e+len(headEnd):]
		end, skip := strings.Index(rest, endOfTurn), len(endOfTurn)
		if h := strings.Index(rest, headStart); h >= 0 && (end < 0 || h < end) {
			end, skip = h, 0 // <|eot_id|> left out before the next header
		}
		open := end < 0
		if open {
			end, skip = len(rest), 0
		}
		text := rest[:end]
		rest = rest[end+skip:]
		switch role {
		case roleSystem:
			t.addSystem(text)
		case "user":
			t.add(provider.User, text)
		case "assistant":
			if open {
				t.prefill(text)
			} else {
				t.add(provider.Assistant, text)
			}
		default:
			return nil, false
		}
	}
	return t.done()
}

// Titan turn markers, each at the start of a line.
const (
	titanUser = "User:"
	titanBot  = "Bot:"
)

// Titan reads Amazon Titan Text's conversational format, turns that
// start lines with "User:" and "Bot:":
//
//	{context}
//	User: {user}
//	Bot: {assistant}
//	User: {user}
//	Bot:
//
// Text before the first "User:" line is the system prompt (before a first
// "Bot:" line, the user's turn). The last "Bot:" turn is the one the model
// writes, so any text in it is a prefill.
func Titan(s string) (*provider.Conversation, bool) {
	var t turns
	var role provider.Role
	var text strings.Builder
	seen := false
	flush := func(next provider.Role) {
		switch {
		case role != "":
			t.add(role, text.String())
		case next == provider.User:
			t.addSystem(text.String())
		default:
			t.add(provider.User, text.String())
		}
		role = next
		text.Reset()
	}
	for i, line := range strings.Split(s, "\n") {
		l := strings.TrimLeft(line, " \t")
		switch {
		case strings.HasPrefix(l, titanUser):
			flush(provider.User)
			text.WriteString(l[len(titanUser):])
			seen = true
		case strings.HasPrefix(l, titanBot):
			flush(provider.Assistant)
			text.WriteString(l[len(titanBot):])
			seen = true
		default:
			if i > 0 {
				text.WriteByte('\n')
			}
			text.WriteString(line)
		}
	}
	if !seen {
		return nil, false
	}
	if role == provider.Assistant {
		t.prefill(text.String())
	} else {
		t.add(role, text.String())
	}
	return t.done()
}

// DeepSeek markers. The bars are U+FF5C and the spaces U+2581, as in
// DeepSeek's tokenizer.
const (
	dsBegin     = "<｜begin▁of▁sentence｜>"
	dsEnd       = "<｜end▁of▁sentence｜>"
	dsUser      = "<｜User｜>"
	dsAssistant = "<｜Assistant｜>"
	thinkOpen   = "<think>"
	thinkClose  = "</think>"
)

// DeepSeek reads the DeepSeek-R1 and V3.1 format that Bedrock's DeepSeek
// page documents:
//
//	<｜begin▁of▁sentence｜>{system}<｜User｜>{user}<｜Assistant｜>{assistant}<｜end▁of▁sentence｜><｜User｜>{user}<｜Assistant｜><think>\n
//
// The <think> (R1, V3.1 thinking) or </think> (V3.1 non-thinking) after the
// last <｜Assistant｜> is the format's cue for the answer, as in DeepSeek's
// own chat templates, not a prefill; other text there is. As those
// templates do, earlier answers lose their reasoning (text up to
// </think>).
func DeepSeek(s string) (*provider.Conversation, bool) {
	if !strings.Contains(s, dsUser) {
		return nil, false
	}
	rest := strings.TrimPrefix(strings.TrimSpace(s), dsBegin)
	first := nextMarker(rest)
	var t turns
	t.addSystem(rest[:first])
	rest = rest[first:]
	for rest != "" {
		role, marker := provider.User, dsUser
		if strings.HasPrefix(rest, dsAssistant) {
			role, marker = provider.Assistant, dsAssistant
		}
		rest = rest[len(marker):]
		end := nextMarker(rest)
		text := rest[:end]
		rest = rest[end:]
		if role == provider.User {
			t.add(role, strings.TrimSuffix(strings.TrimSpace(text), dsEnd))
			continue
		}
		text, closed := strings.CutSuffix(strings.TrimSpace(text), dsEnd)
		if closed || rest != "" {
			if i := strings.LastIndex(text, thinkClose); i >= 0 {
				text = text[i+len(thinkClose):]
			}
			t.add(role, text)
			continue
		}
		cue := strings.TrimSpace(text)
		if cue == thinkOpen || cue == thinkClose {
			text = ""
		}
		t.prefill(text)
	}
	return t.done()
}

// nextMarker returns the offset of the next DeepSeek turn marker in s, or
// len(s).
func nextMarker(s string) int {
	end := len(s)
	for _, m := range []string{dsUser, dsAssistant} {
		if i := strings.Index(s, m); i >= 0 && i < end {
			end = i
		}
	}
	return end
}
