package nmproto

import (
	"fmt"
	"strings"
)

// RepoIDs are the repository ids of NativeMessaging's interfaces and user
// exceptions as one agent uses them (docs/migrating.md). VisiBroker's own
// NativeMessaging.idl is not published, so neither is its #pragma prefix
// nor the scope of InvalidProperty: applications compiled against it may
// have ids such as "IDL:vendor.com/NativeMessaging/RequestAgent:1.0" and
// "IDL:NativeMessaging/RequestAgentEx/InvalidProperty:1.0". An agent is
// configured with the prefix and scope its applications were compiled
// with; it raises exceptions with those ids, hands out references typed
// with them, and answers _is_a both with and without the prefix.
type RepoIDs struct {
	RequestAgent, RequestAgentEx, RequestProxy, ReplyRecipient                  string
	DuplicatedRequestTag, PollingGroupIsEmpty, RequestNotExist, InvalidProperty string

	prefix string
}

// InvalidProperty scopes: where an application's IDL declares it.
const (
	ScopeModule         = "module"         // NativeMessaging::InvalidProperty (ours)
	ScopeRequestAgentEx = "RequestAgentEx" // NativeMessaging::RequestAgentEx::InvalidProperty
)

// NewRepoIDs returns the ids under a #pragma prefix ("" for none, as in
// our NativeMessaging.idl) with InvalidProperty declared in scope.
func NewRepoIDs(prefix, scope string) (RepoIDs, error) {
	prefix = strings.Trim(prefix, "/")
	if strings.ContainsAny(prefix, ": \t") {
		return RepoIDs{}, fmt.Errorf("nmproto: repository id prefix %q: no ':' or blanks", prefix)
	}
	id := func(name string) string {
		if prefix == "" {
			return "IDL:NativeMessaging/" + name + ":1.0"
		}
		return "IDL:" + prefix + "/NativeMessaging/" + name + ":1.0"
	}
	invalid := "InvalidProperty"
	switch scope {
	case "", ScopeModule:
	case ScopeRequestAgentEx:
		invalid = "RequestAgentEx/InvalidProperty"
	default:
		return RepoIDs{}, fmt.Errorf("nmproto: InvalidProperty scope %q: %q or %q", scope, ScopeModule, ScopeRequestAgentEx)
	}
	return RepoIDs{
		RequestAgent:         id("RequestAgent"),
		RequestAgentEx:       id("RequestAgentEx"),
		RequestProxy:         id("RequestProxy"),
		ReplyRecipient:       id("ReplyRecipient"),
		DuplicatedRequestTag: id("RequestAgent/DuplicatedRequestTag"),
		PollingGroupIsEmpty:  id("RequestAgent/PollingGroupIsEmpty"),
		RequestNotExist:      id("RequestAgent/RequestNotExist"),
		InvalidProperty:      id(invalid),
		prefix:               prefix,
	}, nil
}

// DefaultRepoIDs are the ids of our NativeMessaging.idl.
var DefaultRepoIDs, _ = NewRepoIDs("", ScopeModule)

// Canonical returns the id of our NativeMessaging.idl for a NativeMessaging
// id in any prefix or InvalidProperty scope, and other ids unchanged.
func Canonical(id string) string {
	rest, ok := strings.CutPrefix(id, "IDL:")
	if !ok {
		return id
	}
	i := strings.Index(rest, "NativeMessaging/")
	if i < 0 || (i > 0 && rest[i-1] != '/') {
		return id
	}
	name := rest[i+len("NativeMessaging/"):]
	if name == "RequestAgentEx/InvalidProperty:1.0" {
		name = "InvalidProperty:1.0"
	}
	return "IDL:NativeMessaging/" + name
}

// Is reports whether asked names the interface whose id (in these ids) is
// mine, with or without the prefix.
func (r RepoIDs) Is(mine, asked string) bool {
	return asked == mine || Canonical(asked) == Canonical(mine)
}
