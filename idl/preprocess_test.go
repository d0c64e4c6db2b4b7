package idl

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var includeOpts = &Options{IncludePaths: []string{"testdata/include"}}

func TestIncludeGuardsAndPragmaOnce(t *testing.T) {
	r := NewRepository()
	if err := r.LoadFile("testdata/include/twice.idl", includeOpts); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"Once::T", "GA::T", "GB::T", "T2", "T3"} {
		mustType(t, r, n)
	}
}

// TestIncludeGuardedCycle: two guarded files including each other is
// legal; the guard stops the recursion.
func TestIncludeGuardedCycle(t *testing.T) {
	r := NewRepository()
	if err := r.LoadFile("testdata/include/guard_a.idl", nil); err != nil {
		t.Fatal(err)
	}
	mustType(t, r, "GA::T")
	mustType(t, r, "GB::T")
}

func TestIncludeCycleIsAnError(t *testing.T) {
	start := time.Now()
	err := NewRepository().LoadFile("testdata/include/cycle_a.idl", nil)
	if !errors.Is(err, ErrIncludeCycle) {
		t.Fatalf("err = %v, want ErrIncludeCycle", err)
	}
	want := `testdata/include/cycle_b.idl:1:1: recursive #include of cycle_a.idl without include guard: testdata/include/cycle_a.idl -> testdata/include/cycle_b.idl -> testdata/include/cycle_a.idl -> testdata/include/cycle_b.idl -> testdata/include/cycle_a.idl`
	if err.Error() != want {
		t.Errorf("err =\n %v\nwant\n %s", err, want)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestIncludeSelf(t *testing.T) {
	fsys := fstest.MapFS{"self.idl": {Data: []byte("#include \"self.idl\"\ntypedef long T;\n")}}
	err := NewRepository().LoadFile("self.idl", &Options{FS: fsys})
	if !errors.Is(err, ErrIncludeCycle) {
		t.Fatalf("err = %v, want ErrIncludeCycle", err)
	}
}

// TestIncludeDepthLimit: a chain of distinct files deeper than 64 is
// refused.
func TestIncludeDepthLimit(t *testing.T) {
	fsys := fstest.MapFS{}
	for i := 0; i < 100; i++ {
		fsys[fmt.Sprintf("d%d.idl", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("#include \"d%d.idl\"\n", i+1))}
	}
	fsys["d100.idl"] = &fstest.MapFile{Data: []byte("typedef long T;\n")}
	err := NewRepository().LoadFile("d0.idl", &Options{FS: fsys})
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("err = %v, want ErrTooDeep", err)
	}
	if !strings.HasPrefix(err.Error(), "d63.idl:1:1: #include \"d64.idl\" nests more than 64 files deep") {
		t.Errorf("err = %v", err)
	}
	// 64 levels are fine.
	fsys["d63.idl"] = &fstest.MapFile{Data: []byte("typedef long T;\n")}
	if err := NewRepository().LoadFile("d0.idl", &Options{FS: fsys}); err != nil {
		t.Errorf("64 levels: %v", err)
	}
}

// TestIncludeExplosion: unguarded files each including the next twice
// would take 2^40 inclusions; the total is capped.
func TestIncludeExplosion(t *testing.T) {
	fsys := fstest.MapFS{}
	for i := 0; i < 40; i++ {
		fsys[fmt.Sprintf("e%d.idl", i)] = &fstest.MapFile{Data: []byte(fmt.Sprintf("#include \"e%d.idl\"\n#include \"e%d.idl\"\n", i+1, i+1))}
	}
	fsys["e40.idl"] = &fstest.MapFile{Data: []byte("// empty\n")}
	start := time.Now()
	err := NewRepository().LoadFile("e0.idl", &Options{FS: fsys})
	if !errors.Is(err, ErrInclude) || !strings.Contains(err.Error(), "more than 10000 #includes") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestIncludeSearchOrder: "x" looks beside the including file first, <x>
// only in the include paths.
func TestIncludeSearchOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"src/main.idl": {Data: []byte("#include \"x.idl\"\n#include <y.idl>\ntypedef X::T A; typedef Y::T B;\n")},
		"src/x.idl":    {Data: []byte("module X { typedef long T; };\n")},
		"inc/x.idl":    {Data: []byte("module X { typedef string T; };\n")},
		"inc/y.idl":    {Data: []byte("module Y { typedef short T; };\n")},
		"src/y.idl":    {Data: []byte("module Y { typedef string T; };\n")},
		"src/only.idl": {Data: []byte("#include <x.idl>\n")},
		"src/sib.idl":  {Data: []byte("#include <main2.idl>\n")},
	}
	r := NewRepository()
	if err := r.LoadFile("src/main.idl", &Options{FS: fsys, IncludePaths: []string{"inc"}}); err != nil {
		t.Fatal(err)
	}
	if k := stripAlias(mustType(t, r, "A")).Kind; k.String() != "long" {
		t.Errorf("\"x.idl\" found the include path's copy (%v)", k)
	}
	if k := stripAlias(mustType(t, r, "B")).Kind; k.String() != "short" {
		t.Errorf("<y.idl> found the sibling (%v)", k)
	}
	err := NewRepository().LoadFile("src/sib.idl", &Options{FS: fsys, IncludePaths: []string{"inc"}})
	if !errors.Is(err, ErrInclude) || !strings.Contains(err.Error(), `#include "main2.idl": not found in "inc"`) {
		t.Errorf("err = %v", err)
	}
}

