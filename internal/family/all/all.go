// Package all lists the model families compiled into Outcrop. The server
// builds family.NewRegistry(all.Families...), which rejects duplicate names;
// adding a family is one line here.
package all

import (
	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/ai21"
	"github.com/outcrop/outcrop/internal/family/anthropic"
	"github.com/outcrop/outcrop/internal/family/cohere"
	"github.com/outcrop/outcrop/internal/family/converse"
	"github.com/outcrop/outcrop/internal/family/deepseek"
	"github.com/outcrop/outcrop/internal/family/meta"
	"github.com/outcrop/outcrop/internal/family/mistral"
	"github.com/outcrop/outcrop/internal/family/nova"
	"github.com/outcrop/outcrop/internal/family/stability"
	"github.com/outcrop/outcrop/internal/family/titanembed"
	"github.com/outcrop/outcrop/internal/family/titanimage"
	"github.com/outcrop/outcrop/internal/family/titantext"
)

// Families are the compiled-in codecs, each a family.ChatCodec, a
// family.EmbedCodec or a family.ImageCodec.
var Families = []family.Codec{
	converse.Codec{},
	titantext.Codec{},
	titanembed.G1{},
	titanembed.V2{},
	anthropic.Messages{},
	anthropic.Text{},
	meta.Codec{},
	mistral.Text{},
	mistral.Chat{},
	cohere.Command{},
	cohere.CommandR{},
	cohere.Embed{},
	ai21.Jamba{},
	ai21.J2{},
	deepseek.Codec{},
	nova.Codec{},
	titanimage.G1{},
	titanimage.V2{},
	stability.SDXL{},
	stability.Image{},
}
