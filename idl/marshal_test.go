package idl

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/requestagent/requestagent/giop"
)

// Types are built by hand here (the mt* constructors), so the marshaller is
// tested independently of the parser.

func mtPrim(k Kind) *Type { return &Type{Kind: k} }

func mtRepoID(name string) string {
	return "IDL:" + strings.ReplaceAll(name, "::", "/") + ":1.0"
}

func mtStr(bound uint32) *Type  { return &Type{Kind: giop.TkString, Bound: bound} }
func mtWStr(bound uint32) *Type { return &Type{Kind: giop.TkWString, Bound: bound} }
func mtSeq(el *Type, bound uint32) *Type {
	return &Type{Kind: giop.TkSequence, Elem: el, Bound: bound}
}
func mtArr(el *Type, n uint32) *Type { return &Type{Kind: giop.TkArray, Elem: el, Length: n} }
func mtFixed(digits uint16, scale int16) *Type {
	return &Type{Kind: giop.TkFixed, Digits: digits, Scale: scale}
}
func mtMem(name string, t *Type) Member { return Member{Name: name, Type: t} }
func mtStruct(name string, ms ...Member) *Type {
	return &Type{Kind: giop.TkStruct, Name: name, RepoID: mtRepoID(name), Members: ms}
}
func mtExcept(name string, ms ...Member) *Type {
	return &Type{Kind: giop.TkExcept, Name: name, RepoID: mtRepoID(name), Members: ms}
}
func mtEnum(name string, names ...string) *Type {
	return &Type{Kind: giop.TkEnum, Name: name, RepoID: mtRepoID(name), Enumerators: names}
}
func mtAlias(name string, t *Type) *Type {
	return &Type{Kind: giop.TkAlias, Name: name, RepoID: mtRepoID(name), Elem: t}
}
func mtUnion(name string, disc *Type, cases ...UnionCase) *Type {
	return &Type{Kind: giop.TkUnion, Name: name, RepoID: mtRepoID(name), Disc: disc, Cases: cases}
}
func mtCase(name string, t *Type, labels ...int64) UnionCase {
	return UnionCase{Name: name, Type: t, Labels: labels}
}
func mtDefault(name string, t *Type, labels ...int64) UnionCase {
	return UnionCase{Name: name, Type: t, Labels: labels, IsDefault: true}
}
func mtObj(name string) *Type {
	return &Type{Kind: giop.TkObjref, Name: name, RepoID: mtRepoID(name)}
}

// mtNode returns the recursive struct Node { string name; sequence<Node>
// children; }.
func mtNode() *Type {
	n := mtStruct("RT::Node", mtMem("name", mtStr(0)))
	n.Members = append(n.Members, mtMem("children", mtSeq(n, 0)))
	return n
}

var (
	mtBool   = mtPrim(giop.TkBoolean)
	mtOctet  = mtPrim(giop.TkOctet)
	mtChar   = mtPrim(giop.TkChar)
	mtWChar  = mtPrim(giop.TkWChar)
	mtShort  = mtPrim(giop.TkShort)
	mtUShort = mtPrim(giop.TkUShort)
	mtLong   = mtPrim(giop.TkLong)
	mtULong  = mtPrim(giop.TkULong)
	mtLL     = mtPrim(giop.TkLongLong)
	mtULL    = mtPrim(giop.TkULongLong)
	mtFloat  = mtPrim(giop.TkFloat)
	mtDouble = mtPrim(giop.TkDouble)
	mtLD     = mtPrim(giop.TkLongDouble)
	mtAny    = mtPrim(giop.TkAny)
	mtTC     = mtPrim(giop.TkTypeCode)
	mtObject = &Type{Kind: giop.TkObjref}
	mtColor  = mtEnum("RT::Color", "red", "green", "blue")
)

// mtIOR is a non-nil object reference.
func mtIOR() *giop.IOR {
	return giop.NewIOR("IDL:RT/Echo:1.0", &giop.IIOPProfile{
		Version: giop.V1_2, Host: "127.0.0.1", Port: 2809, ObjectKey: []byte("RT"),
	})
}

// mtEqual compares decoded values: Any and *Type structurally (names read
// from TypeCodes are simple names), NaN equal to NaN, object references by
// type id and IIOP address, the rest deeply.
func mtEqual(a, b any) bool { return mtDiff("", a, b) == "" }

// mtDiff describes the first difference between got and want, or returns "".
func mtDiff(path string, got, want any) string {
	differ := func() string { return fmt.Sprintf("%s: got %#v, want %#v", path, got, want) }
	switch w := want.(type) {
	case Any:
		g, ok := got.(Any)
		if !ok {
			return differ()
		}
		if !mtTypesEqual(g.Type, w.Type) {
			return fmt.Sprintf("%s: any of type %s, want %s", path, describeType(g.Type), describeType(w.Type))
		}
		return mtDiff(path+"(any)", g.Value, w.Value)
	case *Type:
		g, ok := got.(*Type)
		if !ok || !mtTypesEqual(g, w) {
			return fmt.Sprintf("%s: got type %v, want %s", path, got, describeType(w))
		}
		return ""
	case float64:
		g, ok := got.(float64)
		if !ok || !(g == w && math.Signbit(g) == math.Signbit(w) || math.IsNaN(g) && math.IsNaN(w)) {
			return differ()
		}
		return ""
	case float32:
		g, ok := got.(float32)
		if !ok || !(g == w || g != g && w != w) {
			return differ()
		}
		return ""
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return differ()
		}
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing", path, k)
			}
			if d := mtDiff(path+"."+k, gv, v); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return differ()
		}
		for i := range w {
			if d := mtDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i]); d != "" {
				return d
			}
		}
		return ""
	case Union:
		g, ok := got.(Union)
		if !ok {
			return differ()
		}
		if d := mtDiff(path+".(discriminator)", g.Disc, w.Disc); d != "" {
			return d
		}
		return mtDiff(path+".(value)", g.Value, w.Value)
	case *giop.IOR:
		g, ok := got.(*giop.IOR)
		if !ok || (g == nil) != (w == nil) {
			return differ()
		}
		if w == nil || reflect.DeepEqual(g, w) {
			return ""
		}
		// The same object re-marshalled by another ORB may carry its
		// profiles differently encoded: compare what identifies it.
		gp, err1 := g.IIOP()
		wp, err2 := w.IIOP()
		// omniORB sends an empty type id for a reference made from a
		// corbaloc or when it speaks GIOP 1.0/1.1 to the object.
		if g.TypeID != w.TypeID && g.TypeID != "" || err1 != nil || err2 != nil || gp.Host != wp.Host || gp.Port != wp.Port || !bytes.Equal(gp.ObjectKey, wp.ObjectKey) {
			return fmt.Sprintf("%s: got reference %v, want %v", path, g, w)
		}
		return ""
	}
	if !reflect.DeepEqual(got, want) {
		return differ()
	}
	return ""
}

// mtNormObj gives CORBA::Object's name and id to an objref type without
// them, as a TypeCode carries them.
func mtNormObj(t *Type) *Type {
	if t.Kind == giop.TkObjref && t.RepoID == "" && t.Interface == nil {
		return &Type{Kind: giop.TkObjref, Name: "Object", RepoID: objectRepoID}
	}
	return t
}

