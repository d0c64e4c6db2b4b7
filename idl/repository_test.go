package idl

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// pragmaIDs are the repository ids omniidl 4.2 writes for
// testdata/pragmas.idl (with -Wba -Wbinline), keyed by scoped name.
// CORBA 3.0 §10.7.5: a prefix applies to the names below the scope it
// was set in, ends with that scope or file, and starts empty in an
// included file.
var pragmaIDs = map[string]string{
	"IncT":       "IDL:IncT:1.0",
	"IncT2":      "IDL:incp/IncT2:1.0",
	"AfterInc":   "IDL:top/AfterInc:1.0",
	"M1::T1":     "IDL:top/M1/T1:1.0",
	"M1::T2":     "DCE:abc:1",
	"M2::M3::T3": "IDL:P2/T3:1.0",
	"M2::M3::I3": "IDL:P2/I3:1.0",
	// Nested in an interface, with the prefix of the enclosing module.
	"M2::M3::I3::T33": "IDL:P2/I3/T33:1.0",
	"M2::T4":          "IDL:P1/M2/T4:2.4",
	"M2::I4":          "IDL:P1/M2/I4:1.0",
	"A::TA":           "IDL:TA:1.0",
	"A::B::TB":        "IDL:B/TB:1.0",
	"A::TA2":          "IDL:P1/A/TA2:1.0",
	"Global":          "IDL:P1/Global:1.0",
	"Fwd":             "IDL:fwd:2.0",
	"Fwd::InFwd":      "IDL:P1/Fwd/InFwd:1.0",
	"F::T":            "IDL:custom/FT:3.0",
	"F::T2":           "IDL:P1/F/T2:1.0",
}

func TestPragmaRepoIDs(t *testing.T) {
	r := NewRepository()
	if err := r.LoadFile("testdata/pragmas.idl", nil); err != nil {
		t.Fatal(err)
	}
	for name, want := range pragmaIDs {
		ty, ok := r.Type(name)
		if !ok {
			t.Errorf("%s not found", name)
			continue
		}
		if ty.RepoID != want {
			t.Errorf("%s: repo id %q, want %q", name, ty.RepoID, want)
		}
		if byID, _ := r.Type(want); byID != ty {
			t.Errorf("lookup by %q does not find %s", want, name)
		}
	}
	if i := mustIface(t, r, "IDL:fwd:2.0"); i.Name != "Fwd" {
		t.Errorf("interface by id: %s", i.Name)
	}
}

