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
//
// Prompts are untrusted and up to 25 MB, so parsers take time linear in a
// prompt's length: they read it forward, search each stretch of it at most
// once for each marker (see finder) and join a merged turn's parts once.
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
	// last holds the texts of the last message's turns, joined into it
	// when a turn of the other role follows and in done: appending each
	// turn to the message's text would copy it again for every turn merged
	// after it.
	last []string
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
		t.last = append(t.last, text)
		return
	}
	t.join()
	t.msgs = append(t.msgs, provider.Message{Role: role, Content: []provider.Block{{Type: provider.TextBlock}}})
	t.last = append(t.last[:0], text)
}

// join sets the last message's text to its turns' texts.
func (t *turns) join() {
	if n := len(t.msgs); n > 0 {
		t.msgs[n-1].Content[0].Text = strings.Join(t.last, "\n\n")
	}
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
	t.join()
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

// A scan is a prompt a parser reads forward, as the successive rests of
// its text, each a suffix of the one before.
type scan struct {
	text string
	// searched counts the bytes that the finders' searches looked at;
	// the tests check that it grows linearly with the prompt.
	searched int
}

// A finder finds the occurrences of m in a scan's text. A parser asks at
// every turn where a marker next occurs, and searching the rest of the
// prompt each time would take time quadratic in its length whenever the
// marker is rare or absent; a finder instead remembers the next occurrence
// it found, so it searches each stretch of the text at most once.
type finder struct {
	sc       *scan
	m        string
	searched bool
	from     int // offset in sc.text of the last search
	next     int // offset in sc.text of the first occurrence at or after from, or -1
}

func (sc *scan) finder(m string) finder { return finder{sc: sc, m: m} }

// in returns the offset in rest of the first occurrence of m, or
// -1. rest is a suffix of the scan's text; a rest longer than the one
// before is searched again.
func (k *finder) in(rest string) int {
	pos := len(k.sc.text) - len(rest)
	if !k.searched || pos < k.from || (k.next >= 0 && k.next < pos) {
		k.searched, k.from, k.next = true, pos, strings.Index(rest, k.m)
		if k.next >= 0 {
			k.next += pos
			k.sc.searched += k.next - pos + len(k.m)
		} else {
			k.sc.searched += len(rest)
		}
	}
	if k.next < 0 {
		return -1
	}
	return k.next - pos
}

// first returns the offset in rest of the first occurrence of any of ms,
// or -1.
func first(rest string, ms ...*finder) int {
	end := -1
	for _, m := range ms {
		if i := m.in(rest); i >= 0 && (end < 0 || i < end) {
			end = i
		}
	}
	return end
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
func Llama2(s string) (*provider.Conversation, bool) { return inst(new(scan), s, true) }

// Mistral reads Mistral's instruction format, Llama 2's without a system
// prompt: <s>[INST] {user} [/INST] {assistant}</s>[INST] {user} [/INST].
func Mistral(s string) (*provider.Conversation, bool) { return inst(new(scan), s, false) }

func inst(sc *scan, s string, system bool) (*provider.Conversation, bool) {
	if !strings.Contains(s, instOpen) {
		return nil, false
	}
	var t turns
	sc.text = strings.TrimSpace(s)
	rest := sc.text
	closeM, eosM, bosM, openM := sc.finder(instClose), sc.finder(eos), sc.finder(bos), sc.finder(instOpen)
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
		end := closeM.in(rest)
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
		next := first(rest, &eosM, &bosM, &openM)
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
func Llama3(s string) (*provider.Conversation, bool) { return llama3(new(scan), s) }

func llama3(sc *scan, s string) (*provider.Conversation, bool) {
	if !strings.Contains(s, headStart) {
		return nil, false
	}
	var t turns
	sc.text = strings.TrimSpace(s)
	rest := strings.TrimPrefix(sc.text, beginText)
	headEndM, eotM, headStartM := sc.finder(headEnd), sc.finder(endOfTurn), sc.finder(headStart)
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		if !strings.HasPrefix(rest, headStart) {
			return nil, false
		}
		rest = rest[len(headStart):]
		e := headEndM.in(rest)
		if e < 0 {
			return nil, false
		}
		role := strings.TrimSpace(rest[:e])
		rest = rest[e+len(headEnd):]
		end, skip := eotM.in(rest), len(endOfTurn)
		if h := headStartM.in(rest); h >= 0 && (end < 0 || h < end) {
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
func DeepSeek(s string) (*provider.Conversation, bool) { return deepSeek(new(scan), s) }

func deepSeek(sc *scan, s string) (*provider.Conversation, bool) {
	if !strings.Contains(s, dsUser) {
		return nil, false
	}
	sc.text = strings.TrimPrefix(strings.TrimSpace(s), dsBegin)
	rest := sc.text
	userM, assistantM := sc.finder(dsUser), sc.finder(dsAssistant)
	// nextTurn returns the offset in rest of the next turn marker, or len(rest).
	nextTurn := func(rest string) int {
		if i := first(rest, &userM, &assistantM); i >= 0 {
			return i
		}
		return len(rest)
	}
	start := nextTurn(rest)
	var t turns
	t.addSystem(rest[:start])
	rest = rest[start:]
	for rest != "" {
		role, marker := provider.User, dsUser
		if strings.HasPrefix(rest, dsAssistant) {
			role, marker = provider.Assistant, dsAssistant
		}
		rest = rest[len(marker):]
		end := nextTurn(rest)
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