func mtNamedKind(k Kind) bool {
	switch k {
	case giop.TkObjref, giop.TkStruct, giop.TkUnion, giop.TkEnum, giop.TkAlias, giop.TkExcept,
		giop.TkValue, giop.TkValueBox, giop.TkNative, giop.TkAbstractInterface, giop.TkLocalInterface:
		return true
	}
	return false
}

// mtTypesEqual compares types structurally, following cycles.
func mtTypesEqual(a, b *Type) bool {
	return mtTypesEq(a, b, make(map[[2]*Type]bool))
}

func mtTypesEq(a, b *Type, seen map[[2]*Type]bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	if seen[[2]*Type{a, b}] {
		return true
	}
	seen[[2]*Type{a, b}] = true
	a, b = mtNormObj(a), mtNormObj(b)
	if a.Kind != b.Kind || a.Bound != b.Bound || a.Length != b.Length ||
		a.Digits != b.Digits || a.Scale != b.Scale {
		return false
	}
	// Only named kinds carry their name and id in a TypeCode.
	if mtNamedKind(a.Kind) && (simpleName(a) != simpleName(b) || a.RepoID != b.RepoID) {
		return false
	}
	if !mtTypesEq(a.Elem, b.Elem, seen) || !mtTypesEq(a.Disc, b.Disc, seen) || !mtTypesEq(a.Base, b.Base, seen) {
		return false
	}
	if len(a.Members) != len(b.Members) || len(a.Cases) != len(b.Cases) || !reflect.DeepEqual(a.Enumerators, b.Enumerators) {
		return false
	}
	for i := range a.Members {
		if a.Members[i].Name != b.Members[i].Name || a.Members[i].Public != b.Members[i].Public ||
			!mtTypesEq(a.Members[i].Type, b.Members[i].Type, seen) {
			return false
		}
	}
	for i := range a.Cases {
		ca, cb := a.Cases[i], b.Cases[i]
		if ca.Name != cb.Name || ca.IsDefault != cb.IsDefault || len(ca.Labels) != len(cb.Labels) ||
			(len(ca.Labels) > 0 && !reflect.DeepEqual(ca.Labels, cb.Labels)) || !mtTypesEq(ca.Type, cb.Type, seen) {
			return false
		}
	}
	return true
}

// mtCodecs are the encodings every round trip runs in.
var mtCodecs = []struct {
	name   string
	v      giop.Version
	little bool
}{
	{"1.0LE", giop.V1_0, true}, {"1.0BE", giop.V1_0, false},
	{"1.1LE", giop.V1_1, true}, {"1.1BE", giop.V1_1, false},
	{"1.2LE", giop.V1_2, true}, {"1.2BE", giop.V1_2, false},
}

// mtValueCase is one value of one type.
type mtValueCase struct {
	name string
	t    *Type
	v    any
	wide bool // contains wchar or wstring: not in GIOP 1.0
}

// mtRec is a struct with one member of every primitive kind.
func mtRec() *Type {
	return mtStruct("RT::Rec",
		mtMem("b", mtBool), mtMem("o", mtOctet), mtMem("c", mtChar), mtMem("s", mtShort),
		mtMem("us", mtUShort), mtMem("l", mtLong), mtMem("ul", mtULong), mtMem("ll", mtLL),
		mtMem("ull", mtULL), mtMem("f", mtFloat), mtMem("d", mtDouble), mtMem("str", mtStr(0)),
		mtMem("col", mtColor), mtMem("m", mtAlias("RT::Money", mtFixed(9, 2))),
		mtMem("mx", mtAlias("RT::Matrix", mtArr(mtArr(mtLong, 3), 2))))
}

func mtRecValue() map[string]any {
	return map[string]any{
		"b": true, "o": byte(0xAB), "c": byte('x'), "s": int16(-12345), "us": uint16(54321),
		"l": int32(-2000000000), "ul": uint32(4000000000), "ll": int64(math.MinInt64),
		"ull": uint64(math.MaxUint64), "f": float32(1.5), "d": -2.25e100, "str": "héllo",
		"col": "blue", "m": "-1234567.89",
		"mx": []any{[]any{int32(1), int32(2), int32(3)}, []any{int32(4), int32(5), int32(6)}},
	}
}

// mtU is union U switch (long) { case 1: long l; case 2: case 3: string s;
// case 4: Inner in; default: double d; }.
func mtU() *Type {
	inner := mtStruct("RT::Inner", mtMem("c", mtChar), mtMem("d", mtDouble))
	return mtUnion("RT::U", mtLong,
		mtCase("l", mtLong, 1), mtCase("s", mtStr(0), 2, 3), mtCase("in", inner, 4),
		mtDefault("d", mtDouble))
}

// mtEU is union EU switch (Color) { case red: string r; case green: long g; }
// (blue selects nothing).
func mtEU() *Type {
	return mtUnion("RT::EU", mtColor, mtCase("r", mtStr(0), 0), mtCase("g", mtLong, 1))
}

