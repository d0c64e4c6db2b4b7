package naming_test

import (
	"fmt"
	"testing"

	"github.com/requestagent/requestagent/naming"
)

// TestParseName: stringified CosNaming names (CosNaming §2.4).
func TestParseName(t *testing.T) {
	for in, want := range map[string]string{
		"RequestAgent":     "[{RequestAgent }]",
		"a/b.kind":         "[{a } {b kind}]",
		`dots\.in\.id.k`:   "[{dots.in.id k}]",
		".onlykind":        "[{ onlykind}]",
		`slash\/in/second`: "[{slash/in } {second }]",
	} {
		got, err := naming.ParseName(in)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("ParseName(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a//b", "a.b.c", `trailing\`} {
		if _, err := naming.ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) succeeded", bad)
		}
	}
}
