package idl

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// fuzzFS is the only file system the fuzzer's includes can reach: a
// guarded file, an unguarded self-including one and a #pragma once file.
var fuzzFS = fstest.MapFS{
	"guarded.idl": {Data: []byte("#ifndef G\n#define G\n#include \"guarded.idl\"\nmodule G { typedef long T; };\n#endif\n")},
	"self.idl":    {Data: []byte("#include \"self.idl\"\n")},
	"once.idl":    {Data: []byte("#pragma once\n#pragma prefix \"p\"\nmodule O { struct S { long x; }; };\n")},
	"inc/x.idl":   {Data: []byte("module X { interface I { void f(); }; };\n")},
}

// FuzzParse: arbitrary source must produce a repository or an error,
// never a panic or a hang.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/demo.idl", "testdata/pragmas.idl", "NativeMessaging.idl"} {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	for _, s := range []string{
		"#include \"guarded.idl\"\n#include <guarded.idl>\ntypedef G::T U;",
		"#include \"self.idl\"",
		"#include \"once.idl\"\n#include \"once.idl\"\n",
		"#include <x.idl>\ninterface J : X::I { attribute long a; };",
		"const long X = ((1 << 3) | ~2) % 5;",
		"union U switch (char) { case 'a': long a; default: string s; };",
		"valuetype V : truncatable W supports I { public long x; factory f(in long y); };",
		"#if defined(A) || B > 2\n#elif 1\n#else\n#endif",
		"typedef sequence<sequence<long, 2>> S; typedef fixed<5,2> F; const fixed C = 1.5d * 2;",
		"module M { typeprefix M \"x\"; typeid M \"IDL:y:1.0\"; };",
		strings.Repeat("(", 300),
	} {
		f.Add(s)
	}
	opts := &Options{FS: fuzzFS, IncludePaths: []string{"inc"}}
	f.Fuzz(func(t *testing.T, src string) {
		r := NewRepository()
		err := r.LoadSource("fuzz.idl", []byte(src), opts)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) && (se.Line < 1 || se.Col < 1) {
				t.Errorf("error without a position: %v", err)
			}
			return
		}
		// Whatever parsed must be usable.
		for _, i := range r.Interfaces() {
			for _, op := range i.AllOperations() {
				i.Operation(op.Name)
			}
			i.IsA(i.RepoID)
		}
		for _, ty := range r.Types() {
			if ty.RepoID == "" {
				t.Errorf("type %s has no repository id", ty.Name)
			}
		}
	})
}

// TestDeepNesting: nesting far beyond any real IDL fails fast with
// ErrTooDeep instead of exhausting the stack.
func TestDeepNesting(t *testing.T) {
	const n = 10000
	tests := map[string]string{
		"parentheses":  "const long X = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + ";",
		"unclosed (":   "const long X = " + strings.Repeat("(", n),
		"unary minus":  "const long X = " + strings.Repeat("-", n) + "1;",
		"modules":      strings.Repeat("module M { ", n) + "typedef long T;" + strings.Repeat(" };", n),
		"structs":      strings.Repeat("struct S { ", n) + "long x;" + strings.Repeat(" } s;", n),
		"sequences":    "typedef " + strings.Repeat("sequence<", n) + "long" + strings.Repeat(">", n) + " T;",
		"arrays":       "typedef long A" + strings.Repeat("[1]", n) + ";",
		"#if parens":   strings.Repeat("#if ", 1) + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "\n#endif\n",
		"#if unary":    "#if " + strings.Repeat("!", n) + "1\n#endif\n",
		"scoped names": "typedef " + strings.Repeat("A::", n) + "T X;",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := NewRepository().LoadSource("deep.idl", []byte(src), nil)
			if !errors.Is(err, ErrTooDeep) {
				t.Errorf("err = %v, want ErrTooDeep", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	// Many sibling conditionals are not nesting: 10,000 #ifs are fine.
	src := strings.Repeat("#if 1\n", n) + "typedef long T;\n" + strings.Repeat("#endif\n", n)
	if err := NewRepository().LoadSource("ifs.idl", []byte(src), nil); err != nil {
		t.Errorf("nested #ifs: %v", err)
	}
}

// TestLongInheritanceChain: names inherited through a long chain of
// interfaces are found without walking the chain for every use.
func TestLongInheritanceChain(t *testing.T) {
	const n = 5000
	var b strings.Builder
	b.WriteString("typedef long T;\ninterface I0 { T f0(); };\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "interface I%d : I%d { T f%d(); };\n", i, i-1, i)
	}
	start := time.Now()
	r := NewRepository()
	if err := r.LoadSource("chain.idl", []byte(b.String()), nil); err != nil {
		t.Fatal(err)
	}
	last := mustIface(t, r, fmt.Sprintf("I%d", n-1))
	if len(last.AllOperations()) != n || !last.IsA("IDL:I0:1.0") {
		t.Error("inheritance chain incomplete")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}