func mtValueCases() []mtValueCase {
	node := mtNode()
	rec := mtRec()
	u := mtU()
	inner := u.Cases[2].Type
	ex := mtExcept("RT::Boom", mtMem("code", mtLong), mtMem("why", mtStr(0)))
	return []mtValueCase{
		{"boolean", mtBool, true, false},
		{"octet", mtOctet, byte(200), false},
		{"char", mtChar, byte('Z'), false},
		{"wchar", mtWChar, rune('€'), true},
		{"short", mtShort, int16(-7), false},
		{"ushort", mtUShort, uint16(65535), false},
		{"long", mtLong, int32(math.MinInt32), false},
		{"ulong", mtULong, uint32(math.MaxUint32), false},
		{"longlong", mtLL, int64(math.MaxInt64), false},
		{"ulonglong", mtULL, uint64(1<<63 + 5), false},
		{"float", mtFloat, float32(-3.25), false},
		{"double", mtDouble, math.Pi, false},
		{"longdouble", mtLD, 1.0 / 3, false},
		{"string", mtStr(0), "hello, world", false},
		{"string_empty", mtStr(0), "", false},
		{"string_bounded", mtStr(5), "abcde", false},
		{"wstring", mtWStr(0), "h\u00e9llo w\u00f6rld \u4e16\u754c", true},
		{"wstring_empty", mtWStr(0), "", true},
		{"wstring_bounded", mtWStr(3), "日本語", true},
		{"fixed", mtFixed(9, 2), "1234567.89", false},
		{"fixed_neg", mtFixed(4, 2), "-1.50", false},
		{"fixed_int", mtFixed(5, 0), "-12345", false},
		{"fixed_zero", mtFixed(3, 3), "0.000", false},
		{"enum", mtColor, "green", false},
		{"struct", rec, mtRecValue(), false},
		{"struct_align", inner, map[string]any{"c": byte('a'), "d": 0.5}, false},
		{"exception", ex, map[string]any{"code": int32(7), "why": "requested failure"}, false},
		{"union_label", u, Union{Disc: int32(1), Value: int32(42)}, false},
		{"union_multilabel", u, Union{Disc: int32(3), Value: "three"}, false},
		{"union_struct", u, Union{Disc: int32(4), Value: map[string]any{"c": byte('q'), "d": 1e-9}}, false},
		{"union_default", u, Union{Disc: int32(99), Value: 2.5}, false},
		{"union_enum", mtEU(), Union{Disc: "green", Value: int32(-1)}, false},
		{"union_none", mtEU(), Union{Disc: "blue"}, false},
		{"union_bool", mtUnion("RT::BU", mtBool, mtCase("t", mtLong, 1)), Union{Disc: false}, false},
		{"union_char", mtUnion("RT::CU", mtChar, mtCase("a", mtShort, 'a'), mtDefault("o", mtOctet)),
			Union{Disc: byte('a'), Value: int16(3)}, false},
		{"union_ull", mtUnion("RT::LU", mtULL, mtCase("big", mtStr(0), -1)),
			Union{Disc: uint64(math.MaxUint64), Value: "max"}, false},
		{"union_wchar", mtUnion("RT::WU", mtWChar, mtCase("w", mtWStr(0), 'é')),
			Union{Disc: 'é', Value: "wide"}, true},
		{"seq_octet", mtSeq(mtOctet, 0), []byte{0, 1, 2, 255}, false},
		{"seq_octet_empty", mtSeq(mtOctet, 0), []byte{}, false},
		{"seq_long", mtSeq(mtLong, 0), []any{int32(1), int32(-2), int32(3)}, false},
		{"seq_bounded", mtSeq(mtStr(0), 2), []any{"a", "b"}, false},
		{"seq_struct", mtSeq(inner, 0), []any{
			map[string]any{"c": byte('a'), "d": 1.0}, map[string]any{"c": byte('b'), "d": 2.0}}, false},
		{"seq_seq", mtSeq(mtSeq(mtShort, 0), 0), []any{[]any{}, []any{int16(1)}}, false},
		{"seq_empty", mtSeq(mtDouble, 0), []any{}, false},
		{"seq_char", mtSeq(mtChar, 0), []any{byte('h'), byte('i')}, false},
		{"array_octet", mtArr(mtOctet, 3), []byte{7, 8, 9}, false},
		{"array_2d", mtArr(mtArr(mtShort, 2), 2), []any{[]any{int16(1), int16(2)}, []any{int16(3), int16(4)}}, false},
		{"array_string", mtArr(mtStr(0), 2), []any{"x", ""}, false},
		{"alias", mtAlias("RT::Name", mtStr(0)), "aliased", false},
		{"alias_of_alias", mtAlias("RT::N2", mtAlias("RT::Name", mtLong)), int32(5), false},
		{"recursive", node, map[string]any{"name": "root", "children": []any{
			map[string]any{"name": "a", "children": []any{}},
			map[string]any{"name": "b", "children": []any{map[string]any{"name": "b1", "children": []any{}}}},
		}}, false},
		{"any_long", mtAny, Any{Type: mtLong, Value: int32(7)}, false},
		{"any_null", mtAny, Any{Type: mtPrim(giop.TkNull)}, false},
		{"any_struct", mtAny, Any{Type: rec, Value: mtRecValue()}, false},
		{"any_union", mtAny, Any{Type: u, Value: Union{Disc: int32(99), Value: 2.5}}, false},
		{"any_recursive", mtAny, Any{Type: node, Value: map[string]any{"name": "n", "children": []any{
			map[string]any{"name": "m", "children": []any{}}}}}, false},
		{"any_any", mtAny, Any{Type: mtAny, Value: Any{Type: mtStr(0), Value: "inner"}}, false},
		{"any_seq_any", mtAny, Any{Type: mtSeq(mtAny, 0), Value: []any{Any{Type: mtDouble, Value: 1.0}}}, false},
		{"any_wstring", mtAny, Any{Type: mtWStr(0), Value: "wide"}, true},
		{"objref_nil", mtObject, (*giop.IOR)(nil), false},
		{"objref", mtObj("RT::Echo"), mtIOR(), false},
		{"typecode", mtTC, rec, false},
		{"typecode_recursive", mtTC, node, false},
		{"value_null", &Type{Kind: giop.TkValue, Name: "RT::V", RepoID: "IDL:RT/V:1.0"}, nil, false},
		{"abstract_nil", &Type{Kind: giop.TkAbstractInterface, RepoID: "IDL:RT/A:1.0", Name: "RT::A"}, (*giop.IOR)(nil), false},
		{"abstract", &Type{Kind: giop.TkAbstractInterface, RepoID: "IDL:RT/A:1.0", Name: "RT::A"}, mtIOR(), false},
		{"principal", mtPrim(giop.TkPrincipal), []byte("me"), false},
	}
}

// TestRoundTrip marshals and unmarshals a value of every kind in every GIOP
// version and byte order, at two starting offsets (so alignment padding is
// exercised), and checks the whole input was consumed.
func TestRoundTrip(t *testing.T) {
	for _, vc := range mtValueCases() {
		for _, c := range mtCodecs {
			for _, off := range []int{0, 1} {
				t.Run(fmt.Sprintf("%s/%s/off%d", vc.name, c.name, off), func(t *testing.T) {
					e := giop.NewEncoder(c.v, c.little)
					for range off {
						e.WriteOctet(0xEE)
					}
					err := Marshal(e, vc.t, vc.v)
					if vc.wide && c.v == giop.V1_0 {
						if !errors.Is(err, ErrUnsupported) {
							t.Fatalf("Marshal in GIOP 1.0 = %v, want ErrUnsupported", err)
						}
						return
					}
					if err != nil {
						t.Fatalf("Marshal: %v", err)
					}
					d := giop.NewDecoder(e.Bytes(), c.v, c.little)
					d.Raw(off)
					got, err := Unmarshal(d, vc.t)
					if err != nil {
						t.Fatalf("Unmarshal: %v\n%s", err, hex.Dump(e.Bytes()))
					}
					if d.Remaining() != 0 {
						t.Fatalf("%d bytes left over", d.Remaining())
					}
					if !mtEqual(got, vc.v) {
						t.Fatalf("got %#v\nwant %#v", got, vc.v)
					}
				})
			}
		}
	}
}

// TestTruncated decodes every proper prefix of every encoding: each must
// fail (never panic, never succeed with bytes missing).
func TestTruncated(t *testing.T) {
	for _, vc := range mtValueCases() {
		e := giop.NewEncoder(giop.V1_2, false)
		if err := Marshal(e, vc.t, vc.v); err != nil {
			t.Fatalf("%s: %v", vc.name, err)
		}
		b := e.Bytes()
		for n := 0; n < len(b); n++ {
			d := giop.NewDecoder(b[:n], giop.V1_2, false)
			if _, err := Unmarshal(d, vc.t); err == nil {
				t.Fatalf("%s: decoding %d of %d bytes succeeded", vc.name, n, len(b))
			}
		}
	}
}

