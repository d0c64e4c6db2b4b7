package idl

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// load parses src as "test.idl" into a new repository.
func load(t *testing.T, src string) *Repository {
	t.Helper()
	r := NewRepository()
	if err := r.LoadSource("test.idl", []byte(src), nil); err != nil {
		t.Fatalf("parse: %v\nsource:\n%s", err, src)
	}
	return r
}

func mustType(t *testing.T, r *Repository, name string) *Type {
	t.Helper()
	ty, ok := r.Type(name)
	if !ok {
		t.Fatalf("type %s not found", name)
	}
	return ty
}

func mustIface(t *testing.T, r *Repository, name string) *Interface {
	t.Helper()
	i, ok := r.Interface(name)
	if !ok {
		t.Fatalf("interface %s not found", name)
	}
	return i
}

func mustOp(t *testing.T, i *Interface, name string) *Operation {
	t.Helper()
	op, ok := i.Operation(name)
	if !ok {
		t.Fatalf("%s has no operation %s", i.Name, name)
	}
	return op
}

// TestGrammar has one case per IDL construct (CORBA 3.0 chapter 7).
func TestGrammar(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, r *Repository)
	}{
		{"module reopened", `
			module M { typedef long A; };
			module M { typedef A B; };`,
			func(t *testing.T, r *Repository) {
				if mustType(t, r, "M::B").Elem != mustType(t, r, "M::A") {
					t.Error("M::B does not alias M::A")
				}
			}},
		{"nested modules and absolute names", `
			module A { module B { typedef long T; }; typedef ::A::B::T U; typedef B::T V; };`,
			func(t *testing.T, r *Repository) {
				tt := mustType(t, r, "A::B::T")
				if mustType(t, r, "A::U").Elem != tt || mustType(t, r, "::A::V").Elem != tt {
					t.Error("scoped names resolve to different types")
				}
			}},
		{"interface forward declaration and inheritance", `
			interface I;
			interface J { I get(); };
			interface I : J { void own(); };`,
			func(t *testing.T, r *Repository) {
				i, j := mustIface(t, r, "I"), mustIface(t, r, "J")
				if len(i.Bases) != 1 || i.Bases[0] != j {
					t.Fatalf("I.Bases = %v", i.Bases)
				}
				if mustOp(t, j, "get").Result.Interface != i {
					t.Error("J::get does not return I")
				}
				if op := mustOp(t, i, "get"); op.Interface != j {
					t.Errorf("inherited get declared in %s", op.Interface.Name)
				}
			}},
		{"CORBA::Object as a base", `
			interface I : CORBA::Object { void f(); };`,
			func(t *testing.T, r *Repository) {
				if i := mustIface(t, r, "I"); len(i.Bases) != 0 || !i.IsA("IDL:omg.org/CORBA/Object:1.0") {
					t.Errorf("I bases %v", i.Bases)
				}
			}},
		{"abstract and local interfaces", `
			abstract interface A { void f(); };
			local interface L : A { void g(); };
			interface C : A {};`,
			func(t *testing.T, r *Repository) {
				if a := mustIface(t, r, "A"); !a.Abstract || a.Type.Kind != giop.TkAbstractInterface {
					t.Errorf("A: abstract=%v kind=%v", a.Abstract, a.Type.Kind)
				}
				if l := mustIface(t, r, "L"); !l.Local || l.Type.Kind != giop.TkLocalInterface {
					t.Errorf("L: local=%v kind=%v", l.Local, l.Type.Kind)
				}
				if c := mustIface(t, r, "C"); c.Type.Kind != giop.TkObjref {
					t.Errorf("C kind = %v", c.Type.Kind)
				}
			}},
		{"operations: directions, oneway, raises, context", `
			exception E1 {}; exception E2 { long code; };
			interface I {
				long f(in short a, out string b, inout double c) raises (E1, E2) context ("X", "Y*");
				oneway void g(in long x);
				void h();
			};`,
			func(t *testing.T, r *Repository) {
				i := mustIface(t, r, "I")
				f := mustOp(t, i, "f")
				want := []Param{{"a", In, basicTypes[giop.TkShort]}, {"b", Out, basicTypes[giop.TkString]}, {"c", InOut, basicTypes[giop.TkDouble]}}
				if !reflect.DeepEqual(f.Params, want) {
					t.Errorf("params = %+v", f.Params)
				}
				if f.Result.Kind != giop.TkLong || len(f.Raises) != 2 || f.Raises[1] != mustType(t, r, "E2") {
					t.Errorf("result %v raises %v", f.Result.Kind, f.Raises)
				}
				if !reflect.DeepEqual(f.Contexts, []string{"X", "Y*"}) {
					t.Errorf("contexts = %q", f.Contexts)
				}
				if g := mustOp(t, i, "g"); !g.Oneway || g.Result.Kind != giop.TkVoid {
					t.Errorf("g oneway=%v result=%v", g.Oneway, g.Result.Kind)
				}
				if h := mustOp(t, i, "h"); len(h.Params) != 0 || h.Oneway {
					t.Errorf("h = %+v", h)
				}
			}},
		{"attributes: readonly, declarators, getraises/setraises", `
			exception G {}; exception S {};
			interface I {
				attribute long a, b;
				readonly attribute string c;
				readonly attribute short d raises (G);
				attribute float e getraises (G) setraises (S);
			};`,
			func(t *testing.T, r *Repository) {
				i := mustIface(t, r, "I")
				if len(i.Attributes) != 5 {
					t.Fatalf("%d attributes", len(i.Attributes))
				}
				if _, ok := i.Operation("_set_c"); ok {
					t.Error("readonly c has a setter")
				}
				set := mustOp(t, i, "_set_b")
				if set.Result.Kind != giop.TkVoid || len(set.Params) != 1 || set.Params[0].Type.Kind != giop.TkLong || set.Params[0].Dir != In {
					t.Errorf("_set_b = %+v", set)
				}
				if get := mustOp(t, i, "_get_c"); get.Result.Kind != giop.TkString || len(get.Params) != 0 {
					t.Errorf("_get_c = %+v", get)
				}
				if d := mustOp(t, i, "_get_d"); len(d.Raises) != 1 || d.Raises[0].Name != "G" {
					t.Errorf("_get_d raises %v", d.Raises)
				}
				if e := mustOp(t, i, "_get_e"); len(e.Raises) != 1 || e.Raises[0].Name != "G" {
					t.Errorf("_get_e raises %v", e.Raises)
				}
				if e := mustOp(t, i, "_set_e"); len(e.Raises) != 1 || e.Raises[0].Name != "S" {
					t.Errorf("_set_e raises %v", e.Raises)
				}
			}},
		{"struct with a nested struct definition", `
			struct S { struct In { long x; } inner; sequence<In> more; };`,
			func(t *testing.T, r *Repository) {
				s, in := mustType(t, r, "S"), mustType(t, r, "S::In")
				if len(s.Members) != 2 || s.Members[0].Type != in || s.Members[1].Type.Elem != in {
					t.Errorf("S = %+v", s)
				}
			}},
		{"recursive struct through a forward declaration", `
			struct Node; typedef sequence<Node> Nodes;
			struct Node { string name; Nodes kids; };`,
			func(t *testing.T, r *Repository) {
				n := mustType(t, r, "Node")
				if n.Members[1].Type.Elem.Elem != n {
					t.Error("Node.kids is not a sequence of Node")
				}
			}},
		{"union discriminators and labels", `
			enum Color { RED, GREEN, BLUE };
			typedef long MyLong;
			typedef Color MyColor;
			union UL switch (long) { case 1: case -2: long a; default: string d; };
			union UC switch (char) { case 'a': long a; case '\x10': long b; };
			union UW switch (wchar) { case L'\u20ac': long a; };
			union UB switch (boolean) { case TRUE: long t; case FALSE: long f; };
			union UE switch (Color) { case RED: long r; case GREEN: case BLUE: string gb; };
			union UT switch (MyLong) { case 7: long a; };
			union UT2 switch (MyColor) { case BLUE: long b; };
			union UX switch (unsigned long long) { case 0xFFFFFFFFFFFFFFFF: long top; };
			union UD switch (short) { case 1: long a; default: case 2: long b; };
			union UO switch (octet) { case 200: long a; };
			union UI switch (enum Inline { X, Y }) { case Y: long y; };`,
			func(t *testing.T, r *Repository) {
				ul := mustType(t, r, "UL")
				if ul.Disc.Kind != giop.TkLong || !reflect.DeepEqual(ul.Cases[0].Labels, []int64{1, -2}) || !ul.Cases[1].IsDefault || len(ul.Cases[1].Labels) != 0 {
					t.Errorf("UL = %+v", ul.Cases)
				}
				if uc := mustType(t, r, "UC"); uc.Cases[0].Labels[0] != 'a' || uc.Cases[1].Labels[0] != 0x10 {
					t.Errorf("UC = %+v", uc.Cases)
				}
				if uw := mustType(t, r, "UW"); uw.Cases[0].Labels[0] != 0x20ac {
					t.Errorf("UW = %+v", uw.Cases)
				}
				if ub := mustType(t, r, "UB"); ub.Cases[0].Labels[0] != 1 || ub.Cases[1].Labels[0] != 0 {
					t.Errorf("UB = %+v", ub.Cases)
				}
				if ue := mustType(t, r, "UE"); ue.Disc != mustType(t, r, "Color") || !reflect.DeepEqual(ue.Cases[1].Labels, []int64{1, 2}) {
					t.Errorf("UE = %+v", ue.Cases)
				}
				if ut := mustType(t, r, "UT"); ut.Disc != mustType(t, r, "MyLong") || ut.Cases[0].Labels[0] != 7 {
					t.Errorf("UT = %+v", ut)
				}
				if ut2 := mustType(t, r, "UT2"); ut2.Cases[0].Labels[0] != 2 {
					t.Errorf("UT2 = %+v", ut2.Cases)
				}
				if ux := mustType(t, r, "UX"); ux.Cases[0].Labels[0] != -1 {
					t.Errorf("UX label = %d, want the bit pattern -1", ux.Cases[0].Labels[0])
				}
				if ud := mustType(t, r, "UD"); !ud.Cases[1].IsDefault || !reflect.DeepEqual(ud.Cases[1].Labels, []int64{2}) {
					t.Errorf("UD = %+v", ud.Cases)
				}
				if uo := mustType(t, r, "UO"); uo.Cases[0].Labels[0] != 200 {
					t.Errorf("UO = %+v", uo.Cases)
				}
				if ui := mustType(t, r, "UI"); ui.Disc != mustType(t, r, "Inline") || ui.Cases[0].Labels[0] != 1 {
					t.Errorf("UI = %+v", ui)
				}
			}},
		{"enum and its enumerators in the enclosing scope", `
			module M { enum E { A, B, C }; const E Last = C; };`,
			func(t *testing.T, r *Repository) {
				e := mustType(t, r, "M::E")
				if !reflect.DeepEqual(e.Enumerators, []string{"A", "B", "C"}) {
					t.Errorf("enumerators %v", e.Enumerators)
				}
				if c, ok := r.Const("M::B"); !ok || c.Value != "B" || c.Type != e {
					t.Errorf("M::B = %+v", c)
				}
				if c, _ := r.Const("M::Last"); c.Value != "C" {
					t.Errorf("M::Last = %+v", c)
				}
			}},
		{"typedef arrays and multiple declarators", `
			typedef long A[3][4], B, C[2];`,
			func(t *testing.T, r *Repository) {
				a := mustType(t, r, "A").Elem
				if a.Kind != giop.TkArray || a.Length != 3 || a.Elem.Kind != giop.TkArray || a.Elem.Length != 4 || a.Elem.Elem.Kind != giop.TkLong {
					t.Errorf("A = %+v", a)
				}
				if mustType(t, r, "B").Elem.Kind != giop.TkLong || mustType(t, r, "C").Elem.Length != 2 {
					t.Error("B or C wrong")
				}
			}},
		{"sequences: bounded, unbounded, nested, >> closing two", `
			const long N = 8;
			typedef sequence<long> S1;
			typedef sequence<long, N * 2> S2;
			typedef sequence<sequence<long>> S3;
			typedef sequence<sequence<long, 4>> S4;
			typedef sequence<long, (64 >> 2)> S5;
			typedef sequence<string<5>> S6;`,
			func(t *testing.T, r *Repository) {
				if s := mustType(t, r, "S1").Elem; s.Kind != giop.TkSequence || s.Bound != 0 || s.Elem.Kind != giop.TkLong {
					t.Errorf("S1 = %+v", s)
				}
				if s := mustType(t, r, "S2").Elem; s.Bound != 16 {
					t.Errorf("S2 bound %d", s.Bound)
				}
				if s := mustType(t, r, "S3").Elem; s.Elem.Kind != giop.TkSequence || s.Elem.Elem.Kind != giop.TkLong {
					t.Errorf("S3 = %+v", s)
				}
				if s := mustType(t, r, "S4").Elem; s.Bound != 0 || s.Elem.Bound != 4 {
					t.Errorf("S4 = %+v", s)
				}
				if s := mustType(t, r, "S5").Elem; s.Bound != 16 {
					t.Errorf("S5 bound %d", s.Bound)
				}
				if s := mustType(t, r, "S6").Elem; s.Elem.Kind != giop.TkString || s.Elem.Bound != 5 {
					t.Errorf("S6 = %+v", s)
				}
			}},
		{"string and wstring bounds", `
			typedef string<10> S; typedef wstring<3> W; typedef string U;`,
			func(t *testing.T, r *Repository) {
				if s := mustType(t, r, "S").Elem; s.Kind != giop.TkString || s.Bound != 10 {
					t.Errorf("S = %+v", s)
				}
				if w := mustType(t, r, "W").Elem; w.Kind != giop.TkWString || w.Bound != 3 {
					t.Errorf("W = %+v", w)
				}
				if u := mustType(t, r, "U").Elem; u.Bound != 0 {
					t.Errorf("U = %+v", u)
				}
			}},
		{"fixed", `typedef fixed<9, 2> Money; typedef fixed<31,0> Int31;`,
			func(t *testing.T, r *Repository) {
				if m := mustType(t, r, "Money").Elem; m.Kind != giop.TkFixed || m.Digits != 9 || m.Scale != 2 {
					t.Errorf("Money = %+v", m)
				}
				if m := mustType(t, r, "Int31").Elem; m.Digits != 31 || m.Scale != 0 {
					t.Errorf("Int31 = %+v", m)
				}
			}},
		{"any, Object, TypeCode, ValueBase, long double, unsigned types", `
			struct S { any a; Object o; CORBA::Object o2; TypeCode t; ::CORBA::TypeCode t2; ValueBase v;
				long double ld; unsigned short us; unsigned long ul; unsigned long long ull; long long ll;
				wchar wc; octet oc; boolean b; float f; };`,
			func(t *testing.T, r *Repository) {
				var kinds []Kind
				for _, m := range mustType(t, r, "S").Members {
					kinds = append(kinds, m.Type.Kind)
				}
				want := []Kind{giop.TkAny, giop.TkObjref, giop.TkObjref, giop.TkTypeCode, giop.TkTypeCode, giop.TkValue,
					giop.TkLongDouble, giop.TkUShort, giop.TkULong, giop.TkULongLong, giop.TkLongLong,
					giop.TkWChar, giop.TkOctet, giop.TkBoolean, giop.TkFloat}
				if !reflect.DeepEqual(kinds, want) {
					t.Errorf("kinds = %v", kinds)
				}
				if o := mustType(t, r, "S").Members[1].Type; o.RepoID != "IDL:omg.org/CORBA/Object:1.0" {
					t.Errorf("Object repo id %q", o.RepoID)
				}
			}},
		{"exceptions", `exception E {}; exception F { long code; string why; };`,
			func(t *testing.T, r *Repository) {
				if e := mustType(t, r, "E"); e.Kind != giop.TkExcept || len(e.Members) != 0 {
					t.Errorf("E = %+v", e)
				}
				if f := mustType(t, r, "F"); len(f.Members) != 2 || f.Members[1].Name != "why" {
					t.Errorf("F = %+v", f)
				}
			}},
		{"native", `module PS { native Servant; interface I { void f(in Servant s); }; };`,
			func(t *testing.T, r *Repository) {
				if n := mustType(t, r, "PS::Servant"); n.Kind != giop.TkNative {
					t.Errorf("Servant kind %v", n.Kind)
				}
			}},
		{"value types", `
			interface Shape { double area(); };
			abstract valuetype Printable { void print(); };
			valuetype Base { public long id; };
			valuetype Derived : truncatable Base, Printable supports Shape {
				public string name;
				private sequence<long> secret, other;
				factory create(in string name) ;
				void f();
			};
			custom valuetype Custom { private long x; };
			valuetype Later;
			valuetype Later { public Later next; };
			valuetype StringBox string;
			valuetype StructBox struct Inner { long x; };`,
			func(t *testing.T, r *Repository) {
				d := mustType(t, r, "Derived")
				if d.Kind != giop.TkValue || d.Base != mustType(t, r, "Base") {
					t.Errorf("Derived = %+v", d)
				}
				var got []string
				for _, m := range d.Members {
					got = append(got, m.Name)
					if (m.Name == "name") != m.Public {
						t.Errorf("member %s public=%v", m.Name, m.Public)
					}
				}
				if !reflect.DeepEqual(got, []string{"name", "secret", "other"}) {
					t.Errorf("members %v", got)
				}
				if l := mustType(t, r, "Later"); l.Members[0].Type != l {
					t.Error("Later.next is not Later")
				}
				if b := mustType(t, r, "StringBox"); b.Kind != giop.TkValueBox || b.Elem.Kind != giop.TkString {
					t.Errorf("StringBox = %+v", b)
				}
				if b := mustType(t, r, "StructBox"); b.Elem != mustType(t, r, "Inner") {
					t.Errorf("StructBox = %+v", b)
				}
				if p := mustType(t, r, "Printable"); p.Kind != giop.TkValue {
					t.Errorf("Printable kind %v", p.Kind)
				}
			}},
		{"typeprefix and typeid", `
			module M { typeprefix M "acme.com"; typedef long T; interface I {}; };
			module N { typedef long T; typeid T "IDL:special/T:2.0"; };`,
			func(t *testing.T, r *Repository) {
				if id := mustType(t, r, "M::T").RepoID; id != "IDL:acme.com/M/T:1.0" {
					t.Errorf("M::T id %q", id)
				}
				if id := mustIface(t, r, "M::I").RepoID; id != "IDL:acme.com/M/I:1.0" {
					t.Errorf("M::I id %q", id)
				}
				if id := mustType(t, r, "N::T").RepoID; id != "IDL:special/T:2.0" {
					t.Errorf("N::T id %q", id)
				}
				if _, ok := r.Type("IDL:special/T:2.0"); !ok {
					t.Error("lookup by typeid id failed")
				}
			}},
		{"escaped identifiers", `
			interface _interface { void _module(in long _in); };
			typedef long _Object;`,
			func(t *testing.T, r *Repository) {
				i := mustIface(t, r, "interface")
				if op := mustOp(t, i, "module"); op.Params[0].Name != "in" {
					t.Errorf("param %q", op.Params[0].Name)
				}
				mustType(t, r, "Object")
			}},
		{"CORBA 3 keywords as plain identifiers in older IDL", `
			typedef long home; struct component { home uses; long provides; };
			interface I { readonly attribute long primarykey; void multiple(in long emits); };`,
			func(t *testing.T, r *Repository) {
				if c := mustType(t, r, "component"); c.Members[0].Name != "uses" {
					t.Errorf("component = %+v", c)
				}
			}},
		{"names inherited from base interfaces", `
			interface B { typedef long T; exception X {}; const long K = 3; };
			interface D : B { T f() raises (X); typedef sequence<T, K> Ts; };
			typedef D::T DT;`,
			func(t *testing.T, r *Repository) {
				b := mustType(t, r, "B::T")
				if mustOp(t, mustIface(t, r, "D"), "f").Result != b || mustType(t, r, "DT").Elem != b {
					t.Error("D::T does not resolve to B::T")
				}
				if mustType(t, r, "D::Ts").Elem.Bound != 3 {
					t.Error("K not inherited")
				}
			}},
		{"inner scope shadows outer", `
			typedef long T;
			module M { typedef string T; struct S { T x; ::T y; }; };`,
			func(t *testing.T, r *Repository) {
				s := mustType(t, r, "M::S")
				if s.Members[0].Type != mustType(t, r, "M::T") || s.Members[1].Type != mustType(t, r, "T") {
					t.Error("shadowing wrong")
				}
			}},
		{"diamond inheritance", `
			interface A { void a(); attribute long x; };
			interface B : A { void b(); };
			interface C : A { void c(); };
			interface D : B, C { void d(); };`,
			func(t *testing.T, r *Repository) {
				d := mustIface(t, r, "D")
				var names []string
				for _, op := range d.AllOperations() {
					names = append(names, op.Name+"@"+op.Interface.Name)
				}
				want := []string{"d@D", "b@B", "a@A", "_get_x@A", "_set_x@A", "c@C"}
				if !reflect.DeepEqual(names, want) {
					t.Errorf("AllOperations = %v, want %v", names, want)
				}
				for _, id := range []string{"IDL:D:1.0", "IDL:B:1.0", "IDL:C:1.0", "IDL:A:1.0", "IDL:omg.org/CORBA/Object:1.0"} {
					if !d.IsA(id) {
						t.Errorf("D is not a %s", id)
					}
				}
				if d.IsA("IDL:E:1.0") || mustIface(t, r, "A").IsA("IDL:D:1.0") {
					t.Error("IsA too generous")
				}
				if op := mustOp(t, d, "_set_x"); op.Interface.Name != "A" {
					t.Errorf("_set_x declared in %s", op.Interface.Name)
				}
			}},
		{"preprocessor conditionals", `
			#define FEATURE 2
			#if defined(FEATURE) && FEATURE > 1
			typedef long A;
			#elif 1
			typedef long NotA;
			#else
			typedef long NotB;
			#endif
			#ifdef MISSING
			#error not reached
			#else
			typedef long B;
			#endif
			#ifndef FEATURE
			typedef long NotC;
			#endif
			#if 0
			this is not IDL at all ' " /*
			#endif
			#if !defined FEATURE || (FEATURE * 3 == 6 ? 1 : 0)
			typedef long C;
			#endif
			#undef FEATURE
			#ifdef FEATURE
			typedef long NotD;
			#endif`,
			func(t *testing.T, r *Repository) {
				for _, n := range []string{"A", "B", "C"} {
					mustType(t, r, n)
				}
				for _, n := range []string{"NotA", "NotB", "NotC", "NotD"} {
					if _, ok := r.Type(n); ok {
						t.Errorf("%s defined", n)
					}
				}
			}},
		{"object-like macros", `
			#define SIZE 4 * 2
			#define ELEM long
			typedef sequence<ELEM, SIZE> S;`,
			func(t *testing.T, r *Repository) {
				if s := mustType(t, r, "S").Elem; s.Bound != 8 || s.Elem.Kind != giop.TkLong {
					t.Errorf("S = %+v", s)
				}
			}},
		{"unknown pragmas are ignored", `
			#pragma hh #include "COS_sysdep.h"
			#pragma javaPackage "com.example"
			typedef long T;`,
			func(t *testing.T, r *Repository) { mustType(t, r, "T") }},
		{"comments everywhere", `
			/* block
			   comment */ typedef /* inline */ long // trailing
			T; // end`,
			func(t *testing.T, r *Repository) { mustType(t, r, "T") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, load(t, tc.src))
		})
	}
}

