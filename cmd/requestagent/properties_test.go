package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/requestagent/requestagent/nmproto"
)

// TestReadPropertiesFile_ByteOrderMark: a file that starts with a UTF-8
// byte order mark keeps its first key, read as UTF-8; without a mark the
// file is ISO-8859-1, as Java reads it.
func TestReadPropertiesFile_ByteOrderMark(t *testing.T) {
	dir := t.TempDir()
	withBOM := filepath.Join(dir, "bom.properties")
	os.WriteFile(withBOM, []byte("\xef\xbb\xbfvbroker.requestagent.maxThreads=4\nname=caf\xc3\xa9\n"), 0o644)
	m, err := readPropertiesFile(withBOM)
	if err != nil {
		t.Fatal(err)
	}
	if m["vbroker.requestagent.maxThreads"] != "4" || m["name"] != "café" {
		t.Fatalf("with a byte order mark: %q", m)
	}
	latin := filepath.Join(dir, "latin.properties")
	os.WriteFile(latin, []byte("name=caf\xe9\n"), 0o644)
	if m, err := readPropertiesFile(latin); err != nil || m["name"] != "café" {
		t.Fatalf("ISO-8859-1: %q %v", m, err)
	}
}

// TestShown_EscapesControlCharacters: text from the wire or a certificate
// reaches an operator's terminal escaped when it holds a control
// character, unchanged when it does not.
func TestShown_EscapesControlCharacters(t *testing.T) {
	evil := "x\x1b[2J\x1b[31mEVIL\nfake-row 00000000 get_quote replied"
	if got := shown(evil); strings.ContainsAny(got, "\x1b\n") {
		t.Fatalf("shown(%q) = %q", evil, got)
	}
	for _, s := range []string{"CN=alice,O=test", "add_stock", "café"} {
		if got := shown(s); got != s {
			t.Fatalf("shown(%q) = %q", s, got)
		}
	}
}

// TestPropertyFlags: every property the agent keeps has a flag for its
// default, made from nmproto's table — its kebab-case name, the
// property's own name as an alias, its environment variable, its table
// default — and a VisiBroker property is named so in errors and --help.
func TestPropertyFlags(t *testing.T) {
	flags := map[string]cli.Flag{}
	for _, f := range serveFlags() {
		flags[f.Names()[0]] = f
	}
	n := 0
	for _, def := range nmproto.PropertyTable() {
		name := kebab(def.Name)
		f, ok := flags[name]
		if def.OnCreation {
			if ok {
				t.Errorf("--%s: %s is not kept, so it has no default", name, def.Name)
			}
			continue
		}
		n++
		if !ok {
			t.Errorf("%s: no flag --%s", def.Name, name)
			continue
		}
		if got := f.Names(); !slices.Equal(got, []string{name, def.Name}) {
			t.Errorf("--%s: names %v, want the property's name as alias", name, got)
		}
		df := f.(cli.DocGenerationFlag)
		if got := df.GetEnvVars(); !slices.Equal(got, env(name)) {
			t.Errorf("--%s: environment %v", name, got)
		}
		if got, want := df.GetDefaultText(), fmt.Sprint(def.Default); got != want {
			t.Errorf("--%s: default %s, want %s", name, got, want)
		}
		if !strings.Contains(df.GetUsage(), def.Doc) {
			t.Errorf("--%s: usage %q does not say what it does (%q)", name, df.GetUsage(), def.Doc)
		}
		if _, vb := visiBrokerNames[name]; vb != def.VisiBroker {
			t.Errorf("--%s: VisiBroker name %v, the table says %v", name, vb, def.VisiBroker)
		}
	}
	if n == 0 {
		t.Fatal("no default property flags")
	}
}