// TestCorrupted flips every byte of every encoding in turn: decoding may
// succeed or fail, but must not panic.
func TestCorrupted(t *testing.T) {
	for _, vc := range mtValueCases() {
		e := giop.NewEncoder(giop.V1_2, true)
		if err := Marshal(e, vc.t, vc.v); err != nil {
			t.Fatalf("%s: %v", vc.name, err)
		}
		b := append([]byte(nil), e.Bytes()...)
		for i := range b {
			for _, x := range []byte{0xFF, 0x80, 0x01} {
				c := append([]byte(nil), b...)
				c[i] ^= x
				Unmarshal(giop.NewDecoder(c, giop.V1_2, true), vc.t)
			}
		}
	}
}

func mtEncode(t *testing.T, v giop.Version, little bool, typ *Type, val any) []byte {
	t.Helper()
	e := giop.NewEncoder(v, little)
	if err := Marshal(e, typ, val); err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return e.Bytes()
}

func mtHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestWireBytes checks encodings byte for byte against CORBA 3.0 §15.3,
// in both byte orders: alignment, fixed BCD, unions, wide strings per GIOP
// version, nil references, anys.
func TestWireBytes(t *testing.T) {
	inner := mtStruct("RT::Inner", mtMem("c", mtChar), mtMem("d", mtDouble))
	mixed := mtStruct("RT::Mixed", mtMem("o", mtOctet), mtMem("s", mtShort), mtMem("l", mtLong), mtMem("ll", mtLL))
	u := mtUnion("RT::SU", mtLong, mtCase("s", mtShort, 1), mtDefault("o", mtOctet))
	cases := []struct {
		name   string
		v      giop.Version
		typ    *Type
		val    any
		le, be string
	}{
		{"char+double aligns the double to 8", giop.V1_2, inner, map[string]any{"c": byte('a'), "d": 1.5},
			"61 00000000000000 000000000000f83f", "61 00000000000000 3ff8000000000000"},
		{"octet short long longlong", giop.V1_2, mixed,
			map[string]any{"o": byte(1), "s": int16(2), "l": int32(3), "ll": int64(4)},
			"01 00 0200 03000000 0400000000000000", "01 00 0002 00000003 0000000000000004"},
		{"string counts the NUL", giop.V1_2, mtStr(0), "hi", "03000000 686900", "00000003 686900"},
		{"wstring 1.2: octet count, big-endian units", giop.V1_2, mtWStr(0), "hé",
			"04000000 006800e9", "00000004 006800e9"},
		{"wstring 1.1: unit count with NUL, stream order", giop.V1_1, mtWStr(0), "hé",
			"03000000 6800e9000000", "00000003 006800e90000"},
		{"wchar 1.2", giop.V1_2, mtWChar, 'é', "02 00e9", "02 00e9"},
		{"wchar 1.1", giop.V1_1, mtWChar, 'é', "e900", "00e9"},
		{"fixed<5,2> 123.45", giop.V1_2, mtFixed(5, 2), "123.45", "12345c", "12345c"},
		{"fixed<5,2> -123.45", giop.V1_2, mtFixed(5, 2), "-123.45", "12345d", "12345d"},
		{"fixed<4,2> 1.5 (even digits: leading zero)", giop.V1_2, mtFixed(4, 2), "1.50", "00150c", "00150c"},
		{"fixed<1,0> 7", giop.V1_2, mtFixed(1, 0), "7", "7c", "7c"},
		{"fixed<2,0> -12", giop.V1_2, mtFixed(2, 0), "-12", "012d", "012d"},
		{"enum", giop.V1_2, mtColor, "green", "01000000", "00000001"},
		{"union label", giop.V1_2, u, Union{Disc: int32(1), Value: int16(5)}, "01000000 0500", "00000001 0005"},
		{"union default", giop.V1_2, u, Union{Disc: int32(9), Value: byte(7)}, "09000000 07", "00000009 07"},
		{"nil objref", giop.V1_2, mtObject, nil, "01000000 00 000000 00000000", "00000001 00 000000 00000000"},
		{"any long", giop.V1_2, mtAny, Any{Type: mtLong, Value: int32(7)}, "03000000 07000000", "00000003 00000007"},
		{"array has no count", giop.V1_2, mtArr(mtLong, 2), []any{int32(1), int32(2)},
			"01000000 02000000", "00000001 00000002"},
		{"sequence<short>", giop.V1_2, mtSeq(mtShort, 0), []any{int16(1), int16(2)},
			"02000000 0100 0200", "00000002 0001 0002"},
		{"null value type", giop.V1_2, &Type{Kind: giop.TkValue, RepoID: "IDL:V:1.0"}, nil, "00000000", "00000000"},
		{"long double 1.0", giop.V1_2, mtLD, 1.0,
			"0000000000000000 000000000000ff3f", "3fff000000000000 0000000000000000"},
		{"abstract interface nil", giop.V1_2, &Type{Kind: giop.TkAbstractInterface}, nil,
			"01 000000 01000000 00 000000 00000000", "01 000000 00000001 00 000000 00000000"},
	}
	for _, c := range cases {
		for _, little := range []bool{true, false} {
			want := c.be
			if little {
				want = c.le
			}
			got := mtEncode(t, c.v, little, c.typ, c.val)
			if !bytes.Equal(got, mtHex(want)) {
				t.Errorf("%s (little=%v):\n got %x\nwant %x", c.name, little, got, mtHex(want))
				continue
			}
			v, err := Unmarshal(giop.NewDecoder(got, c.v, little), c.typ)
			if c.val == nil && c.typ.Kind == giop.TkObjref || c.typ.Kind == giop.TkAbstractInterface {
				c.val = (*giop.IOR)(nil)
			}
			if err != nil || !mtEqual(v, c.val) {
				t.Errorf("%s (little=%v): decoded %#v, %v", c.name, little, v, err)
			}
		}
	}
}

// TestTypedSlices: sequences and arrays also take typed Go slices and
// arrays on encode; they decode as []any.
func TestTypedSlices(t *testing.T) {
	cases := []struct {
		typ  *Type
		in   any
		want any
	}{
		{mtSeq(mtStr(0), 0), []string{"a", "b"}, []any{"a", "b"}},
		{mtSeq(mtLong, 0), []int32{1, 2}, []any{int32(1), int32(2)}},
		{mtArr(mtDouble, 2), [2]float64{1, 2}, []any{1.0, 2.0}},
		{mtSeq(mtChar, 0), []byte("hi"), []any{byte('h'), byte('i')}},
		{mtArr(mtOctet, 2), []any{byte(1), byte(2)}, []byte{1, 2}},
		{mtSeq(mtOctet, 0), []any{byte(1)}, []byte{1}},
	}
	for _, c := range cases {
		b := mtEncode(t, giop.V1_2, true, c.typ, c.in)
		got, err := Unmarshal(giop.NewDecoder(b, giop.V1_2, true), c.typ)
		if err != nil || !mtEqual(got, c.want) {
			t.Errorf("%s from %T: got %#v, %v", describeType(c.typ), c.in, got, err)
		}
	}
}

