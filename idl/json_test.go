package idl

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// TestJSONRoundTrip: every value of mtValueCases survives ToJSON and
// FromJSON, and the JSON is valid.
func TestJSONRoundTrip(t *testing.T) {
	extra := []mtValueCase{
		{"nan", mtDouble, math.NaN(), false},
		{"inf", mtFloat, float32(math.Inf(-1)), false},
		{"longlong_min", mtLL, int64(math.MinInt64), false},
		{"ulonglong_max", mtULL, uint64(math.MaxUint64), false},
		{"char_latin1", mtChar, byte(0xE9), false},
		{"any_named", mtAny, Any{Type: mtColor, Value: "blue"}, false},
		{"any_seq_named", mtAny, Any{Type: mtSeq(mtU(), 0), Value: []any{Union{Disc: int32(2), Value: "two"}}}, false},
		{"typecode_simple", mtTC, mtSeq(mtStr(3), 0), false},
	}
	for _, vc := range append(mtValueCases(), extra...) {
		b, err := ToJSON(vc.t, vc.v)
		if err != nil {
			t.Fatalf("%s: ToJSON: %v", vc.name, err)
		}
		if !json.Valid(b) {
			t.Fatalf("%s: invalid JSON %s", vc.name, b)
		}
		got, err := FromJSON(vc.t, b)
		if err != nil {
			t.Fatalf("%s: FromJSON(%s): %v", vc.name, b, err)
		}
		if !mtEqual(got, vc.v) {
			t.Fatalf("%s: %s decoded to %#v, want %#v", vc.name, b, got, vc.v)
		}
	}
}

func TestJSONText(t *testing.T) {
	inner := mtStruct("RT::Inner", mtMem("c", mtChar), mtMem("d", mtDouble))
	cases := []struct {
		name string
		t    *Type
		v    any
		want string
	}{
		{"struct members in order", mtStruct("S", mtMem("z", mtLong), mtMem("a", mtStr(0))),
			map[string]any{"a": "x", "z": int32(1)}, `{"z":1,"a":"x"}`},
		{"long long exact", mtLL, int64(math.MinInt64), `-9223372036854775808`},
		{"unsigned long long exact", mtULL, uint64(math.MaxUint64), `18446744073709551615`},
		{"float shortest", mtFloat, float32(0.1), `0.1`},
		{"double NaN", mtDouble, math.NaN(), `"NaN"`},
		{"octets as base64", mtSeq(mtOctet, 0), []byte{0, 1, 2, 0xFF}, `"AAEC/w=="`},
		{"octet array as base64", mtArr(mtOctet, 2), []byte{1, 2}, `"AQI="`},
		{"enum by name", mtColor, "green", `"green"`},
		{"union", mtU(), Union{Disc: int32(2), Value: "two"}, `{"discriminator":2,"value":"two"}`},
		{"union selecting nothing", mtEU(), Union{Disc: "blue"}, `{"discriminator":"blue"}`},
		{"fixed", mtFixed(5, 2), "-1.5", `"-1.50"`},
		{"char", mtChar, byte('q'), `"q"`},
		{"wchar", mtWChar, '€', `"€"`},
		{"sequence of structs", mtSeq(inner, 0), []any{map[string]any{"c": byte('a'), "d": 0.5}}, `[{"c":"a","d":0.5}]`},
		{"any described", mtAny, Any{Type: mtSeq(mtLong, 2), Value: []any{int32(1)}}, `{"type":"sequence<long,2>","value":[1]}`},
		{"any null", mtAny, Any{}, `{"type":"null","value":null}`},
		{"nil objref", mtObject, nil, `null`},
		{"objref", mtObject, mtIOR(), `"` + mtIOR().String() + `"`},
		{"TypeCode described", mtTC, mtArr(mtLong, 2), `{"type":"long[2]"}`},
		{"null value type", &Type{Kind: giop.TkValue}, nil, `null`},
	}
	for _, c := range cases {
		b, err := ToJSON(c.t, c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("%s: got %s, %v; want %s", c.name, b, err, c.want)
		}
	}
	// A named type in an any carries its TypeCode.
	b, err := ToJSON(mtAny, Any{Type: mtColor, Value: "red"})
	if err != nil || !strings.HasPrefix(string(b), `{"type":"IDL:RT/Color:1.0","typecode":"`) || !strings.HasSuffix(string(b), `","value":"red"}`) {
		t.Errorf("named any: %s, %v", b, err)
	}
}

