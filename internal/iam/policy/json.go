package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// jsonValue is a decoded JSON value that keeps object members in order and
// lets the parser see duplicate names, which encoding/json's maps hide.
type jsonValue struct {
	kind jsonKind
	str  string // string, number (as written) or "true"/"false"
	obj  []jsonMember
	arr  []jsonValue
}

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonString
	jsonNumber
	jsonBool
	jsonObject
	jsonArray
)

func (k jsonKind) String() string {
	return [...]string{"null", "a string", "a number", "a boolean", "an object", "an array"}[k]
}

type jsonMember struct {
	name string
	val  jsonValue
}

// maxDepth bounds nesting; a policy needs four levels.
const maxDepth = 32

var errTooDeep = errors.New("nested too deeply")

// decodeJSON decodes exactly one JSON value from data.
func decodeJSON(data []byte) (jsonValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return jsonValue{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jsonValue{}, errors.New("unexpected data after the policy document")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (jsonValue, error) {
	if depth > maxDepth {
		return jsonValue{}, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return jsonValue{}, err
	}
	switch t := tok.(type) {
	case nil:
		return jsonValue{kind: jsonNull}, nil
	case string:
		return jsonValue{kind: jsonString, str: t}, nil
	case json.Number:
		return jsonValue{kind: jsonNumber, str: string(t)}, nil
	case bool:
		s := "false"
		if t {
			s = "true"
		}
		return jsonValue{kind: jsonBool, str: s}, nil
	case json.Delim:
		switch t {
		case '{':
			v := jsonValue{kind: jsonObject}
			for dec.More() {
				nt, err := dec.Token()
				if err != nil {
					return jsonValue{}, err
				}
				name, _ := nt.(string)
				mv, err := decodeValue(dec, depth+1)
				if err != nil {
					return jsonValue{}, err
				}
				v.obj = append(v.obj, jsonMember{name: name, val: mv})
			}
			if _, err := dec.Token(); err != nil {
				return jsonValue{}, err
			}
			return v, nil
		case '[':
			v := jsonValue{kind: jsonArray}
			for dec.More() {
				ev, err := decodeValue(dec, depth+1)
				if err != nil {
					return jsonValue{}, err
				}
				v.arr = append(v.arr, ev)
			}
			if _, err := dec.Token(); err != nil {
				return jsonValue{}, err
			}
			return v, nil
		}
	}
	return jsonValue{}, errors.New("unexpected JSON token")
}