// TestConvenienceInputs: int for integer kinds, uint32/int for enums,
// pointers to Union and Any.
func TestConvenienceInputs(t *testing.T) {
	u := mtU()
	cases := []struct {
		typ  *Type
		in   any
		want any
	}{
		{mtShort, 5, int16(5)},
		{mtULL, 5, uint64(5)},
		{mtOctet, 255, byte(255)},
		{mtColor, uint32(2), "blue"},
		{mtColor, 1, "green"},
		{u, &Union{Disc: int32(1), Value: int32(2)}, Union{Disc: int32(1), Value: int32(2)}},
		{u, Union{Disc: 1, Value: 2}, Union{Disc: int32(1), Value: int32(2)}},
		{mtEU(), Union{Disc: uint32(1), Value: int32(2)}, Union{Disc: "green", Value: int32(2)}},
		{mtAny, &Any{Type: mtLong, Value: int32(1)}, Any{Type: mtLong, Value: int32(1)}},
		{mtAny, Any{}, Any{Type: mtPrim(giop.TkNull)}},
		{mtTC, (*Type)(nil), mtPrim(giop.TkNull)},
	}
	for _, c := range cases {
		b := mtEncode(t, giop.V1_2, true, c.typ, c.in)
		got, err := Unmarshal(giop.NewDecoder(b, giop.V1_2, true), c.typ)
		if err != nil || !mtEqual(got, c.want) {
			t.Errorf("%s from %#v: got %#v, %v", describeType(c.typ), c.in, got, err)
		}
	}
}

// TestMarshalErrors: values that do not fit their type fail with an error
// that wraps the right sentinel and names the path.
func TestMarshalErrors(t *testing.T) {
	rec := mtRec()
	node := mtNode()
	deep := map[string]any{"name": "x", "children": []any{}}
	for range 40 {
		deep = map[string]any{"name": "x", "children": []any{deep}}
	}
	cases := []struct {
		name string
		typ  *Type
		v    any
		sent error
		msg  string
	}{
		{"wrong go type", mtLong, "7", ErrMismatch, "long wants int32, got string"},
		{"int out of range", mtShort, 40000, ErrMismatch, "short wants int16, got int"},
		{"string bound", mtStr(3), "abcd", ErrMismatch, "string of 4 bytes exceeds the bound of string<3>"},
		{"string NUL", mtStr(0), "a\x00b", ErrMismatch, "NUL"},
		{"wstring bound", mtWStr(2), "日本語", ErrMismatch, "3 characters exceeds the bound of wstring<2>"},
		{"wchar beyond BMP", mtWChar, rune(0x1F600), ErrMismatch, "does not fit one UTF-16 unit"},
		{"sequence bound", mtSeq(mtLong, 1), []any{int32(1), int32(2)}, ErrMismatch, "sequence of 2 exceeds the bound of sequence<long,1>"},
		{"octet sequence bound", mtSeq(mtOctet, 1), []byte{1, 2}, ErrMismatch, "exceeds the bound"},
		{"array length", mtArr(mtLong, 3), []any{int32(1)}, ErrMismatch, "long[3] wants 3 elements, got 1"},
		{"unknown enumerator", mtColor, "purple", ErrMismatch, `"purple" is not an enumerator of RT::Color`},
		{"enum index", mtColor, uint32(3), ErrMismatch, "enumerator index 3 out of range"},
		{"missing member", rec, func() any { m := mtRecValue(); delete(m, "col"); return m }(), ErrMismatch, `member "col" of RT::Rec is missing`},
		{"extra member", rec, func() any { m := mtRecValue(); m["zz"] = 1; return m }(), ErrMismatch, `RT::Rec has no member "zz"`},
		{"bad member", rec, func() any {
			m := mtRecValue()
			m["mx"] = []any{[]any{int32(1), int32(2), int32(3)}, []any{int32(4), "5", int32(6)}}
			return m
		}(),
			ErrMismatch, `mx[1][1]: idl: value does not match its type: long wants int32, got string`},
		{"fixed precision", mtFixed(5, 2), "1.234", ErrMismatch, "more than 2 digits after the point"},
		{"fixed overflow", mtFixed(5, 2), "1234.5", ErrMismatch, "more than 3 digits before the point"},
		{"fixed syntax", mtFixed(5, 2), "1.2.3", ErrMismatch, "not a decimal number"},
		{"union value without case", mtEU(), Union{Disc: "blue", Value: "x"}, ErrMismatch, "selects no member"},
		{"union bad disc", mtU(), Union{Disc: "1", Value: int32(1)}, ErrMismatch, "(discriminator)"},
		{"union bad value", mtU(), Union{Disc: int32(2), Value: 7}, ErrMismatch, "s: idl: value does not match its type: string wants string, got int"},
		{"any without value type", mtAny, Any{Type: mtLong, Value: "x"}, ErrMismatch, "(any): idl: value does not match"},
		{"objref from string", mtObject, "IOR:00", ErrMismatch, "wants *giop.IOR"},
		{"value type", &Type{Kind: giop.TkValue, Name: "RT::V"}, map[string]any{}, ErrUnsupported, "value type RT::V: only null values"},
		{"native", &Type{Kind: giop.TkNative, Name: "RT::N"}, nil, ErrUnsupported, "cannot marshal a value of RT::N"},
		{"local interface", &Type{Kind: giop.TkLocalInterface, Name: "RT::L"}, nil, ErrUnsupported, "RT::L"},
		{"too deep", node, deep, ErrMismatch, "nested deeper than 64"},
		{"nil type", nil, 1, ErrMismatch, "no type"},
	}
	for _, c := range cases {
		e := giop.NewEncoder(giop.V1_2, true)
		err := Marshal(e, c.typ, c.v)
		if !errors.Is(err, c.sent) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %v containing %q", c.name, err, c.sent, c.msg)
		}
	}
}

