// Package llm runs decoder-only transformer language models (Llama-style:
// RMSNorm, rotary position embeddings, grouped-query attention, SwiGLU
// feed-forward) from GGUF files on the CPU.
//
// Architectures differ only in data: an [Arch] names the GGUF tensors of
// each weight slot and the rotary-embedding style, and lives in its own
// package under internal/engine/arch. [Load] looks the file's
// general.architecture up in the Arch list the caller passes.
//
// A [Model] holds the immutable weights (a read-only memory map of the
// file) and may be shared by any number of [Session]s; a Session owns a KV
// cache and scratch buffers and runs one sequence at a time. The forward
// pass allocates nothing per token once a Session exists.
package llm

// RopeStyle selects how rotary position embeddings pair up dimensions.
type RopeStyle int

const (
	// RopeNormal rotates adjacent pairs (x[2i], x[2i+1]): ggml's mode 0,
	// used by the llama architecture (whose Q and K weights the GGUF
	// converter permutes to match).
	RopeNormal RopeStyle = iota
	// RopeNeox rotates (x[i], x[i+d/2]): GPT-NeoX style, used by qwen2.
	RopeNeox
)

// Slot identifies one weight of the model.
type Slot int

// Weight slots. Global slots name whole-model tensors; layer slots name
// tensors repeated in every block.
const (
	TokenEmbd  Slot = iota // token embeddings, vocab × dim
	OutputNorm             // final RMSNorm weight, dim
	Output                 // output projection, vocab × dim (absent: tied to TokenEmbd)
	RopeFreqs              // per-pair rope frequency divisors (llama 3.1+ rope scaling), headDim/2

	AttnNorm  // RMSNorm weight before attention, dim
	AttnQ     // query projection, heads·headDim × dim
	AttnK     // key projection, kvHeads·headDim × dim
	AttnV     // value projection, kvHeads·headDim × dim
	AttnQBias // query bias, heads·headDim
	AttnKBias // key bias, kvHeads·headDim
	AttnVBias // value bias, kvHeads·headDim
	AttnOut   // attention output projection, dim × heads·headDim
	FFNNorm   // RMSNorm weight before the feed-forward block, dim
	FFNGate   // SwiGLU gate projection, ff × dim
	FFNUp     // SwiGLU up projection, ff × dim
	FFNDown   // feed-forward down projection, dim × ff

	numSlots
)

// firstLayerSlot is the first per-layer slot.
const firstLayerSlot = AttnNorm

// Binding ties a weight slot to a GGUF tensor name. Layer slots' names are
// relative to the block prefix "blk.N.".
type Binding struct {
	Slot     Slot
	Name     string
	Optional bool // a missing tensor is not an error
}

// Arch describes one GGUF general.architecture.
type Arch struct {
	// Name is the general.architecture value, also the prefix of the
	// hyperparameter keys (<name>.block_count, ...).
	Name string
	// Rope is the rotary embedding style.
	Rope RopeStyle
	// RopeFreqBase is used when <name>.rope.freq_base is absent.
	RopeFreqBase float64
	// Global binds the whole-model tensors, Layer the per-block ones.
	// TokenEmbd, OutputNorm, AttnNorm, AttnQ, AttnK, AttnV, AttnOut,
	// FFNNorm, FFNGate, FFNUp and FFNDown must be bound; the rest are
	// optional features.
	Global, Layer []Binding
}

// LlamaGlobal returns the whole-model tensor naming shared by llama-family
// architectures in GGUF.
func LlamaGlobal() []Binding {
	return []Binding{
		{Slot: TokenEmbd, Name: "token_embd.weight"},
		{Slot: OutputNorm, Name: "output_norm.weight"},
		{Slot: Output, Name: "output.weight", Optional: true},
		{Slot: RopeFreqs, Name: "rope_freqs.weight", Optional: true},
	}
}

// LlamaLayer returns the per-block tensor naming shared by llama-family
// architectures; biases says whether the Q/K/V biases are required
// (qwen2) or optional (llama).
func LlamaLayer(biasesRequired bool) []Binding {
	return []Binding{
		{Slot: AttnNorm, Name: "attn_norm.weight"},
		{Slot: AttnQ, Name: "attn_q.weight"},
		{Slot: AttnK, Name: "attn_k.weight"},
		{Slot: AttnV, Name: "attn_v.weight"},
		{Slot: AttnQBias, Name: "attn_q.bias", Optional: !biasesRequired},
		{Slot: AttnKBias, Name: "attn_k.bias", Optional: !biasesRequired},
		{Slot: AttnVBias, Name: "attn_v.bias", Optional: !biasesRequired},
		{Slot: AttnOut, Name: "attn_output.weight"},
		{Slot: FFNNorm, Name: "ffn_norm.weight"},
		{Slot: FFNGate, Name: "ffn_gate.weight"},
		{Slot: FFNUp, Name: "ffn_up.weight"},
		{Slot: FFNDown, Name: "ffn_down.weight"},
	}
}
