package idl

import (
	"errors"
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// fuzzCodec picks the GIOP version and byte order from a fuzzed octet.
func fuzzCodec(b byte) (giop.Version, bool) {
	vs := []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2}
	return vs[int(b>>1)%3], b&1 == 1
}

// FuzzUnmarshal decodes fuzzed bytes as RT::Big (roundtrip.idl: every kind
// of IDL type, anys with TypeCodes of their own, a recursive struct) in a
// fuzzed GIOP version and byte order. Decoding must never panic, hang or
// allocate beyond the input; a value that decodes must marshal again
// (unless it holds something Marshal refuses, such as a NUL in a string)
// and decode to the same value.
func FuzzUnmarshal(f *testing.F) {
	m := newRTModel()
	self := mtIOR()
	for _, mode := range []byte{0, 1, 2, 3, 4, 5} {
		v, le := fuzzCodec(mode)
		e := giop.NewEncoder(v, le)
		if err := Marshal(e, m.Big, m.big(self)); err != nil {
			f.Fatal(err)
		}
		f.Add(mode, e.Bytes())
	}
	for _, vc := range mtValueCases() {
		if vc.t.Kind != giop.TkAny {
			continue
		}
		e := giop.NewEncoder(giop.V1_2, true)
		if err := Marshal(e, vc.t, vc.v); err == nil {
			f.Add(byte(5), e.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		v, le := fuzzCodec(mode)
		typ := m.Big
		if mode&0x80 != 0 {
			typ = mtAny // a TypeCode and value both taken from the input
		}
		got, err := Unmarshal(giop.NewDecoder(data, v, le), typ)
		if err != nil {
			return
		}
		e := giop.NewEncoder(v, le)
		if err := Marshal(e, typ, got); err != nil {
			if !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("re-marshal: %v", err)
			}
			return
		}
		again, err := Unmarshal(giop.NewDecoder(e.Bytes(), v, le), typ)
		if err != nil {
			t.Fatalf("decoding our own encoding: %v", err)
		}
		if d := mtDiff("v", again, got); d != "" {
			t.Fatalf("round trip changed the value: %s", d)
		}
	})
}

// FuzzReadTypeCode reads fuzzed bytes as a TypeCode. It must never panic or
// hang (indirections are resolved by lookup, never followed in a loop); a
// TypeCode that reads must write again and read back the same.
func FuzzReadTypeCode(f *testing.F) {
	for _, typ := range mtTypeCases() {
		for _, le := range []bool{true, false} {
			e := giop.NewEncoder(giop.V1_2, le)
			if err := WriteTypeCode(e, typ); err == nil {
				f.Add(le, e.Bytes())
			}
		}
	}
	f.Add(true, mtHex("13000000 0c000000 01000000 ffffffff f4ffffff 00000000"))
	f.Fuzz(func(t *testing.T, le bool, data []byte) {
		typ, err := ReadTypeCode(giop.NewDecoder(data, giop.V1_2, le))
		if err != nil {
			return
		}
		describeType(typ)
		Zero(typ)
		e := giop.NewEncoder(giop.V1_2, le)
		if err := WriteTypeCode(e, typ); err != nil {
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("rewrite: %v", err)
			}
			return
		}
		back, err := ReadTypeCode(giop.NewDecoder(e.Bytes(), giop.V1_2, le))
		if err != nil {
			t.Fatalf("reading our own TypeCode: %v", err)
		}
		if !mtTypesEqual(back, typ) {
			t.Fatalf("TypeCode changed: %s became %s", describeType(typ), describeType(back))
		}
	})
}