// TestUnmarshalHostile feeds inputs built to make a decoder allocate,
// recurse or loop: each must fail cleanly.
func TestUnmarshalHostile(t *testing.T) {
	node := mtNode()
	inner := mtStruct("RT::Inner", mtMem("c", mtChar), mtMem("d", mtDouble))
	huge := mtHex("ffffffff 01020304")
	deepNode := func(n int) []byte {
		e := giop.NewEncoder(giop.V1_2, true)
		for range n {
			e.WriteString("x")
			e.WriteULong(1)
		}
		e.WriteString("leaf")
		e.WriteULong(0)
		return e.Bytes()
	}
	deepAny := func(n int) []byte {
		e := giop.NewEncoder(giop.V1_2, true)
		for range n {
			e.WriteULong(uint32(giop.TkAny))
		}
		e.WriteULong(uint32(giop.TkNull))
		return e.Bytes()
	}
	cases := []struct {
		name string
		typ  *Type
		b    []byte
		msg  string
	}{
		{"huge octet sequence", mtSeq(mtOctet, 0), huge, "exceeds the"},
		{"huge long sequence", mtSeq(mtLong, 0), huge, "exceeds the"},
		{"huge struct sequence", mtSeq(inner, 0), huge, "exceeds the"},
		{"huge string", mtStr(0), huge, "string needs"},
		{"huge wstring", mtWStr(0), huge, ""},
		{"huge any sequence", mtSeq(mtAny, 0), huge, "exceeds the"},
		{"huge array of strings", mtArr(mtStr(0), 1<<30), huge, "exceeds the"},
		{"sequence over bound", mtSeq(mtLong, 1), mtHex("02000000 0100000002000000"), "exceeds the bound"},
		{"string over bound", mtStr(2), mtHex("04000000 61626300"), "exceeds the bound"},
		{"string without NUL", mtStr(0), mtHex("02000000 6162"), "not terminated"},
		{"bad boolean", mtBool, mtHex("02"), "boolean value 2"},
		{"enum out of range", mtColor, mtHex("03000000"), "enumerator 3 out of range"},
		{"bad fixed digit", mtFixed(3, 0), mtHex("1a3c"), "not a decimal digit"},
		{"bad fixed sign", mtFixed(3, 0), mtHex("1231"), "sign half-octet"},
		{"deep recursive value", node, deepNode(200), "nested deeper than 64"},
		{"deep any", mtAny, deepAny(1000), "nested deeper than 64"},
		{"value type instance", &Type{Kind: giop.TkValue, Name: "V"}, mtHex("7fffff00"), "only null values"},
		{"wstring odd length", mtWStr(0), mtHex("03000000 006100"), "odd octet length"},
		{"objref huge profiles", mtObject, mtHex("01000000 00 000000 ffffffff"), "exceeds the"},
	}
	for _, c := range cases {
		d := giop.NewDecoder(c.b, giop.V1_2, true)
		_, err := Unmarshal(d, c.typ)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.msg)
		}
		if d.Err() == nil {
			t.Errorf("%s: error not recorded on the decoder", c.name)
		}
	}
}

// TestUnmarshalPaths: decoding errors name where they happened.
func TestUnmarshalPaths(t *testing.T) {
	prop := mtStruct("NM::Property", mtMem("name", mtStr(0)), mtMem("value", mtStr(8)))
	desc := mtStruct("NM::Desc", mtMem("id", mtLong), mtMem("properties", mtSeq(prop, 0)))
	op := &Operation{Name: "put", Result: mtPrim(giop.TkVoid), Params: []Param{
		{Name: "flag", Dir: In, Type: mtBool},
		{Name: "desc", Dir: In, Type: desc},
	}}
	props := []any{}
	for i := range 4 {
		v := "short"
		if i == 3 {
			v = "much too long"
		}
		props = append(props, map[string]any{"name": fmt.Sprint(i), "value": v})
	}
	val := map[string]any{"id": int32(1), "properties": props}
	// Marshal refuses the bound violation with a path.
	e := giop.NewEncoder(giop.V1_2, true)
	err := op.MarshalArgs(e, []any{true, val})
	want := `arg "desc".properties[3].value: idl: value does not match its type: string of 13 bytes exceeds the bound of string<8>`
	if err == nil || err.Error() != want {
		t.Fatalf("MarshalArgs: %v\nwant %s", err, want)
	}
	// Unmarshal does too, given bytes written under a looser type.
	loose := &Operation{Name: "put", Params: []Param{
		{Name: "flag", Dir: In, Type: mtBool},
		{Name: "desc", Dir: In, Type: mtStruct("NM::Desc", mtMem("id", mtLong),
			mtMem("properties", mtSeq(mtStruct("NM::Property", mtMem("name", mtStr(0)), mtMem("value", mtStr(0))), 0)))},
	}}
	e.Reset(giop.V1_2, true)
	if err := loose.MarshalArgs(e, []any{true, val}); err != nil {
		t.Fatal(err)
	}
	_, err = op.UnmarshalArgs(giop.NewDecoder(e.Bytes(), giop.V1_2, true))
	want = `arg "desc".properties[3].value: idl: value does not match its type: string of 13 bytes exceeds the bound of string<8>`
	if err == nil || err.Error() != want {
		t.Fatalf("UnmarshalArgs: %v\nwant %s", err, want)
	}
	// A truncated body names the argument being read.
	_, err = op.UnmarshalArgs(giop.NewDecoder(e.Bytes()[:len(e.Bytes())-3], giop.V1_2, true))
	if err == nil || !strings.HasPrefix(err.Error(), `arg "desc".properties[3].value: giop: marshal error`) || !errors.Is(err, giop.ErrMarshal) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestZero(t *testing.T) {
	u := mtU()
	noDefault := mtUnion("RT::ND", mtColor, mtCase("g", mtLong, 1), mtCase("r", mtStr(0), 0))
	boolDefault := mtUnion("RT::BD", mtBool, mtCase("t", mtLong, 1), mtDefault("f", mtStr(0)))
	cases := []struct {
		typ  *Type
		want any
	}{
		{mtBool, false}, {mtOctet, byte(0)}, {mtChar, byte(0)}, {mtWChar, rune(0)},
		{mtShort, int16(0)}, {mtUShort, uint16(0)}, {mtLong, int32(0)}, {mtULong, uint32(0)},
		{mtLL, int64(0)}, {mtULL, uint64(0)}, {mtFloat, float32(0)}, {mtDouble, 0.0}, {mtLD, 0.0},
		{mtStr(4), ""}, {mtWStr(0), ""}, {mtFixed(9, 2), "0.00"}, {mtFixed(3, 0), "0"},
		{mtColor, "red"},
		{mtStruct("S", mtMem("a", mtLong), mtMem("b", mtSeq(mtOctet, 0))), map[string]any{"a": int32(0), "b": []byte{}}},
		{u, Union{Disc: int32(0), Value: 0.0}},
		{noDefault, Union{Disc: "green", Value: int32(0)}},
		{boolDefault, Union{Disc: false, Value: ""}},
		{mtSeq(mtLong, 0), []any{}},
		{mtArr(mtShort, 2), []any{int16(0), int16(0)}},
		{mtArr(mtOctet, 2), []byte{0, 0}},
		{mtAlias("A", mtLong), int32(0)},
		{mtAny, Any{Type: mtPrim(giop.TkNull)}},
		{mtObject, (*giop.IOR)(nil)},
		{mtTC, mtPrim(giop.TkNull)},
		{&Type{Kind: giop.TkValue}, nil},
		{mtNode(), map[string]any{"name": "", "children": []any{}}},
	}
	for _, c := range cases {
		z := Zero(c.typ)
		if !mtEqual(z, c.want) {
			t.Errorf("Zero(%s) = %#v, want %#v", describeType(c.typ), z, c.want)
		}
	}
	// The zero of every kind marshals, and unmarshals to itself.
	for _, vc := range mtValueCases() {
		for _, c := range mtCodecs {
			if vc.wide && c.v == giop.V1_0 {
				continue
			}
			z := Zero(vc.t)
			e := giop.NewEncoder(c.v, c.little)
			if err := Marshal(e, vc.t, z); err != nil {
				t.Fatalf("Zero(%s) does not marshal in %s: %v", vc.name, c.name, err)
			}
			got, err := Unmarshal(giop.NewDecoder(e.Bytes(), c.v, c.little), vc.t)
			if err != nil || !mtEqual(got, z) {
				t.Fatalf("Zero(%s) in %s: got %#v, %v; want %#v", vc.name, c.name, got, err, z)
			}
		}
	}
}

// mtOp is long op(in string a, inout Rec r, out double d, out Color c,
// in sequence<long> s).
func mtOp() *Operation {
	return &Operation{Name: "op", Result: mtLong, Params: []Param{
		{Name: "a", Dir: In, Type: mtStr(0)},
		{Name: "r", Dir: InOut, Type: mtRec()},
		{Name: "d", Dir: Out, Type: mtDouble},
		{Name: "c", Dir: Out, Type: mtColor},
		{Name: "s", Dir: In, Type: mtSeq(mtLong, 0)},
	}}
}

func TestOperationHelpers(t *testing.T) {
	op := mtOp()
	args := []any{"in", mtRecValue(), []any{int32(1)}}
	for _, c := range mtCodecs {
		e := giop.NewEncoder(c.v, c.little)
		if err := op.MarshalArgs(e, args); err != nil {
			t.Fatal(err)
		}
		d := giop.NewDecoder(e.Bytes(), c.v, c.little)
		got, err := op.UnmarshalArgs(d)
		if err != nil || !mtEqual(got, args) || d.Remaining() != 0 {
			t.Fatalf("%s: args %#v, %v", c.name, got, err)
		}
		outs := []any{mtRecValue(), 2.5, "blue"}
		e.Reset(c.v, c.little)
		if err := op.MarshalResults(e, int32(9), outs); err != nil {
			t.Fatal(err)
		}
		d = giop.NewDecoder(e.Bytes(), c.v, c.little)
		res, gotOuts, err := op.UnmarshalResults(d)
		if err != nil || res != int32(9) || !mtEqual(gotOuts, outs) || d.Remaining() != 0 {
			t.Fatalf("%s: results %v %#v, %v", c.name, res, gotOuts, err)
		}
		// Zero results: what a premature return sends.
		e.Reset(c.v, c.little)
		if err := op.MarshalZeroResults(e); err != nil {
			t.Fatal(err)
		}
		d = giop.NewDecoder(e.Bytes(), c.v, c.little)
		res, gotOuts, err = op.UnmarshalResults(d)
		if err != nil || res != int32(0) || len(gotOuts) != 3 || gotOuts[1] != 0.0 || gotOuts[2] != "red" || d.Remaining() != 0 {
			t.Fatalf("%s: zero results %v %#v, %v", c.name, res, gotOuts, err)
		}
	}
	// Counts must match.
	e := giop.NewEncoder(giop.V1_2, true)
	if err := op.MarshalArgs(e, args[:2]); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "has 3 in and inout arguments, got 2") {
		t.Errorf("short args: %v", err)
	}
	if err := op.MarshalArgs(e, append(args, 1)); !errors.Is(err, ErrMismatch) {
		t.Errorf("long args: %v", err)
	}
	if err := op.MarshalResults(e, int32(1), nil); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "has 3 out and inout arguments, got 0") {
		t.Errorf("short outs: %v", err)
	}
	if err := op.MarshalResults(e, "x", []any{mtRecValue(), 2.5, "blue"}); err == nil || !strings.HasPrefix(err.Error(), "result: ") {
		t.Errorf("bad result: %v", err)
	}
	if err := op.MarshalResults(e, int32(1), []any{mtRecValue(), 2.5, "mauve"}); err == nil || !strings.HasPrefix(err.Error(), `out "c": `) {
		t.Errorf("bad out: %v", err)
	}
	void := &Operation{Name: "v", Result: mtPrim(giop.TkVoid)}
	e.Reset(giop.V1_2, true)
	if err := void.MarshalZeroResults(e); err != nil || e.Len() != 0 {
		t.Errorf("void zero results: %v, %d bytes", err, e.Len())
	}
	if err := void.MarshalResults(e, int32(1), nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("void with a result: %v", err)
	}
	if res, outs, err := void.UnmarshalResults(giop.NewDecoder(nil, giop.V1_2, true)); res != nil || outs != nil || err != nil {
		t.Errorf("void results: %v %v %v", res, outs, err)
	}
}