func TestIncludeNonRegularFile(t *testing.T) {
	err := NewRepository().LoadSource("dev.idl", []byte("#include \"/dev/zero\"\n"), nil)
	if !errors.Is(err, ErrInclude) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("err = %v", err)
	}
}

// TestIncludedFilePositions: errors and line counts are per file.
func TestIncludedFilePositions(t *testing.T) {
	fsys := fstest.MapFS{
		"main.idl": {Data: []byte("// line 1\n/* line 2\n   line 3 */\n#include \"inc.idl\"\n#define X \\\n  continued\n\ntypedef long Y\n")},
		"inc.idl":  {Data: []byte("\n\n  typedef long Ok;\n")},
	}
	err := NewRepository().LoadFile("main.idl", &Options{FS: fsys})
	if err == nil || err.Error() != "main.idl:9:1: expected ';' after the definition, found end of file" {
		t.Errorf("err = %v", err)
	}
	fsys["inc.idl"] = &fstest.MapFile{Data: []byte("\n\n  typedef long ;\n")}
	err = NewRepository().LoadFile("main.idl", &Options{FS: fsys})
	if err == nil || err.Error() != `inc.idl:3:16: expected a type name, found ";"` {
		t.Errorf("err = %v", err)
	}
}

func TestIncludeUnbalancedScope(t *testing.T) {
	fsys := fstest.MapFS{
		"main.idl": {Data: []byte("#include \"open.idl\"\n};\n")},
		"open.idl": {Data: []byte("module M {\n  typedef long T;\n")},
	}
	err := NewRepository().LoadFile("main.idl", &Options{FS: fsys})
	if err == nil || !strings.Contains(err.Error(), "included file ends inside module M, which it opened") {
		t.Errorf("err = %v", err)
	}
}

func TestDefinesOption(t *testing.T) {
	src := "#if defined(FOO) && BAR == 3\ntypedef long Yes;\n#endif\ntypedef sequence<long, BAR> S;\n"
	r := NewRepository()
	if err := r.LoadSource("d.idl", []byte(src), &Options{Defines: []string{"FOO", "BAR=3"}}); err != nil {
		t.Fatal(err)
	}
	mustType(t, r, "Yes")
	if b := mustType(t, r, "S").Elem.Bound; b != 3 {
		t.Errorf("bound %d", b)
	}
	if err := NewRepository().LoadSource("d.idl", nil, &Options{Defines: []string{"1BAD"}}); !errors.Is(err, ErrPreprocessor) {
		t.Errorf("bad define: %v", err)
	}
}

func TestMacroRecursionTerminates(t *testing.T) {
	src := "#define A B\n#define B A\ntypedef long A;\n"
	r := NewRepository()
	if err := r.LoadSource("m.idl", []byte(src), nil); err != nil {
		t.Fatal(err)
	}
	// A expands to B, whose expansion would be A again: stops at A, as
	// in C.
	mustType(t, r, "A")

	var b strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "#define M%d M%d M%d\n", i, i+1, i+1)
	}
	b.WriteString("typedef long M0;\n")
	err := NewRepository().LoadSource("m.idl", []byte(b.String()), nil)
	if !errors.Is(err, ErrTooDeep) {
		t.Errorf("exponential macro: %v", err)
	}
}