func TestFromJSONInputs(t *testing.T) {
	cases := []struct {
		name string
		t    *Type
		in   string
		want any
	}{
		{"fixed from a number", mtFixed(5, 2), `12.5`, "12.50"},
		{"exact uint64", mtULL, `18446744073709551615`, uint64(math.MaxUint64)},
		{"exact int64", mtLL, `9007199254740993`, int64(9007199254740993)},
		{"float from exponent", mtDouble, `1e3`, 1000.0},
		{"infinity", mtDouble, `"-Infinity"`, math.Inf(-1)},
		{"union with null value", mtEU(), `{"discriminator":"blue","value":null}`, Union{Disc: "blue"}},
		{"any by description", mtAny, `{"type":"unsigned long long","value":5}`, Any{Type: mtULL, Value: uint64(5)}},
		{"any with array", mtAny, `{"type":"short[2]","value":[1,2]}`, Any{Type: mtArr(mtShort, 2), Value: []any{int16(1), int16(2)}}},
		{"TypeCode", mtTC, `{"type":"wstring<4>"}`, mtWStr(4)},
		{"objref null", mtObject, `null`, (*giop.IOR)(nil)},
		{"whitespace", mtSeq(mtLong, 0), " [ 1 , 2 ] \n", []any{int32(1), int32(2)}},
	}
	for _, c := range cases {
		got, err := FromJSON(c.t, []byte(c.in))
		if err != nil || !mtEqual(got, c.want) {
			t.Errorf("%s: got %#v, %v; want %#v", c.name, got, err, c.want)
		}
	}
}

func TestJSONErrors(t *testing.T) {
	rec := mtStruct("S", mtMem("a", mtLong), mtMem("b", mtSeq(mtStruct("P", mtMem("v", mtStr(2))), 0)))
	cases := []struct {
		name string
		t    *Type
		in   string
		sent error
		msg  string
	}{
		{"missing member", rec, `{"a":1}`, ErrMismatch, `member "b" of S is missing`},
		{"extra member", rec, `{"a":1,"b":[],"c":2}`, ErrMismatch, `S has no member "c"`},
		{"nested path", rec, `{"a":1,"b":[{"v":"ok"},{"v":"long"}]}`, ErrMismatch, `b[1].v: idl: value does not match its type: string<2> of length 4 exceeds its bound`},
		{"octet range", mtOctet, `256`, ErrMismatch, "256 is not a valid octet"},
		{"fraction for long", mtLong, `1.5`, ErrMismatch, "1.5 is not a valid long"},
		{"string for long", mtLong, `"1"`, ErrMismatch, "long wants an integer, got a string"},
		{"bad enumerator", mtColor, `"mauve"`, ErrMismatch, "not an enumerator"},
		{"two chars", mtChar, `"ab"`, ErrMismatch, "wants one character"},
		{"char beyond latin-1", mtChar, `"€"`, ErrMismatch, "not an ISO-8859-1 character"},
		{"bad base64", mtSeq(mtOctet, 0), `"!!"`, ErrMismatch, "invalid base64"},
		{"array length", mtArr(mtLong, 2), `[1]`, ErrMismatch, "wants 2 elements, got 1"},
		{"union value for no member", mtEU(), `{"discriminator":"blue","value":1}`, ErrMismatch, "selects no member"},
		{"union missing value", mtEU(), `{"discriminator":"red"}`, ErrMismatch, `selects member "r" but there is no "value"`},
		{"union extra field", mtEU(), `{"discriminator":"red","value":"x","v":1}`, ErrMismatch, `no field "v"`},
		{"any of named type", mtAny, `{"type":"IDL:RT/Color:1.0","value":"red"}`, ErrUnsupported, "needs its \"typecode\""},
		{"any of unknown type", mtAny, `{"type":"lung","value":1}`, ErrMismatch, `unknown type "lung"`},
		{"any bad typecode", mtAny, `{"type":"x","typecode":"AAAA","value":1}`, giop.ErrMarshal, "(any type): giop: marshal error"},
		{"trailing data", mtLong, `1 2`, ErrMismatch, "data after the JSON value"},
		{"invalid JSON", mtLong, `{`, ErrMismatch, "invalid JSON"},
		{"bad IOR", mtObject, `"IOR:zz"`, ErrMismatch, "bad IOR"},
		{"value type instance", &Type{Kind: giop.TkValue}, `{}`, ErrUnsupported, "only null values"},
		{"fixed precision", mtFixed(3, 1), `"1.25"`, ErrMismatch, "more than 1 digits after the point"},
	}
	for _, c := range cases {
		_, err := FromJSON(c.t, []byte(c.in))
		if !errors.Is(err, c.sent) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %v containing %q", c.name, err, c.sent, c.msg)
		}
	}
	// ToJSON checks values as Marshal does.
	if _, err := ToJSON(rec, map[string]any{"a": int32(1)}); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), `member "b"`) {
		t.Errorf("ToJSON missing member: %v", err)
	}
	if _, err := ToJSON(mtLong, int64(1)); !errors.Is(err, ErrMismatch) {
		t.Errorf("ToJSON wrong type: %v", err)
	}
}