func TestExceptions(t *testing.T) {
	ex := mtExcept("RT::Boom", mtMem("code", mtLong), mtMem("why", mtStr(0)))
	val := map[string]any{"code": int32(7), "why": "requested failure"}
	for _, c := range mtCodecs {
		e := giop.NewEncoder(c.v, c.little)
		if err := MarshalException(e, ex, val); err != nil {
			t.Fatal(err)
		}
		d := giop.NewDecoder(e.Bytes(), c.v, c.little)
		if id := d.String(); id != "IDL:RT/Boom:1.0" {
			t.Fatalf("repository id %q", id)
		}
		got, err := UnmarshalExceptionMembers(d, ex)
		if err != nil || !mtEqual(got, val) {
			t.Fatalf("%s: %v %v", c.name, got, err)
		}
		got, err = UnmarshalException(giop.NewDecoder(e.Bytes(), c.v, c.little), ex)
		if err != nil || !mtEqual(got, val) {
			t.Fatalf("%s: %v %v", c.name, got, err)
		}
	}
	e := giop.NewEncoder(giop.V1_2, true)
	if err := MarshalException(e, mtLong, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("non-exception: %v", err)
	}
	if err := MarshalException(e, ex, map[string]any{"code": int32(1)}); err == nil || !strings.Contains(err.Error(), `member "why"`) {
		t.Errorf("missing member: %v", err)
	}
	other := mtExcept("RT::Other")
	e.Reset(giop.V1_2, true)
	MarshalException(e, other, map[string]any{})
	if _, err := UnmarshalException(giop.NewDecoder(e.Bytes(), giop.V1_2, true), ex); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "IDL:RT/Other:1.0") {
		t.Errorf("wrong exception: %v", err)
	}
}

// TestLongDouble checks the binary128 conversion against known encodings
// and round trips.
func TestLongDouble(t *testing.T) {
	known := []struct {
		f      float64
		hi, lo uint64
	}{
		{1, 0x3FFF000000000000, 0},
		{-2, 0xC000000000000000, 0},
		{0.5, 0x3FFE000000000000, 0},
		{math.Inf(1), 0x7FFF000000000000, 0},
		{math.Copysign(0, -1), 0x8000000000000000, 0},
		{1 + 1.0/(1<<52), 0x3FFF000000000000, 1 << 60},
	}
	for _, k := range known {
		hi, lo := float64ToQuad(k.f)
		if hi != k.hi || lo != k.lo {
			t.Errorf("float64ToQuad(%v) = %016x %016x, want %016x %016x", k.f, hi, lo, k.hi, k.lo)
		}
	}
	for _, f := range []float64{0, 1, -1, math.Pi, 1e300, -1e-300, 5e-324, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(-1)} {
		hi, lo := float64ToQuad(f)
		if g := quadToFloat64(hi, lo); g != f {
			t.Errorf("round trip of %v gave %v", f, g)
		}
	}
	if g := quadToFloat64(float64ToQuad(math.NaN())); !math.IsNaN(g) {
		t.Errorf("NaN gave %v", g)
	}
	// Rounding to nearest: 1 + 2^-53 + 2^-60 rounds up to 1 + 2^-52.
	if g := quadToFloat64(0x3FFF000000000000, 1<<59|1<<52); g != 1+1.0/(1<<52) {
		t.Errorf("rounding: %v", g)
	}
}

