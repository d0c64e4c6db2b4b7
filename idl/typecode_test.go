package idl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// mtTypeCases are types of every TypeCode kind.
func mtTypeCases() map[string]*Type {
	types := map[string]*Type{}
	for _, vc := range mtValueCases() {
		types[vc.name] = vc.t
	}
	val := &Type{Kind: giop.TkValue, Name: "RT::Val", RepoID: "IDL:RT/Val:1.0",
		Members: []Member{{Name: "a", Type: mtLong, Public: true}, {Name: "b", Type: mtStr(0)}}}
	val.Members = append(val.Members, Member{Name: "next", Type: val})
	derived := &Type{Kind: giop.TkValue, Name: "RT::Der", RepoID: "IDL:RT/Der:1.0", Base: val,
		Members: []Member{{Name: "c", Type: mtDouble, Public: true}}}
	for k, t := range map[string]*Type{
		"null": mtPrim(giop.TkNull), "void": mtPrim(giop.TkVoid), "TypeCode": mtTC,
		"value": val, "value_derived": derived,
		"value_box": {Kind: giop.TkValueBox, Name: "RT::Box", RepoID: "IDL:RT/Box:1.0", Elem: mtStr(0)},
		"native":    {Kind: giop.TkNative, Name: "RT::N", RepoID: "IDL:RT/N:1.0"},
		"abstract":  {Kind: giop.TkAbstractInterface, Name: "RT::A", RepoID: "IDL:RT/A:1.0"},
		"local":     {Kind: giop.TkLocalInterface, Name: "RT::L", RepoID: "IDL:RT/L:1.0"},
		"Object":    {Kind: giop.TkObjref, Name: "Object", RepoID: objectRepoID},
		"union_default_with_label": mtUnion("RT::DL", mtShort, mtCase("a", mtLong, 1),
			mtDefault("b", mtStr(0), 2, 3)),
		"union_enum_alias_disc": mtUnion("RT::AD", mtAlias("RT::C2", mtColor), mtCase("x", mtLong, 2)),
		"struct_of_arrays":      mtStruct("RT::SA", mtMem("a", mtArr(mtArr(mtArr(mtChar, 2), 3), 4))),
		"alias_recursive_seq": func() *Type {
			n := mtStruct("RT::T")
			n.Members = []Member{{Name: "kids", Type: mtAlias("RT::TSeq", mtSeq(n, 0))}}
			return n
		}(),
		"mutual_recursion": func() *Type {
			a := mtStruct("RT::MA")
			b := mtStruct("RT::MB", mtMem("as", mtSeq(a, 0)))
			a.Members = []Member{{Name: "bs", Type: mtSeq(b, 0)}, {Name: "self", Type: mtSeq(a, 3)}}
			return a
		}(),
		"union_recursive": func() *Type {
			u := mtUnion("RT::RU", mtLong, mtCase("leaf", mtLong, 0))
			u.Cases = append(u.Cases, mtCase("kids", mtSeq(u, 0), 1))
			return u
		}(),
	} {
		types[k] = t
	}
	return types
}

func TestTypeCodeRoundTrip(t *testing.T) {
	for name, typ := range mtTypeCases() {
		if typ.Kind == giop.TkAny {
			continue // the any's contents are tested by value
		}
		for _, little := range []bool{true, false} {
			for _, off := range []int{0, 3} {
				e := giop.NewEncoder(giop.V1_2, little)
				for range off {
					e.WriteOctet(0)
				}
				if err := WriteTypeCode(e, typ); err != nil {
					t.Fatalf("%s: WriteTypeCode: %v", name, err)
				}
				d := giop.NewDecoder(e.Bytes(), giop.V1_2, little)
				d.Raw(off)
				got, err := ReadTypeCode(d)
				if err != nil {
					t.Fatalf("%s (little=%v): ReadTypeCode: %v", name, little, err)
				}
				if d.Remaining() != 0 {
					t.Fatalf("%s: %d bytes left", name, d.Remaining())
				}
				if !mtTypesEqual(got, typ) {
					t.Fatalf("%s (little=%v): read back %s, want %s", name, little, describeType(got), describeType(typ))
				}
				// Writing what was read gives the same bytes.
				e2 := giop.NewEncoder(giop.V1_2, little)
				for range off {
					e2.WriteOctet(0)
				}
				if err := WriteTypeCode(e2, got); err != nil || !bytes.Equal(e2.Bytes(), e.Bytes()) {
					t.Fatalf("%s: rewrite differs (%v)\n%x\n%x", name, err, e2.Bytes(), e.Bytes())
				}
			}
		}
	}
}

