package nmproto_test

import (
	"fmt"
	"testing"

	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/nmproto"
)

// TestConstantsMatchIDL: the wire constants here are the ones
// idl/NativeMessaging.idl defines, so a C++ or Java client compiled from
// that IDL and the agent agree on every number (docs/native-messaging.md: written once
// in the IDL).
func TestConstantsMatchIDL(t *testing.T) {
	repo, err := idl.NativeMessaging()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint32{
		"NM_VMCID":               nmproto.VMCID,
		"REPLY_NOT_AVAILABLE":    nmproto.ReplyNotAvailable,
		"DUPLICATED_REQUEST_TAG": nmproto.DuplicatedRequestTag,
		"REQUEST_TRASHED":        nmproto.RequestTrashed,
		"PROXY_DESTROYED":        nmproto.ProxyDestroyed,
		"REPLY_HOLDER_EXPIRED":   nmproto.ReplyHolderExpired,
		"OPERATION_MISMATCH":     nmproto.WrongOperation,
		"NIL_TARGET":             nmproto.NilTarget,
		"NO_REPOSITORY_ID":       nmproto.NoRepositoryID,
		"BAD_NM_CONTEXT":         nmproto.BadContext,
		"QUEUE_FULL":             nmproto.QueueFull,
		"TARGET_UNREACHABLE":     nmproto.TargetUnreachable,
		"TARGET_CONNECTION_LOST": nmproto.TargetConnectionLost,
		"TOO_MANY_FORWARDS":      nmproto.TooManyForwards,
		"AGENT_SHUTTING_DOWN":    nmproto.AgentShuttingDown,
		"CANNOT_TRANSCODE":       nmproto.CannotTranscode,
		"STORE_FAILED":           nmproto.StoreFailed,
		"BAD_PROPERTY":           nmproto.BadProperty,
		"STORE_FULL":             nmproto.StoreFull,
		"SELF_DELEGATION":        nmproto.SelfDelegation,
		"FIELD_TOO_LARGE":        nmproto.FieldTooLarge,
		"TOO_MANY_REQUESTS":      nmproto.TooManyRequests,
		"TOO_MANY_WAITING":       nmproto.TooManyWaiting,
		"TARGET_NOT_ALLOWED":     nmproto.TargetNotAllowed,
		"OTHER_IDENTITY":         nmproto.OtherIdentity,
		"NMService":              nmproto.ServiceID,
		"NM_PADDING":             nmproto.PaddingID,
		"NMNoMoreReply":          nmproto.NoMoreReplyID,
		"TAG_NM_REF":             nmproto.TagNMRef,
		"NM_REF_TYPED_RECEIVER":  uint32(nmproto.RefTypedReceiver),
		"NM_REF_POLLER":          uint32(nmproto.RefPoller),
	}
	for name, v := range want {
		c, ok := repo.Const("NativeMessaging::" + name)
		if !ok {
			t.Errorf("NativeMessaging::%s is not in the IDL", name)
			continue
		}
		if got := fmt.Sprint(c.Value); got != fmt.Sprint(v) {
			t.Errorf("NativeMessaging::%s = %s in the IDL, %d here", name, got, v)
		}
	}
	kinds, ok := repo.Type("NativeMessaging::NMContextKind")
	if !ok {
		t.Fatal("no NMContextKind")
	}
	order := []nmproto.Kind{nmproto.KindReqInfo, nmproto.KindWaitTimeout, nmproto.KindThePoller, nmproto.KindReplierName}
	if len(kinds.Enumerators) != len(order) {
		t.Fatalf("NMContextKind has %d enumerators, want %d", len(kinds.Enumerators), len(order))
	}
}

// TestRepositoryIDsMatchIDL: the repository ids here are the ones the IDL
// gives its interfaces and user exceptions.
func TestRepositoryIDsMatchIDL(t *testing.T) {
	repo, err := idl.NativeMessaging()
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]string{
		"NativeMessaging::RequestAgent":   nmproto.RequestAgentID,
		"NativeMessaging::RequestAgentEx": nmproto.RequestAgentExID,
		"NativeMessaging::RequestProxy":   nmproto.RequestProxyID,
		"NativeMessaging::ReplyRecipient": nmproto.ReplyRecipientID,
	} {
		if i, ok := repo.Interface(name); !ok || i.RepoID != id {
			t.Errorf("%s: IDL %v, here %q", name, i, id)
		}
	}
	for name, id := range map[string]string{
		"NativeMessaging::RequestAgent::DuplicatedRequestTag": nmproto.DuplicatedRequestTagID,
		"NativeMessaging::RequestAgent::PollingGroupIsEmpty":  nmproto.PollingGroupIsEmptyID,
		"NativeMessaging::RequestAgent::RequestNotExist":      nmproto.RequestNotExistID,
		"NativeMessaging::InvalidProperty":                    nmproto.InvalidPropertyID,
	} {
		if ty, ok := repo.Type(name); !ok || ty.RepoID != id {
			t.Errorf("%s: IDL %v, here %q", name, ty, id)
		}
	}
}

// TestContextMatchesIDL: the NMService context this package encodes
// decodes with the IDL's NMContextData through the generic marshaller, and
// back: one layout, two implementations.
func TestContextMatchesIDL(t *testing.T) {
	repo, err := idl.NativeMessaging()
	if err != nil {
		t.Fatal(err)
	}
	data, ok := repo.Type("NativeMessaging::NMContextData")
	if !ok {
		t.Fatal("no NMContextData")
	}
	c := nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{RequestTag: []byte("7"), Cookie: []byte("c"), WaitTimeout: 42, Suppress: true}}
	sc := c.Encode()
	d := giopEncapsulation(sc.Data)
	v, err := idl.Unmarshal(d, data)
	if err != nil {
		t.Fatalf("IDL decode of our context: %v", err)
	}
	u := v.(idl.Union)
	info := u.Value.(map[string]any)
	if string(info["request_tag"].([]byte)) != "7" || info["wait_timeout"] != uint32(42) || info["suppress_mode"] != true {
		t.Fatalf("decoded %v", u)
	}
}
