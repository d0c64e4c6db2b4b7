package idl

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/giop"
)

func TestNativeMessagingIDLEmbedded(t *testing.T) {
	disk, err := os.ReadFile("NativeMessaging.idl")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, NativeMessagingIDL) {
		t.Error("embedded NativeMessagingIDL differs from NativeMessaging.idl")
	}
}

// signature renders an operation as "name(dir type name, ...)" for
// comparison with VisiBroker's documented IDL.
func signature(op *Operation) string {
	s := typeString(op.Result) + " " + op.Name + "("
	for i, p := range op.Params {
		if i > 0 {
			s += ", "
		}
		s += p.Dir.String() + " " + typeString(p.Type) + " " + p.Name
	}
	s += ")"
	for i, r := range op.Raises {
		if i == 0 {
			s += " raises "
		} else {
			s += ", "
		}
		s += r.Name
	}
	return s
}

// TestNativeMessagingInterfaces pins names, operation order and
// parameter order to VisiBroker's documentation (visibroker-nm.md §3)
// and docs/native-messaging.md, so VisiBroker applications recompile unchanged.
func TestNativeMessagingInterfaces(t *testing.T) {
	r, err := NativeMessaging()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"NativeMessaging::RequestAgent": {
			"NativeMessaging::Request create_request(in NativeMessaging::RequestDesc desc) raises NativeMessaging::RequestAgent::DuplicatedRequestTag",
			"NativeMessaging::RequestTagSeq poll(in string polling_group, in unsigned long timeout, in boolean unmask) raises NativeMessaging::RequestAgent::PollingGroupIsEmpty",
			"void destroy_request(in NativeMessaging::Request req) raises NativeMessaging::RequestAgent::RequestNotExist",
		},
		"NativeMessaging::RequestAgentEx": {
			"NativeMessaging::RequestProxy create_request_proxy(in CORBA::Object target, in string repository_id, in NativeMessaging::ReplyRecipient reply_recipient, in NativeMessaging::PropertySeq properties) raises NativeMessaging::InvalidProperty",
			"NativeMessaging::PropertySeq properties()",
		},
		"NativeMessaging::RequestProxy": {
			"NativeMessaging::PropertySeq properties()",
			"NativeMessaging::RequestTagSeq poll(in unsigned long timeout, in boolean unmask) raises NativeMessaging::RequestAgent::PollingGroupIsEmpty",
			"void destroy_request(in NativeMessaging::RequestTag request_tag) raises NativeMessaging::RequestAgent::RequestNotExist",
			"void destroy(in boolean destroy_requests)",
		},
		"NativeMessaging::ReplyRecipient": {
			"void reply_available(in CORBA::Object reply_holder, in string operation, in NativeMessaging::OctetSeq the_cookie)",
		},
		"NativeMessaging::Current": {
			"void suppress_mode(in boolean flag)",
			"void push_context()",
			"void pop_context()",
		},
	}
	for name, ops := range want {
		i := mustIface(t, r, name)
		var got []string
		for _, op := range i.Operations {
			got = append(got, signature(op))
		}
		if !reflect.DeepEqual(got, ops) {
			t.Errorf("%s operations:\n got %q\nwant %q", name, got, ops)
		}
		if i.RepoID != "IDL:"+strings.ReplaceAll(name, "::", "/")+":1.0" {
			t.Errorf("%s repo id %q (no prefix expected)", name, i.RepoID)
		}
	}
	ex := mustIface(t, r, "NativeMessaging::RequestAgentEx")
	if len(ex.Bases) != 1 || ex.Bases[0].Name != "NativeMessaging::RequestAgent" {
		t.Errorf("RequestAgentEx bases %v", ex.Bases)
	}
	if op := mustOp(t, ex, "poll"); op.Interface.Name != "NativeMessaging::RequestAgent" {
		t.Error("RequestAgentEx does not inherit poll")
	}
	proxy := mustIface(t, r, "NativeMessaging::RequestProxy")
	if get := mustOp(t, proxy, "_get_the_receiver"); get.Result.Kind != giop.TkObjref {
		t.Errorf("_get_the_receiver = %+v", get)
	}
	cur := mustIface(t, r, "NativeMessaging::Current")
	if !cur.Local {
		t.Error("Current is not local")
	}
	var attrs []string
	for _, a := range cur.Attributes {
		ro := ""
		if a.Readonly {
			ro = "readonly "
		}
		attrs = append(attrs, ro+a.Name)
	}
	if w := []string{"request_tag", "the_cookie", "wait_timeout", "readonly reply_not_available", "readonly the_poller", "readonly replier_name", "readonly no_more_reply"}; !reflect.DeepEqual(attrs, w) {
		t.Errorf("Current attributes %v", attrs)
	}
}