// TestTypeCodeBytes checks encodings against CORBA 3.0 Table 15-2.
func TestTypeCodeBytes(t *testing.T) {
	cases := []struct {
		name string
		typ  *Type
		le   string
	}{
		{"long", mtLong, "03000000"},
		{"string<8>", mtStr(8), "12000000 08000000"},
		{"fixed<9,2>", mtFixed(9, 2), "1c000000 0900 0200"},
		{"sequence<long,4>", mtSeq(mtLong, 4), "13000000 0c000000 01 000000 03000000 04000000"},
		{"array long[3]", mtArr(mtLong, 3), "14000000 0c000000 01 000000 03000000 03000000"},
		{"enum", mtEnum("E", "a", "b"),
			"11000000 2e000000 01 000000 0a000000 49444c3a453a312e3000 0000 02000000 45000000 02000000 02000000 6100 0000 02000000 6200"},
		{"struct", mtStruct("M::S", mtMem("x", mtOctet)),
			"0f000000 2c000000 01 000000 0c000000 49444c3a4d2f533a312e3000 02000000 5300 0000 01000000 02000000 7800 0000 0a000000"},
		{"objref without id is CORBA::Object", mtObject,
			"0e000000 33000000 01 000000 1d000000 49444c3a6f6d672e6f72672f434f5242412f4f626a6563743a312e3000 000000 07000000 4f626a65637400"},
		{"union with default: index and zero octet label", mtUnion("U", mtShort, mtCase("a", mtLong, 5), mtDefault("b", mtOctet)),
			"10000000 48000000 01 000000 0a000000 49444c3a553a312e3000 0000 02000000 5500 0000 02000000 01000000 02000000" +
				" 0500 0000 02000000 6100 0000 03000000" + // label 5, "a", long
				" 00 000000 02000000 6200 0000 0a000000"}, // zero octet, "b", octet
	}
	for _, c := range cases {
		e := giop.NewEncoder(giop.V1_2, true)
		if err := WriteTypeCode(e, c.typ); err != nil {
			t.Fatal(err)
		}
		if want := mtHex(c.le); !bytes.Equal(e.Bytes(), want) {
			t.Errorf("%s:\n got %x\nwant %x", c.name, e.Bytes(), want)
		}
	}
}

// TestTypeCodeIndirection: a recursive type is written with an indirection
// whose offset, counted from the offset itself, reaches back to the
// enclosing struct's kind.
func TestTypeCodeIndirection(t *testing.T) {
	for _, little := range []bool{true, false} {
		e := giop.NewEncoder(giop.V1_2, little)
		e.WriteULong(0xAAAAAAAA) // the TypeCode does not start at 0
		if err := WriteTypeCode(e, mtNode()); err != nil {
			t.Fatal(err)
		}
		b := e.Bytes()
		var order binary.ByteOrder = binary.BigEndian
		if little {
			order = binary.LittleEndian
		}
		found := 0
		for i := 4; i+8 <= len(b); i += 4 {
			if order.Uint32(b[i:]) == 0xFFFFFFFF {
				off := int32(order.Uint32(b[i+4:]))
				if i+4+int(off) != 4 {
					t.Errorf("indirection at %d has offset %d, reaching %d, want 4", i, off, i+4+int(off))
				}
				found++
			}
		}
		if found != 1 {
			t.Fatalf("%d indirections in %x", found, b)
		}
		d := giop.NewDecoder(b, giop.V1_2, little)
		d.ULong()
		got, err := ReadTypeCode(d)
		if err != nil {
			t.Fatal(err)
		}
		if got.Members[1].Type.Elem != got {
			t.Fatalf("the recursion is not a pointer cycle")
		}
	}
}

// TestTypeCodeRepeatedIndirection: omniORB also writes an indirection for
// a TypeCode repeated within the same top-level TypeCode (not only for
// recursion); the reader resolves those to the earlier Type.
func TestTypeCodeRepeatedIndirection(t *testing.T) {
	e := giop.NewEncoder(giop.V1_2, true)
	e.WriteULong(uint32(giop.TkStruct))
	m := e.BeginEncapsulation()
	e.WriteString("IDL:P:1.0")
	e.WriteString("P")
	e.WriteULong(2)
	e.WriteString("a")
	e.Align(4)
	innerPos := e.Len()
	if err := WriteTypeCode(e, mtEnum("E", "x", "y")); err != nil {
		t.Fatal(err)
	}
	e.WriteString("b")
	e.WriteULong(0xFFFFFFFF)
	e.WriteLong(int32(innerPos - e.Len()))
	e.EndEncapsulation(m)
	got, err := ReadTypeCode(giop.NewDecoder(e.Bytes(), giop.V1_2, true))
	if err != nil {
		t.Fatal(err)
	}
	if got.Members[0].Type != got.Members[1].Type || got.Members[1].Type.Kind != giop.TkEnum {
		t.Fatalf("repeated TypeCode not shared: %+v", got.Members)
	}
}

