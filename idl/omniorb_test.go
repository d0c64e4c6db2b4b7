package idl

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/internal/peers"
)

// omniORBIDLDir is where Debian's omniorb-idl package installs omniORB's
// IDL files.
const omniORBIDLDir = "/usr/share/idl/omniORB"

// omniORBOptions preprocess omniORB's IDL as omniidl does: it defines
// __OMNIIDL__, which several COS files test, and they include each other
// from the top directory and COS/.
var omniORBOptions = &Options{
	IncludePaths: []string{omniORBIDLDir, filepath.Join(omniORBIDLDir, "COS")},
	Defines:      []string{"__OMNIIDL__"},
}

// needOmniidl returns omniidl's path, skipping the test when it is not
// installed, or failing under CI / REQUESTAGENT_REQUIRE_INTEROP=1 so a
// missing install step cannot pass silently (as internal/peers does).
func needOmniidl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("omniidl")
	if err != nil {
		if peers.Required() {
			t.Fatalf("omniidl is not installed (run scripts/install-omniorb.sh): %v", err)
		}
		t.Skip("omniidl not installed; run `make test` or scripts/install-omniorb.sh")
	}
	return p
}

// omniORBIDLFiles lists every .idl file of the omniorb-idl package, with
// the same skip-or-fail rule.
func omniORBIDLFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(omniORBIDLDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".idl") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil || len(files) == 0 {
		if peers.Required() {
			t.Fatalf("omniORB IDL files not found in %s (install omniorb-idl): %v", omniORBIDLDir, err)
		}
		t.Skipf("omniORB IDL files not found in %s (install omniorb-idl)", omniORBIDLDir)
	}
	sort.Strings(files)
	return files
}

// runOmniidl runs omniidl -bcxx -Wba on file in a temporary directory and
// returns the repository ids in the generated C++ (the _PD_repoId values
// of interfaces and the ids in the type codes -Wba adds), or the error
// output.
func runOmniidl(t *testing.T, omniidl, file string, opts *Options, extra ...string) (map[string]bool, string, error) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-bcxx", "-Wba"}
	args = append(args, extra...)
	if opts != nil {
		for _, p := range opts.IncludePaths {
			// omniidl runs in the temporary directory.
			abs, err := filepath.Abs(p)
			if err != nil {
				t.Fatal(err)
			}
			args = append(args, "-I"+abs)
		}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(omniidl, append(args, abs)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, string(out), err
	}
	ids := map[string]bool{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range repoIDString.FindAllSubmatch(src, -1) {
			ids[string(m[1])] = true
		}
	}
	return ids, string(out), nil
}

var repoIDString = regexp.MustCompile(`"(IDL:[^"]*)"`)