// TestConstExpressions covers literals and every operator of CORBA 3.0
// §7.9.2, checking the Go value doc.go prescribes for each type.
func TestConstExpressions(t *testing.T) {
	tests := []struct {
		src  string
		want any
	}{
		{"const long X = 1 + 2 * 3;", int32(7)},
		{"const long X = (1 + 2) * 3;", int32(9)},
		{"const long X = -5 / 2;", int32(-2)},
		{"const long X = -5 % 2;", int32(-1)},
		{"const long X = ~0;", int32(-1)},
		{"const long X = - - 3;", int32(3)},
		{"const long X = +3;", int32(3)},
		{"const unsigned long X = 0xFF ^ 0x0F;", uint32(0xF0)},
		{"const unsigned long X = 0xF0 & 0x3C | 1;", uint32(0x31)},
		{"const unsigned long long X = 1 << 63;", uint64(1 << 63)},
		{"const long X = 256 >> 4;", int32(16)},
		{"const long X = 017;", int32(15)},
		{"const long X = 0x7fffFFFF;", int32(math.MaxInt32)},
		{"const short X = -32768;", int16(-32768)},
		{"const unsigned short X = 65535;", uint16(65535)},
		{"const octet X = 255;", byte(255)},
		{"const long long X = -9223372036854775807 - 1;", int64(math.MinInt64)},
		{"const unsigned long long X = 18446744073709551615;", uint64(math.MaxUint64)},
		{"const float X = 1.5;", float32(1.5)},
		{"const double X = 1e3 * 2;", float64(2000)},
		{"const double X = .5 + 1.;", float64(1.5)},
		{"const long double X = 2.5E-1;", float64(0.25)},
		{"const char X = 'a';", byte('a')},
		{`const char X = '\n';`, byte('\n')},
		{`const char X = '\x41';`, byte('A')},
		{`const char X = '\101';`, byte('A')},
		{`const char X = '\'';`, byte('\'')},
		{`const wchar X = L'\u20AC';`, rune(0x20AC)},
		{`const wchar X = L'é';`, rune('é')},
		{`const string X = "a" "b\tc";`, "ab\tc"},
		{`const string X = "caf\xe9";`, "café"},
		{`const wstring X = L"w" L"\u00e9";`, "wé"},
		{`const string<3> X = "abc";`, "abc"},
		{"const boolean X = FALSE;", false},
		{"const boolean X = TRUE;", true},
		{"const fixed X = 1.50d;", "1.5"},
		{"const fixed X = 1.25d * 2;", "2.5"},
		{"const fixed X = -0.5D - 1;", "-1.5"},
		{"const fixed X = 1.0d / 3;", "0." + strings.Repeat("3", 31)},
		{"typedef fixed<5,2> F; const F X = 123.45d;", "123.45"},
		{"const long Y = 20; const long X = Y / 2 + ::Y;", int32(30)},
		{"module M { const short Y = 2; }; const long X = M::Y << M::Y;", int32(8)},
		{"enum E { A, B }; const E X = B;", "B"},
		{"typedef long L; typedef L L2; const L2 X = 3;", int32(3)},
		{"const char Y = 'q'; const char X = Y;", byte('q')},
		{"const wchar Y = L'q'; const wchar X = Y;", rune('q')},
		{"const double Y = 2; const double X = Y * 1.5;", float64(3)},
		{`const string Y = "s"; const string X = Y;`, "s"},
		{"const fixed Y = 1.5d; const fixed X = Y * 2;", "3"},
		// Found by FuzzParse (testdata/fuzz/FuzzParse/ef5d53da0c7a5774):
		// an integer initialising a fixed constant.
		{"const fixed X = 3;", "3"},
		{"const fixed X = -12;", "-12"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			r := load(t, tc.src)
			c, ok := r.Const("X")
			if !ok {
				t.Fatal("X not found")
			}
			if !reflect.DeepEqual(c.Value, tc.want) {
				t.Errorf("X = %#v (%T), want %#v (%T)", c.Value, c.Value, tc.want, tc.want)
			}
		})
	}
}