func TestTypeCodeHostile(t *testing.T) {
	nestedSeq := func(n int) []byte {
		e := giop.NewEncoder(giop.V1_2, true)
		var marks []giop.EncapsulationMark
		for range n {
			e.WriteULong(uint32(giop.TkSequence))
			marks = append(marks, e.BeginEncapsulation())
		}
		e.WriteULong(uint32(giop.TkLong))
		for i := len(marks) - 1; i >= 0; i-- {
			e.WriteULong(0)
			e.EndEncapsulation(marks[i])
		}
		return e.Bytes()
	}
	selfIndirect := func(off int32) []byte {
		e := giop.NewEncoder(giop.V1_2, true)
		e.WriteULong(uint32(giop.TkSequence))
		m := e.BeginEncapsulation()
		e.WriteULong(0xFFFFFFFF)
		e.WriteLong(off)
		e.WriteULong(0)
		e.EndEncapsulation(m)
		return e.Bytes()
	}
	cases := []struct {
		name string
		b    []byte
		msg  string
	}{
		{"deep nesting", nestedSeq(1000), "nested deeper than 64"},
		{"unknown kind", mtHex("40000000"), "unknown kind 64"},
		{"indirection at top level", mtHex("ffffffff fcffffff"), "does not point to an enclosing TypeCode"},
		{"positive indirection", selfIndirect(8), "is not negative"},
		{"indirection to itself", selfIndirect(-4), "does not point to an enclosing TypeCode"},
		{"indirection into parameters", selfIndirect(-8), "does not point to an enclosing TypeCode"},
		{"indirection before the start", selfIndirect(-1 << 30), "does not point to an enclosing TypeCode"},
		{"huge encapsulation", mtHex("0f000000 ffffff7f 01"), "exceeds the"},
		{"huge member count", func() []byte {
			e := giop.NewEncoder(giop.V1_2, true)
			e.WriteULong(uint32(giop.TkStruct))
			m := e.BeginEncapsulation()
			e.WriteString("IDL:S:1.0")
			e.WriteString("S")
			e.WriteULong(0x0FFFFFFF)
			e.WriteString("a")
			e.WriteULong(uint32(giop.TkLong))
			e.EndEncapsulation(m)
			return e.Bytes()
		}(), "sequence of 268435455 elements of 9 bytes exceeds the"},
		{"bad fixed", mtHex("1c000000 2800 0000"), "fixed<40,0> is not a valid fixed type"},
		{"bad byte order", mtHex("13000000 08000000 05000000 03000000"), "byte order octet 5"},
		{"truncated", mtHex("13000000 08000000 01000000 03"), "exceeds the 5 bytes left"},
		{"string discriminator", func() []byte {
			e := giop.NewEncoder(giop.V1_2, true)
			e.WriteULong(uint32(giop.TkUnion))
			m := e.BeginEncapsulation()
			e.WriteString("IDL:U:1.0")
			e.WriteString("U")
			e.WriteULong(uint32(giop.TkString))
			e.WriteULong(0)
			e.WriteLong(-1)
			e.WriteULong(0)
			e.EndEncapsulation(m)
			return e.Bytes()
		}(), "has discriminator type string"},
		{"default index out of range", func() []byte {
			e := giop.NewEncoder(giop.V1_2, true)
			e.WriteULong(uint32(giop.TkUnion))
			m := e.BeginEncapsulation()
			e.WriteString("IDL:U:1.0")
			e.WriteString("U")
			e.WriteULong(uint32(giop.TkLong))
			e.WriteLong(3)
			e.WriteULong(0)
			e.EndEncapsulation(m)
			return e.Bytes()
		}(), "default index 3 of 0 members"},
	}
	for _, c := range cases {
		d := giop.NewDecoder(c.b, giop.V1_2, true)
		_, err := ReadTypeCode(d)
		if err == nil || !strings.Contains(err.Error(), c.msg) || !errors.Is(err, giop.ErrMarshal) {
			t.Errorf("%s: got %v, want a MARSHAL error containing %q", c.name, err, c.msg)
		}
		if d.Err() == nil {
			t.Errorf("%s: error not recorded on the decoder", c.name)
		}
	}
}

