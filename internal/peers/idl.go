package peers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The idl package's round-trip peers (testdata/idl: rt_server, rt_client)
// are built like the interop peers, by testdata/idl/build.sh, into
// build/idlpeers at the repository root, or into idlpeers next to
// $REQUESTAGENT_PEERS when that is set. The skip/fail rule is Dir's.

var (
	idlOnce sync.Once
	idlDir  string
	idlErr  error
)

// IDLDir builds the idl round-trip peers if needed and returns the
// directory holding them. Without omniORB it skips the test, or fails it
// under CI or REQUESTAGENT_REQUIRE_INTEROP=1.
func IDLDir(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("omniidl"); err != nil {
		if Required() {
			t.Fatalf("omniORB is not installed (run scripts/install-omniorb.sh): %v", err)
		}
		t.Skip("omniORB not installed; run `make test` or scripts/install-omniorb.sh")
	}
	idlOnce.Do(func() {
		if p := os.Getenv("REQUESTAGENT_PEERS"); p != "" {
			idlDir = filepath.Join(filepath.Dir(filepath.Clean(p)), "idlpeers")
		} else {
			idlDir = filepath.Join(RepoRoot(), "build", "idlpeers")
		}
		cmd := exec.Command(filepath.Join(RepoRoot(), "testdata", "idl", "build.sh"), idlDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			idlErr = fmt.Errorf("building idl peers: %v\n%s", err, out)
		}
	})
	if idlErr != nil {
		t.Fatal(idlErr)
	}
	return idlDir
}

// StartIDL runs the idl round-trip peer name with args (see StartIn).
func StartIDL(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return StartIn(t, IDLDir(t), name, args...)
}