func TestFixedConstType(t *testing.T) {
	r := load(t, "const fixed X = 012.340d;")
	c, _ := r.Const("X")
	if c.Type.Kind != giop.TkFixed || c.Type.Digits != 4 || c.Type.Scale != 2 || c.Value != "12.34" {
		t.Errorf("X = %+v of fixed<%d,%d>", c, c.Type.Digits, c.Type.Scale)
	}
}

// TestErrors checks that errors carry file:line:col and say what was
// expected and what was found.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the whole "file:line:col: msg" prefix that must match
		is   error
	}{
		{"missing semicolon", "module M {\n  typedef long T\n};",
			`test.idl:3:1: expected ';' after the definition, found "}"`, ErrSyntax},
		{"missing brace", "module M {\n  typedef long T;\n",
			"test.idl:3:1: expected '}' closing module M (opened at test.idl:1:8), found end of file", ErrSyntax},
		{"keyword as name", "struct module { long x; };",
			`test.idl:1:8: expected a struct name, found keyword "module"`, ErrSyntax},
		{"undeclared type", "struct S {\n\tFoo x;\n};",
			"test.idl:2:2: Foo is not declared (looked up from struct S)", ErrUndeclared},
		{"undeclared scoped", "typedef long T;\ntypedef T::U V;",
			"test.idl:2:9: T is not a scope, so T::U cannot be resolved", ErrUndeclared},
		{"redefinition", "typedef long T;\nstruct T { long x; };",
			"test.idl:2:8: struct T: T is already declared in the global scope (at test.idl:1:14)", ErrRedefined},
		{"member redefinition", "struct S { long a; string a; };",
			"test.idl:1:27: a is already declared in struct S (as a member at test.idl:1:17)", ErrRedefined},
		{"duplicate label", "union U switch (long) {\n case 1: long a;\n case 1: long b;\n};",
			"test.idl:3:7: union U: case label 1 is already used at test.idl:2:7", ErrRedefined},
		{"label of the wrong enum", "enum A { X }; enum B { Y };\nunion U switch (A) { case Y: long a; };",
			"test.idl:2:27: case label Y is not an enumerator of A", ErrBadConst},
		{"bad discriminator", "union U switch (string) { case 1: long a; };",
			"test.idl:1:17: union U: a discriminator must be an integer, char, wchar, boolean, octet or enum type, not string", ErrSyntax},
		{"const out of range", "const short S = 40000;",
			"test.idl:1:17: 40000 is out of range for short (-32768..32767)", ErrBadConst},
		{"const type mismatch", `const long L = "x";`,
			`test.idl:1:16: a string ("x") is not a valid long value`, ErrBadConst},
		{"division by zero", "const long L = 1 / (2 - 2);",
			"test.idl:1:18: division by zero", ErrBadConst},
		{"shift too far", "const long long L = 1 << 64;",
			"test.idl:1:23: shift count 64 is outside 0..63", ErrBadConst},
		{"zero bound", "typedef sequence<long, 0> S;",
			"test.idl:1:24: a sequence bound must be a positive integer below 2^32, found 0", ErrBadConst},
		{"float operator", "const double D = 1.5 % 2;",
			"test.idl:1:22: operator % cannot be applied to floating-point values", ErrBadConst},
		{"string too long", `const string<2> S = "abc";`,
			"test.idl:1:21: string of 3 characters exceeds the bound 2 of string", ErrBadConst},
		{"fixed digits", "typedef fixed<32, 1> F;",
			"test.idl:1:14: fixed type has 32 digits; at most 31 are allowed", ErrBadConst},
		{"not a constant", "typedef long T;\nconst long L = T;",
			"test.idl:2:16: T is a type, not a constant", ErrBadConst},
		{"not a type", "const long K = 1;\ntypedef K T;",
			"test.idl:2:9: K is a constant, not a type", ErrSyntax},
		{"not an exception", "struct S { long x; };\ninterface I { void f() raises (S); };",
			"test.idl:2:32: raises lists S, which is not an exception", ErrSyntax},
		{"oneway with out", "interface I {\n  oneway void f(out long x);\n};",
			"test.idl:2:15: oneway operation f has out parameter x; only in parameters are allowed", ErrSyntax},
		{"oneway result", "interface I { oneway long f(); };",
			"test.idl:1:27: oneway operation f must return void", ErrSyntax},
		{"missing direction", "interface I { void f(long x); };",
			`test.idl:1:22: expected a parameter direction (in, out or inout), found keyword "long"`, ErrSyntax},
		{"anonymous struct in param", "interface I { void f(in struct S { long x; } s); };",
			"test.idl:1:25: a struct cannot be defined here; declare it first and use its name", ErrSyntax},
		{"inherit forward", "interface A;\ninterface B : A {};",
			"test.idl:2:15: interface B cannot inherit from A, which is only forward-declared", ErrSyntax},
		{"inherit non-interface", "struct A { long x; };\ninterface B : A {};",
			"test.idl:2:15: interface B cannot inherit from A, which is a type", ErrSyntax},
		{"interface redefined", "interface A {};\ninterface A {};",
			"test.idl:2:11: interface A is already defined at test.idl:1:11", ErrRedefined},
		{"unterminated string", "const string S = \"abc\n;",
			"test.idl:1:18: unterminated string literal", ErrSyntax},
		{"unterminated comment", "typedef long T; /* open",
			"test.idl:1:17: unterminated comment", ErrSyntax},
		{"bad character", "typedef long T; $",
			"test.idl:1:17: unexpected character '$'", ErrSyntax},
		{"bad octal", "const long L = 09;",
			`test.idl:1:16: malformed octal literal "09"`, ErrSyntax},
		{"wide char in narrow literal", "const char C = '€';",
			"test.idl:1:16: character literal '€' is not an ISO 8859-1 character (use a wide character L'…')", ErrSyntax},
		{"unknown directive", "#frobnicate\ntypedef long T;",
			"test.idl:1:1: unknown preprocessor directive #frobnicate", ErrPreprocessor},
		{"if without endif", "typedef long T;\n#ifdef X\ntypedef long U;",
			"test.idl:2:1: #if/#ifdef/#ifndef without #endif", ErrPreprocessor},
		{"endif without if", "#endif\n",
			"test.idl:1:1: #endif without #if", ErrPreprocessor},
		{"error directive", "#if 1\n#error stop here\n#endif",
			"test.idl:2:1: #error stop here", ErrPreprocessor},
		{"include not found", "#include \"nope.idl\"\n",
			`test.idl:1:1: #include "nope.idl": not found in "."`, ErrInclude},
		{"function-like macro", "#define F(x) x\ntypedef long F(1);",
			"test.idl:2:14: function-like macro F is not supported", ErrUnsupported},
		{"pragma ID of undeclared", "#pragma ID Nope \"IDL:x:1.0\"\n",
			"test.idl:1:1: #pragma ID names Nope, which is not declared", ErrUndeclared},
		{"pragma ID twice", "typedef long T;\n#pragma ID T \"IDL:a:1.0\"\n#pragma ID T \"IDL:b:1.0\"\n",
			`test.idl:3:1: #pragma ID: T already has repository id "IDL:a:1.0" (set at test.idl:2:1), not "IDL:b:1.0"`, ErrRedefined},
		{"malformed pragma version", "typedef long T;\n#pragma version T 1\n",
			`test.idl:2:1: #pragma version expects a name and major.minor, found "T 1"`, ErrPreprocessor},
		{"import", "import ::CORBA;",
			"test.idl:1:1: import declarations are not supported; use #include", ErrUnsupported},
		{"component", "component C {};",
			"test.idl:1:1: CORBA component IDL (component) is not supported", ErrUnsupported},
		{"home", "module M {\n  home H manages C {};\n};",
			"test.idl:2:3: CORBA component IDL (home) is not supported", ErrUnsupported},
		{"eventtype", "abstract eventtype E {};",
			"test.idl:1:10: CORBA component IDL (eventtype) is not supported", ErrUnsupported},
		{"interface inside interface", "interface I { interface J {}; };",
			"test.idl:1:15: interface declarations are not allowed inside interface I", ErrSyntax},
		{"empty file is fine but junk is not", "42",
			"test.idl:1:1: expected a definition (module, interface, valuetype, struct, union, enum, typedef, const, exception, native), found integer literal 42", ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := NewRepository().LoadSource("test.idl", []byte(tc.src), nil)
			if err == nil {
				t.Fatalf("no error for:\n%s", tc.src)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not a *SyntaxError", err, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
}

func TestSyntaxErrorFormat(t *testing.T) {
	e := &SyntaxError{File: "a/b.idl", Line: 3, Col: 7, Msg: "expected ';', found \"}\"", Err: ErrSyntax}
	if got := e.Error(); got != `a/b.idl:3:7: expected ';', found "}"` {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(e, ErrSyntax) {
		t.Error("does not unwrap to ErrSyntax")
	}
}

// TestFailedLoadLeavesRepositoryUnchanged: a unit is added whole or not
// at all.
func TestFailedLoadLeavesRepositoryUnchanged(t *testing.T) {
	r := load(t, "typedef long Keep;")
	err := r.LoadSource("bad.idl", []byte("typedef long Half; typedef Nope Broken;"), nil)
	if err == nil {
		t.Fatal("no error")
	}
	if _, ok := r.Type("Half"); ok {
		t.Error("definitions of a failed load were added")
	}
	if len(r.Types()) != 1 {
		t.Errorf("%d types", len(r.Types()))
	}
}