// TestZeroProgressBudget: a type sharing empty structs cannot make the
// decoder run exponentially long on no input.
func TestZeroProgressBudget(t *testing.T) {
	typ := mtStruct("E0")
	for i := range 40 {
		typ = mtStruct(fmt.Sprintf("E%d", i+1), mtMem("a", typ), mtMem("b", typ))
	}
	_, err := Unmarshal(giop.NewDecoder(nil, giop.V1_2, true), typ)
	if !errors.Is(err, giop.ErrMarshal) || !strings.Contains(err.Error(), "values without data") {
		t.Fatalf("got %v", err)
	}
}

// TestParsedRoundTripIDL parses testdata/idl/roundtrip.idl with the
// repository (orb.idl stubbed out: CORBA::TypeCode is built in) and checks
// that it yields exactly the hand-built model the interop tests use, and
// that marshalling with the parsed operation gives the same bytes.
func TestParsedRoundTripIDL(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "testdata", "idl", "roundtrip.idl"))
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"roundtrip.idl": {Data: src},
		"orb.idl":       {Data: []byte("// stub: CORBA::TypeCode is built into the parser\n")},
	}
	repo := NewRepository()
	if err := repo.LoadFile("roundtrip.idl", &Options{FS: fsys, IncludePaths: []string{"."}}); err != nil {
		t.Fatal(err)
	}
	m := newRTModel()
	for name, want := range map[string]*Type{
		"RT::Color": m.Color, "RT::Money": m.Money, "RT::Matrix": m.Matrix, "RT::Inner": m.Inner,
		"RT::InnerSeq": m.InnerSeq, "RT::Blob": m.Blob, "RT::Names": m.Names, "RT::Rec": m.Rec,
		"RT::WRec": m.WRec, "RT::U": m.U, "RT::EU": m.EU, "RT::BU": m.BU, "RT::CU": m.CU,
		"RT::USeq": m.USeq, "RT::Node": m.Node, "RT::NodeSeq": m.NodeSeq, "RT::AnySeq": m.AnySeq,
		"RT::Big": m.Big, "IDL:RT/Boom:1.0": m.Boom,
	} {
		got, ok := repo.Type(name)
		if !ok {
			t.Fatalf("no type %s", name)
		}
		if !mtTypesEqual(got, want) {
			t.Errorf("%s: parsed %s differs from the model", name, describeType(got))
		}
	}
	iface, ok := repo.Interface("IDL:RT/Echo:1.0")
	if !ok {
		t.Fatal("no RT::Echo")
	}
	for _, want := range m.Echo.Operations {
		op, ok := iface.Operation(want.Name)
		if !ok {
			t.Fatalf("no operation %s", want.Name)
		}
		if !mtTypesEqual(op.Result, want.Result) || len(op.Params) != len(want.Params) || len(op.Raises) != len(want.Raises) {
			t.Fatalf("%s: signature differs", want.Name)
		}
		for i, p := range op.Params {
			if p.Name != want.Params[i].Name || p.Dir != want.Params[i].Dir || !mtTypesEqual(p.Type, want.Params[i].Type) {
				t.Fatalf("%s: parameter %d differs", want.Name, i)
			}
		}
		for i, r := range op.Raises {
			if !mtTypesEqual(r, want.Raises[i]) {
				t.Fatalf("%s: raises differs", want.Name)
			}
		}
	}
	// Same bytes from the parsed and the hand-built operation, in both orders.
	parsed, _ := iface.Operation("checkBig")
	for _, little := range []bool{true, false} {
		a, b := giop.NewEncoder(giop.V1_2, little), giop.NewEncoder(giop.V1_2, little)
		if err := parsed.MarshalArgs(a, []any{m.big(mtIOR())}); err != nil {
			t.Fatal(err)
		}
		if err := m.op(t, "checkBig").MarshalArgs(b, []any{m.big(mtIOR())}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("parsed and hand-built types encode differently")
		}
		got, err := parsed.UnmarshalArgs(giop.NewDecoder(a.Bytes(), giop.V1_2, little))
		if err != nil || !mtEqual(got, []any{m.big(mtIOR())}) {
			t.Fatalf("decoding with the parsed operation: %v", err)
		}
	}
}

// TestParsedNativeMessagingZero: every operation of every interface of the
// agent's own NativeMessaging.idl (attribute accessors included) has zero
// arguments and a zero reply that marshal and unmarshal back in every GIOP
// version and byte order, which is what suppressed-mode premature returns
// and operator tools rely on; the zero reply also round-trips through JSON.
func TestParsedNativeMessagingZero(t *testing.T) {
	repo, err := NativeMessaging()
	if err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, iface := range repo.Interfaces() {
		for _, op := range iface.AllOperations() {
			ops++
			var args, outs []any
			var result any
			for _, p := range op.Params {
				if p.Dir != Out {
					args = append(args, Zero(p.Type))
				}
				if p.Dir != In {
					outs = append(outs, Zero(p.Type))
				}
			}
			if op.Result != nil && op.Result.Kind != giop.TkVoid {
				result = Zero(op.Result)
			}
			for _, c := range mtCodecs {
				e := giop.NewEncoder(c.v, c.little)
				if err := op.MarshalArgs(e, args); err != nil {
					if c.v == giop.V1_0 && errors.Is(err, ErrUnsupported) {
						continue // a wchar or wstring
					}
					t.Fatalf("%s::%s args in %s: %v", iface.Name, op.Name, c.name, err)
				}
				got, err := op.UnmarshalArgs(giop.NewDecoder(e.Bytes(), c.v, c.little))
				if err != nil || !mtEqual(got, args) {
					t.Fatalf("%s::%s args in %s: %v", iface.Name, op.Name, c.name, err)
				}
				e.Reset(c.v, c.little)
				if err := op.MarshalZeroResults(e); err != nil {
					t.Fatalf("%s::%s zero results in %s: %v", iface.Name, op.Name, c.name, err)
				}
				res, gotOuts, err := op.UnmarshalResults(giop.NewDecoder(e.Bytes(), c.v, c.little))
				if err != nil || !mtEqual(res, result) || !mtEqual(gotOuts, outs) {
					t.Fatalf("%s::%s zero results in %s: %v %v %v", iface.Name, op.Name, c.name, res, gotOuts, err)
				}
			}
			if result != nil {
				j, err := ToJSON(op.Result, result)
				if err != nil {
					t.Fatalf("%s::%s ToJSON: %v", iface.Name, op.Name, err)
				}
				back, err := FromJSON(op.Result, j)
				if err != nil || !mtEqual(back, result) {
					t.Fatalf("%s::%s FromJSON(%s): %v", iface.Name, op.Name, j, err)
				}
			}
		}
	}
	if ops < 10 {
		t.Fatalf("only %d operations in NativeMessaging.idl", ops)
	}
	t.Logf("%d operations", ops)
}