// TestIncludeInsideModuleRepoID: a file included inside a module starts
// with an empty prefix relative to that module (as omniidl does).
func TestIncludeInsideModuleRepoID(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "inc2.idl"), []byte("typedef long InInc;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "c.idl")
	if err := os.WriteFile(main, []byte("#pragma prefix \"Q\"\nmodule M {\n#include \"inc2.idl\"\ntypedef long After;\n};\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewRepository()
	if err := r.LoadFile(main, nil); err != nil {
		t.Fatal(err)
	}
	if id := mustType(t, r, "M::InInc").RepoID; id != "IDL:InInc:1.0" {
		t.Errorf("M::InInc: %q", id)
	}
	if id := mustType(t, r, "M::After").RepoID; id != "IDL:Q/M/After:1.0" {
		t.Errorf("M::After: %q", id)
	}
}

// TestDemoFixture exercises the repository on the struct/union/sequence/
// any-heavy fixture.
func TestDemoFixture(t *testing.T) {
	r := NewRepository()
	if err := r.LoadFile("testdata/demo.idl", nil); err != nil {
		t.Fatal(err)
	}
	rec := mustType(t, r, "Demo::Record")
	if rec.RepoID != "IDL:example.com/Demo/Record:1.0" {
		t.Errorf("Record id %q", rec.RepoID)
	}
	if byID := mustType(t, r, "IDL:example.com/Demo/Record:1.0"); byID != rec {
		t.Error("lookup by id differs from lookup by name")
	}
	var names []string
	for _, m := range rec.Members {
		names = append(names, m.Name)
	}
	want := []string{"where", "outline_shape", "any_value", "extra", "data", "tags", "grid", "label", "cost", "paths", "ref"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("Record members %v", names)
	}
	echo := mustIface(t, r, "Demo::Echo")
	if echo.RepoID != "IDL:example.com/Demo/Echo:1.0" || echo.Type.RepoID != echo.RepoID || mustType(t, r, "Demo::Echo") != echo.Type {
		t.Errorf("Echo ids %q %q", echo.RepoID, echo.Type.RepoID)
	}
	op := mustOp(t, echo, "echo_record")
	if op.Result != rec || op.Params[1].Dir != Out || op.Params[2].Dir != InOut || op.Raises[0] != mustType(t, r, "Demo::Oops") {
		t.Errorf("echo_record = %+v", op)
	}
	if ping := mustOp(t, echo, "ping"); ping.Interface != mustIface(t, r, "Demo::Base") {
		t.Error("ping not inherited from Base")
	}
	if get := mustOp(t, echo, "_get_name"); get.Interface.Name != "Demo::Base" || get.Result.Kind != giop.TkString {
		t.Errorf("_get_name = %+v", get)
	}
	both := mustIface(t, r, "Demo::Both")
	if !both.IsA("IDL:example.com/Demo/Base:1.0") || !both.IsA("IDL:example.com/Demo/Other:1.0") {
		t.Error("Both IsA")
	}
	if _, ok := both.Operation("nope"); ok {
		t.Error("found a missing operation")
	}
	for _, tc := range []struct {
		name string
		want any
	}{
		{"Demo::MAX_ITEMS", int32(100)},
		{"Demo::MASK", uint32(0x1F)},
		{"Demo::GREETING", "hello, world"},
		{"Demo::DEFAULT_COLOR", "GREEN"},
		{"Demo::PRICE", "12.5"},
		{"Demo::RATIO", float64(50)},
		{"Demo::SEP", byte(',')},
		{"Demo::WSEP", rune(0xe9)},
		{"::Demo::ENABLED", true},
		{"Demo::BLUE", "BLUE"},
	} {
		c, ok := r.Const(tc.name)
		if !ok || !reflect.DeepEqual(c.Value, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.name, c.Value, tc.want)
		}
	}
	if c, _ := r.Const("Demo::PRICE"); c.Type != mustType(t, r, "Demo::Money") {
		t.Errorf("PRICE type %v", c.Type)
	}
	if n := len(r.Interfaces()); n != 4 {
		t.Errorf("%d interfaces", n)
	}
	if _, ok := r.Type("Demo::Nope"); ok {
		t.Error("found a missing type")
	}
	if _, ok := r.Interface("IDL:nope:1.0"); ok {
		t.Error("found a missing interface")
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.idl":      "#include <common.idl>\nmodule A { typedef Common::T T; };\n",
		"b.idl":      "#include \"common.idl\"\nmodule B { interface I { Common::T f(); }; };\n",
		"bad.idl":    "module Bad { typedef Nope T; };\n",
		"common.idl": "#ifndef COMMON\n#define COMMON\nmodule Common { typedef long T; };\n#endif\n",
		"notes.txt":  "not IDL",
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := NewRepository()
	err := r.LoadDir(dir, nil)
	var se *SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, ErrUndeclared) || se.File != filepath.Join(dir, "bad.idl") {
		t.Fatalf("err = %v", err)
	}
	mustType(t, r, "A::T")
	mustIface(t, r, "B::I")
	if _, ok := r.Type("Bad::T"); ok {
		t.Error("bad.idl was half loaded")
	}
	// common.idl is loaded three times (itself and by a and b); the
	// repository keeps one Common::T.
	n := 0
	for _, ty := range r.Types() {
		if ty.Name == "Common::T" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("Common::T listed %d times", n)
	}
	if err := NewRepository().LoadDir(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("no error for a missing directory")
	}
}

func TestLoadFileMissing(t *testing.T) {
	err := NewRepository().LoadFile("testdata/no-such.idl", nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

// TestRepositoryConcurrentUse: lookups may run while files load.
func TestRepositoryConcurrentUse(t *testing.T) {
	r := NewRepository()
	if err := r.LoadFile("testdata/demo.idl", nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, ok := r.Type("Demo::Record"); !ok {
					t.Error("Record vanished")
					return
				}
				r.Interfaces()
				r.Types()
				r.Const("Demo::MASK")
				if i, ok := r.Interface("Demo::Both"); ok {
					i.AllOperations()
					i.IsA("IDL:example.com/Demo/Base:1.0")
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		if err := r.LoadFile("testdata/pragmas.idl", nil); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

// TestInterfaceMethodsOnHandBuiltInterfaces: the methods only need the
// exported fields, so marshaller tests can build interfaces by hand.
func TestInterfaceMethodsOnHandBuiltInterfaces(t *testing.T) {
	base := &Interface{Name: "B", RepoID: "IDL:B:1.0",
		Attributes: []*Attribute{{Name: "a", Type: basicTypes[giop.TkLong]}}}
	d := &Interface{Name: "D", RepoID: "IDL:D:1.0", Bases: []*Interface{base},
		Operations: []*Operation{{Name: "f", Result: basicTypes[giop.TkVoid]}}}
	d.Operations[0].Interface = d
	if op, ok := d.Operation("_set_a"); !ok || op.Interface != base || op.Params[0].Type.Kind != giop.TkLong {
		t.Errorf("_set_a = %+v", op)
	}
	if ops := d.AllOperations(); len(ops) != 3 {
		t.Errorf("%d operations", len(ops))
	}
	if !d.IsA("IDL:B:1.0") || d.IsA("IDL:X:1.0") {
		t.Error("IsA")
	}
}
