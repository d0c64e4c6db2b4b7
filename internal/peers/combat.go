package peers

import (
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Combat (Debian tcl-combat) is a second ORB for the interop tests: a CORBA
// ORB in pure Tcl whose GIOP stack shares nothing with omniORB. Its peers
// are Tcl scripts in testdata/combat, run with tclsh; `make test` installs
// it (scripts/install-combat.sh). Like omniORB, a missing Combat skips the
// tests on a developer's machine and fails them under CI or
// REQUESTAGENT_REQUIRE_INTEROP=1.

var (
	combatOnce  sync.Once
	combatTclsh string
	combatErr   error
)

// combatTclshPath returns tclsh once `package require combat` works in it.
func combatTclshPath() (string, error) {
	combatOnce.Do(func() {
		combatTclsh, combatErr = exec.LookPath("tclsh")
		if combatErr != nil {
			return
		}
		cmd := exec.Command(combatTclsh)
		cmd.Stdin = strings.NewReader("puts [package require combat]\n")
		out, err := cmd.CombinedOutput()
		if err != nil {
			combatErr = &exec.Error{Name: "package require combat: " + strings.TrimSpace(string(out)), Err: err}
		}
	})
	return combatTclsh, combatErr
}

// CombatDir returns testdata/combat after checking that Combat is
// installed; without it the test skips, or fails when Required.
func CombatDir(t testing.TB) string {
	t.Helper()
	if _, err := combatTclshPath(); err != nil {
		if Required() {
			t.Fatalf("Combat is not installed (run scripts/install-combat.sh): %v", err)
		}
		t.Skip("Combat (tcl-combat) not installed; run `make test` or scripts/install-combat.sh")
	}
	return filepath.Join(RepoRoot(), "testdata", "combat")
}

// StartCombat runs the Combat peer testdata/combat/script with args, as
// StartIn runs a C++ peer.
func StartCombat(t testing.TB, script string, args ...string) *Process {
	t.Helper()
	dir := CombatDir(t)
	tclsh, _ := combatTclshPath()
	return StartIn(t, filepath.Dir(tclsh), filepath.Base(tclsh), append([]string{filepath.Join(dir, script)}, args...)...)
}
