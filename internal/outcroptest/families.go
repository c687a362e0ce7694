package outcroptest

import (
	"github.com/outcrop/outcrop/internal/family"
	"github.com/outcrop/outcrop/internal/family/converse"
)

// DefaultFamilies are the codecs test servers load unless told otherwise.
func DefaultFamilies() []family.Codec { return []family.Codec{converse.Codec{}} }