func TestNativeMessagingTypes(t *testing.T) {
	r, err := NativeMessaging()
	if err != nil {
		t.Fatal(err)
	}
	desc := mustType(t, r, "NativeMessaging::RequestDesc")
	var members []string
	for _, m := range desc.Members {
		members = append(members, m.Name)
	}
	if w := []string{"target", "repository_id", "reply_recipient", "the_cookie", "polling_group", "request_tag", "properties"}; !reflect.DeepEqual(members, w) {
		t.Errorf("RequestDesc members %v", members)
	}
	// A property is CORBA::NameValuePair on the wire: a string and an any.
	prop := mustType(t, r, "NativeMessaging::Property")
	if len(prop.Members) != 2 || prop.Members[0].Type.Kind != giop.TkString || prop.Members[1].Type.Kind != giop.TkAny {
		t.Errorf("Property = %+v", prop.Members)
	}
	if ps := stripAlias(mustType(t, r, "NativeMessaging::PropertySeq")); ps.Kind != giop.TkSequence || ps.Elem != prop {
		t.Errorf("PropertySeq = %+v", ps)
	}
	tags := stripAlias(mustType(t, r, "NativeMessaging::RequestTagSeq"))
	if tags.Kind != giop.TkSequence || stripAlias(tags.Elem).Elem.Kind != giop.TkOctet {
		t.Errorf("RequestTagSeq = %+v", tags)
	}
	ctx := mustType(t, r, "NativeMessaging::NMContextData")
	var cases []string
	for _, c := range ctx.Cases {
		cases = append(cases, c.Name)
	}
	if w := []string{"req_info", "wait_timeout", "the_poller", "replier_name"}; !reflect.DeepEqual(cases, w) {
		t.Errorf("NMContextData cases %v", cases)
	}
	info := mustType(t, r, "NativeMessaging::RequestInfo")
	var fields []string
	for _, m := range info.Members {
		fields = append(fields, m.Name)
	}
	if w := []string{"request_tag", "cookie", "wait_timeout", "suppress_mode"}; !reflect.DeepEqual(fields, w) {
		t.Errorf("RequestInfo members %v", fields)
	}
}

func TestNativeMessagingConstants(t *testing.T) {
	r, err := NativeMessaging()
	if err != nil {
		t.Fatal(err)
	}
	base, ok := r.Const("NativeMessaging::NM_VMCID")
	if !ok || base.Value != uint32(0x4E4D0000) {
		t.Fatalf("NM_VMCID = %+v", base)
	}
	seen := map[uint32]string{}
	for _, n := range []string{"REPLY_NOT_AVAILABLE", "DUPLICATED_REQUEST_TAG", "REQUEST_TRASHED",
		"PROXY_DESTROYED", "REPLY_HOLDER_EXPIRED", "OPERATION_MISMATCH", "NIL_TARGET",
		"NO_REPOSITORY_ID", "BAD_NM_CONTEXT", "QUEUE_FULL", "TARGET_UNREACHABLE",
		"TARGET_CONNECTION_LOST", "TOO_MANY_FORWARDS", "AGENT_SHUTTING_DOWN"} {
		c, ok := r.Const("NativeMessaging::" + n)
		if !ok {
			t.Errorf("%s missing", n)
			continue
		}
		v := c.Value.(uint32)
		if v&0xFFFFF000 != 0x4E4D0000 || v == 0x4E4D0000 {
			t.Errorf("%s = %#x is not a minor code of NM_VMCID", n, v)
		}
		if other, dup := seen[v]; dup {
			t.Errorf("%s and %s share %#x", n, other, v)
		}
		seen[v] = n
	}
	if c, _ := r.Const("NativeMessaging::REPLY_NOT_AVAILABLE"); c.Value != uint32(0x4E4D0001) {
		t.Errorf("REPLY_NOT_AVAILABLE = %#v", c.Value)
	}
	for n, want := range map[string]any{
		"NMService":             uint32(0x4E4D0001),
		"TAG_NM_REF":            uint32(0x4E4D0001),
		"NM_REF_TYPED_RECEIVER": byte(1),
		"NM_REF_POLLER":         byte(2),
	} {
		if c, _ := r.Const("NativeMessaging::" + n); c.Value != want {
			t.Errorf("%s = %#v, want %#v", n, c.Value, want)
		}
	}
}

// TestNativeMessagingOmniidl: omniidl compiles our IDL, and its ids are
// ours.
func TestNativeMessagingOmniidl(t *testing.T) {
	omniidl := needOmniidl(t)
	r, err := NativeMessaging()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	abs, err := filepath.Abs("NativeMessaging.idl")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(omniidl, "-bcxx", abs)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("omniidl -bcxx NativeMessaging.idl: %v\n%s", err, out)
	}
	for _, f := range []string{"NativeMessaging.hh", "NativeMessagingSK.cc"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("omniidl did not write %s: %v", f, err)
		}
	}
	ids, out, err := runOmniidl(t, omniidl, "NativeMessaging.idl", nil)
	if err != nil {
		t.Fatalf("omniidl -Wba: %v\n%s", err, out)
	}
	if len(ids) < 15 {
		t.Errorf("only %d ids in omniidl's output", len(ids))
	}
	for id := range ids {
		if _, ok := r.Type(id); !ok {
			t.Errorf("omniidl writes %s, which none of our types has", id)
		}
	}
}