// TestOmniORBIDLFilesParse parses every IDL file omniORB ships. A few of
// them are broken as shipped (they include an IOP.idl that is not in the
// package, or use CORBA::ServiceOption and CORBA::Environment, which no
// omniORB IDL declares); those must be rejected by omniidl too.
func TestOmniORBIDLFilesParse(t *testing.T) {
	files := omniORBIDLFiles(t)
	var failed []string
	parsed := 0
	for _, f := range files {
		r := NewRepository()
		err := r.LoadFile(f, omniORBOptions)
		if err == nil {
			parsed++
			continue
		}
		rel, _ := filepath.Rel(omniORBIDLDir, f)
		failed = append(failed, rel)
		omniidl := needOmniidl(t)
		if _, out, oerr := runOmniidl(t, omniidl, f, omniORBOptions); oerr == nil {
			t.Errorf("%s: we reject it but omniidl accepts it: %v", rel, err)
		} else {
			t.Logf("%s: rejected, as omniidl does:\n\tours:    %v\n\tomniidl: %s", rel, err, firstLine(out))
		}
	}
	t.Logf("omniORB IDL files: %d, parsed %d, rejected %d (also rejected by omniidl): %s",
		len(files), parsed, len(failed), strings.Join(failed, ", "))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// omniORBSample are the files whose repository ids are compared with
// omniidl's in -short runs; between them they cover #pragma prefix
// (most files), #pragma ID (bootstrap.idl), #pragma version (poa.idl),
// nested modules and interfaces, value boxes and exceptions in
// interfaces. Without -short every file omniidl accepts is compared.
var omniORBSample = []string{
	"Naming.idl", "bootstrap.idl", "boxes.idl", "poa.idl", "ir.idl", "messaging.idl", "ziop.idl",
	"COS/CosNaming.idl", "COS/CosNotification.idl", "COS/CosEventChannelAdmin.idl",
	"COS/TimeBase.idl", "COS/CosTrading.idl", "COS/RDITestTypes.idl",
}

// TestOmniORBRepoIDsMatchOmniidl: every repository id omniidl writes into
// the C++ it generates for a file is the id we compute for that type or
// interface.
func TestOmniORBRepoIDsMatchOmniidl(t *testing.T) {
	omniidl := needOmniidl(t)
	files := omniORBIDLFiles(t)
	if testing.Short() {
		files = files[:0]
		for _, f := range omniORBSample {
			files = append(files, filepath.Join(omniORBIDLDir, f))
		}
	}
	total, compared := 0, 0
	for _, f := range files {
		rel, _ := filepath.Rel(omniORBIDLDir, f)
		r := NewRepository()
		if err := r.LoadFile(f, omniORBOptions); err != nil {
			continue // broken as shipped; TestOmniORBIDLFilesParse covers it
		}
		ids, out, err := runOmniidl(t, omniidl, f, omniORBOptions)
		if err != nil {
			t.Errorf("%s: omniidl rejects a file we accept: %s", rel, out)
			continue
		}
		ours := map[string]bool{}
		for _, ty := range r.Types() {
			ours[ty.RepoID] = true
		}
		for _, i := range r.Interfaces() {
			ours[i.RepoID] = true
		}
		for id := range ids {
			if !ours[id] {
				t.Errorf("%s: omniidl writes %s, which none of our types has", rel, id)
			}
		}
		compared++
		total += len(ids)
	}
	t.Logf("compared %d repository ids from %d files with omniidl's", total, compared)
	if compared == 0 {
		t.Error("nothing compared")
	}
}

// TestSampleRepoIDs pins a few well-known ids, so a regression shows
// even without omniidl.
func TestSampleRepoIDs(t *testing.T) {
	omniORBIDLFiles(t)
	r := NewRepository()
	for _, f := range []string{"COS/CosNaming.idl", "poa.idl", "bootstrap.idl", "boxes.idl"} {
		if err := r.LoadFile(filepath.Join(omniORBIDLDir, f), omniORBOptions); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{
		"CosNaming::NamingContext":           "IDL:omg.org/CosNaming/NamingContext:1.0",
		"CosNaming::NamingContext::NotFound": "IDL:omg.org/CosNaming/NamingContext/NotFound:1.0",
		"CosNaming::NamingContextExt":        "IDL:omg.org/CosNaming/NamingContextExt:1.0",
		"CosNaming::Name":                    "IDL:omg.org/CosNaming/Name:1.0",
		"CosNaming::BindingType":             "IDL:omg.org/CosNaming/BindingType:1.0",
		"PortableServer::ServantManager":     "IDL:omg.org/PortableServer/ServantManager:2.3",
		"PortableServer::POA":                "IDL:omg.org/PortableServer/POA:1.0",
		"PortableServer::ForwardRequest":     "IDL:omg.org/PortableServer/ForwardRequest:2.3",
		"CORBA_InitialReferences":            "omg.org/CORBA/InitialReferences:1.0",
		"CORBA::StringValue":                 "IDL:omg.org/CORBA/StringValue:1.0",
		"PortableServer::ServantLocator":     "IDL:omg.org/PortableServer/ServantLocator:2.3",
	} {
		ty, ok := r.Type(name)
		if !ok {
			t.Errorf("%s not found", name)
			continue
		}
		if ty.RepoID != want {
			t.Errorf("%s: %q, want %q", name, ty.RepoID, want)
		}
	}
	nc := mustIface(t, r, "IDL:omg.org/CosNaming/NamingContextExt:1.0")
	if op := mustOp(t, nc, "resolve"); op.Interface.Name != "CosNaming::NamingContext" {
		t.Errorf("resolve declared in %s", op.Interface.Name)
	}
	if !nc.IsA("IDL:omg.org/CosNaming/NamingContext:1.0") {
		t.Error("NamingContextExt is not a NamingContext")
	}
}

// TestPragmaRepoIDsMatchOmniidl checks the pragma fixture against
// omniidl itself (-Wbinline generates the included file's types too).
func TestPragmaRepoIDsMatchOmniidl(t *testing.T) {
	omniidl := needOmniidl(t)
	ids, out, err := runOmniidl(t, omniidl, "testdata/pragmas.idl", nil, "-Wbinline")
	if err != nil {
		t.Fatalf("omniidl: %v\n%s", err, out)
	}
	want := map[string]bool{}
	for _, id := range pragmaIDs {
		if strings.HasPrefix(id, "IDL:") {
			want[id] = true
		}
	}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("omniidl ids %v\nours %v", keys(ids), keys(want))
	}
}

// TestFixturesAcceptedByOmniidl keeps the fixtures valid IDL.
func TestFixturesAcceptedByOmniidl(t *testing.T) {
	omniidl := needOmniidl(t)
	r := NewRepository()
	if err := r.LoadFile("testdata/demo.idl", nil); err != nil {
		t.Fatal(err)
	}
	ids, out, err := runOmniidl(t, omniidl, "testdata/demo.idl", nil)
	if err != nil {
		t.Fatalf("omniidl: %v\n%s", err, out)
	}
	for id := range ids {
		if _, ok := r.Type(id); !ok {
			t.Errorf("omniidl writes %s, which none of our types has", id)
		}
	}
	if _, out, err := runOmniidl(t, omniidl, "testdata/include/twice.idl", includeOpts); err != nil {
		t.Errorf("twice.idl: %v\n%s", err, out)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