// TestTypeCodeNodeCap: a TypeCode that shares one struct type through
// indirections many times is cut off, and writing a deeply shared (DAG)
// type refuses to expand it without end.
func TestTypeCodeNodeCap(t *testing.T) {
	typ := mtStruct("D0", mtMem("x", mtLong))
	for i := range 30 {
		typ = mtStruct(fmt.Sprintf("D%d", i+1), mtMem("a", typ), mtMem("b", typ))
	}
	e := giop.NewEncoder(giop.V1_2, true)
	err := WriteTypeCode(e, typ)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "more than 16384 types") {
		t.Fatalf("got %v", err)
	}
}

func TestTypeCodeWriteErrors(t *testing.T) {
	deep := mtLong
	for range 100 {
		deep = mtSeq(deep, 0)
	}
	cases := []struct {
		typ *Type
		msg string
	}{
		{nil, "nil type"},
		{deep, "nested deeper than 64"},
		{mtUnion("U", mtStr(0), mtCase("a", mtLong, 1)), "has discriminator type string"},
		{&Type{Kind: 99}, "unknown kind 99"},
		{mtStruct("S", mtMem("m", nil)), "m: idl: value does not match its type: TypeCode of a nil type"},
	}
	for _, c := range cases {
		err := WriteTypeCode(giop.NewEncoder(giop.V1_2, true), c.typ)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %q", describeType(c.typ), err, c.msg)
		}
	}
}

// TestTypeCodeGiopCompat: the giop package's own TypeCode codec (used for
// NameValuePair anys) and this one agree on the kinds giop knows.
func TestTypeCodeGiopCompat(t *testing.T) {
	pairs := []struct {
		ours  *Type
		giops *giop.TypeCode
	}{
		{mtSeq(mtOctet, 0), giop.TCOctetSeq},
		{mtStr(16), &giop.TypeCode{Kind: giop.TkString, Bound: 16}},
		{mtAlias("M::Id", mtSeq(mtLong, 3)), &giop.TypeCode{Kind: giop.TkAlias, ID: "IDL:M/Id:1.0", Name: "Id",
			Content: &giop.TypeCode{Kind: giop.TkSequence, Bound: 3, Content: giop.TCLong}}},
		{mtObj("M::I"), &giop.TypeCode{Kind: giop.TkObjref, ID: "IDL:M/I:1.0", Name: "I"}},
	}
	for _, p := range pairs {
		for _, little := range []bool{true, false} {
			a := giop.NewEncoder(giop.V1_2, little)
			if err := WriteTypeCode(a, p.ours); err != nil {
				t.Fatal(err)
			}
			b := giop.NewEncoder(giop.V1_2, little)
			b.WriteTypeCode(p.giops)
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Errorf("%s: ours %x, giop's %x", describeType(p.ours), a.Bytes(), b.Bytes())
			}
		}
	}
}

func TestDescribeType(t *testing.T) {
	cases := []struct {
		typ       *Type
		desc      string
		spec      string
		described bool
	}{
		{mtLong, "long", "long", true},
		{mtULL, "unsigned long long", "unsigned long long", true},
		{mtSeq(mtStr(4), 2), "sequence<string<4>,2>", "sequence<string<4>,2>", true},
		{mtArr(mtArr(mtLong, 3), 2), "long[2][3]", "long[2][3]", true},
		{mtFixed(9, 2), "fixed<9,2>", "fixed<9,2>", true},
		{mtObject, "Object", "Object", true},
		{mtColor, "RT::Color", "IDL:RT/Color:1.0", false},
		{mtSeq(mtColor, 0), "sequence<RT::Color>", "sequence<IDL:RT/Color:1.0>", false},
	}
	for _, c := range cases {
		spec, ok := typeSpec(c.typ)
		if d := describeType(c.typ); d != c.desc || spec != c.spec || ok != c.described {
			t.Errorf("got %q, %q, %v; want %q, %q, %v", d, spec, ok, c.desc, c.spec, c.described)
		}
		if ok {
			back, err := parseTypeSpec(spec)
			if err != nil || !mtTypesEqual(back, c.typ) {
				t.Errorf("parseTypeSpec(%q) = %s, %v", spec, describeType(back), err)
			}
		}
	}
}
