package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
