// Package deploy_test checks the deployment files in deploy/: the systemd
// unit against systemd's own verifier, and the container image's build
// against the one build script every release goes through.
package deploy_test

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/internal/peers"
)

// buildRelease builds the binary with scripts/build.sh into dir.
func buildRelease(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "requestagent")
	cmd := exec.Command(filepath.Join(peers.RepoRoot(), "scripts", "build.sh"), bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, out)
	}
	return bin
}

// TestSystemdUnit_Verifies: systemd-analyze verify finds nothing to say
// about deploy/requestagent.service (with ExecStart pointing at a binary
// built the release way), and it does find a fault put into a copy of it,
// so the check can fail.
func TestSystemdUnit_Verifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if peers.Required() {
			t.Fatalf("systemd-analyze not installed (scripts/install-omniorb.sh installs systemd): %v", err)
		}
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	bin := buildRelease(t, dir)
	unit, err := os.ReadFile(filepath.Join(peers.RepoRoot(), "deploy", "requestagent.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/requestagent") {
		t.Fatal("the unit's ExecStart is not /usr/local/bin/requestagent")
	}
	verify := func(name, text string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(strings.ReplaceAll(text, "/usr/local/bin/requestagent", bin)), 0o644)
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		var mine []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, name) {
				mine = append(mine, line)
			}
		}
		if err != nil {
			mine = append(mine, err.Error())
		}
		return strings.Join(mine, "\n")
	}
	if got := verify("requestagent.service", string(unit)); got != "" {
		t.Fatalf("systemd-analyze verify:\n%s", got)
	}
	if got := verify("broken.service", string(unit)+"\n[Service]\nProtectSystem=sometimes\n"); got == "" {
		t.Fatal("systemd-analyze verify found nothing wrong with a broken copy: the check proves nothing")
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=requestagent", "NoNewPrivileges=yes", "ProtectSystem=strict"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
}

// TestDockerfile_BuildsWithTheReleaseScript: the image builds its binary
// with scripts/build.sh, runs it as a non-root user with its store on a
// volume; building the binary that way gives a static binary whose
// --version names the commit.
func TestDockerfile_BuildsWithTheReleaseScript(t *testing.T) {
	f, err := os.Open(filepath.Join(peers.RepoRoot(), "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var build, user, volume, entry string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "RUN ") && strings.Contains(line, "scripts/build.sh"):
			build = line
		case strings.HasPrefix(line, "USER "):
			user = line
		case strings.HasPrefix(line, "VOLUME "):
			volume = line
		case strings.HasPrefix(line, "ENTRYPOINT "):
			entry = line
		}
	}
	if build == "" || !strings.Contains(build, "scripts/build.sh /out/requestagent") {
		t.Fatalf("the Dockerfile does not build with scripts/build.sh: %q", build)
	}
	if user == "" || strings.Contains(user, "root:root") || user == "USER root" {
		t.Fatalf("the image runs as %q", user)
	}
	if volume != "VOLUME /var/lib/requestagent" || !strings.Contains(entry, `"--data-dir", "/var/lib/requestagent"`) {
		t.Fatalf("the store is not on the volume: %q, %q", volume, entry)
	}
	bin := buildRelease(t, t.TempDir())
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary is dynamically linked: the static image cannot run it")
		}
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	head, _ := exec.Command("git", "-C", peers.RepoRoot(), "rev-parse", "--short=12", "HEAD").Output()
	if err != nil || !strings.Contains(string(out), "commit "+strings.TrimSpace(string(head))) {
		t.Fatalf("--version of the image's binary: %v: %s", err, out)
	}
}

// TestClusterCompose_AgentsAgree: deploy/cluster/docker-compose.yml runs
// three agents whose flags are all the binary's own, each publishing all
// three agents' addresses and naming all three etcd members (what makes a
// reference work on whichever agent owns, docs/cluster.md).
func TestClusterCompose_AgentsAgree(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(peers.RepoRoot(), "deploy", "cluster", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	help, err := exec.Command(buildRelease(t, t.TempDir()), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("--help: %v\n%s", err, help)
	}
	var agents []string
	lines := strings.Split(string(text), "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "  agent") && strings.HasSuffix(line, ":") {
			// The service's command: its lines up to ports.
			var cmd []string
			for _, l := range lines[i+1:] {
				if strings.Contains(l, "ports:") {
					break
				}
				cmd = append(cmd, l)
			}
			agents = append(agents, strings.Join(cmd, " "))
		}
	}
	if len(agents) != 3 {
		t.Fatalf("%d agents in the compose file, want 3", len(agents))
	}
	for i, cmd := range agents {
		for _, f := range strings.Fields(strings.NewReplacer("[", " ", "]", " ", ",", " ").Replace(cmd)) {
			if strings.HasPrefix(f, "--") && !strings.Contains(string(help), f+" ") && !strings.Contains(string(help), f+"=") {
				t.Errorf("agent %d: %s is not a flag of the binary", i+1, f)
			}
		}
		for _, want := range []string{":15555,", ":15556,", ":15557\"", "etcd://etcd1:2379,etcd2:2379,etcd3:2379", "--cluster-name, agent"} {
			if !strings.Contains(cmd, want) {
				t.Errorf("agent %d does not have %q: %s", i+1, want, cmd)
			}
		}
	}
}
