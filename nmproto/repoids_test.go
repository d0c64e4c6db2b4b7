package nmproto

import "testing"

// TestRepoIDs: a prefix and a scope give the ids VisiBroker-compiled
// applications have; Canonical maps them back to ours.
func TestRepoIDs(t *testing.T) {
	ids, err := NewRepoIDs("vendor.com", ScopeRequestAgentEx)
	if err != nil {
		t.Fatal(err)
	}
	if ids.RequestAgent != "IDL:vendor.com/NativeMessaging/RequestAgent:1.0" ||
		ids.InvalidProperty != "IDL:vendor.com/NativeMessaging/RequestAgentEx/InvalidProperty:1.0" ||
		ids.DuplicatedRequestTag != "IDL:vendor.com/NativeMessaging/RequestAgent/DuplicatedRequestTag:1.0" {
		t.Fatalf("ids %+v", ids)
	}
	for in, want := range map[string]string{
		ids.RequestAgent:                        RequestAgentID,
		ids.InvalidProperty:                     InvalidPropertyID,
		InvalidPropertyID:                       InvalidPropertyID,
		"IDL:Other/Thing:1.0":                   "IDL:Other/Thing:1.0",
		"IDL:xNativeMessaging/RequestAgent:1.0": "IDL:xNativeMessaging/RequestAgent:1.0",
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%s) = %s, want %s", in, got, want)
		}
	}
	if !ids.Is(ids.RequestAgentEx, RequestAgentExID) || !ids.Is(ids.RequestAgentEx, ids.RequestAgentEx) || ids.Is(ids.RequestAgentEx, RequestAgentID) {
		t.Fatal("Is")
	}
	if d := DefaultRepoIDs; d.RequestAgentEx != RequestAgentExID || d.InvalidProperty != InvalidPropertyID {
		t.Fatalf("defaults %+v", d)
	}
	if _, err := NewRepoIDs("a:b", ""); err == nil {
		t.Fatal("a bad prefix accepted")
	}
	if _, err := NewRepoIDs("", "Elsewhere"); err == nil {
		t.Fatal("a bad scope accepted")
	}
}
