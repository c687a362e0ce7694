package bufpool_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/outcrop/outcrop/internal/bufpool"
)

func TestReadAtMost(t *testing.T) {
	data := strings.Repeat("0123456789", 1000)
	for _, tc := range []struct {
		name  string
		r     io.Reader
		limit int64
		want  string
		err   bool
	}{
		{"all", strings.NewReader(data), 1 << 20, data, false},
		{"exactly the limit", strings.NewReader(data), int64(len(data)), data, false},
		{"cut at the limit", strings.NewReader(data), 4097, data[:4097], false},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(data[:10])), 100, data[:10], false},
		{"error kept with what arrived", io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(errors.New("reset"))), 100, "abc", true},
		{"empty", strings.NewReader(""), 100, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bufpool.ReadAtMost(tc.r, make([]byte, 0, 16), tc.limit)
			if (err != nil) != tc.err || string(got) != tc.want {
				t.Errorf("got %d bytes, error %v; want %d bytes, error %v", len(got), err, len(tc.want), tc.err)
			}
		})
	}
}
