package nmproto

import (
	"fmt"

	"github.com/requestagent/requestagent/giop"
)

// VMCID is our vendor minor code set id ("NM"; not OMG-registered),
// written once in idl/NativeMessaging.idl as NM_VMCID. Every minor code,
// the service context id and the component tag derive from it.
const VMCID uint32 = 0x4E4D0000

// Minor codes of the system exceptions the agent raises, as
// NativeMessaging.idl numbers them.
const (
	// ReplyNotAvailable (NO_RESPONSE, completed NO): an unsuppressed
	// premature return, an "RNA exception".
	ReplyNotAvailable = VMCID | 1
	// DuplicatedRequestTag (BAD_INV_ORDER): the tag is used by a live
	// request of the same polling group.
	DuplicatedRequestTag = VMCID | 2
	// RequestTrashed (OBJECT_NOT_EXIST): the request of a poller or request
	// object is trashed.
	RequestTrashed = VMCID | 3
	// ProxyDestroyed (OBJECT_NOT_EXIST): the proxy is destroyed or "to be
	// destroyed".
	ProxyDestroyed = VMCID | 4
	// ReplyHolderExpired (OBJECT_NOT_EXIST): a reply holder used after
	// reply_available returned.
	ReplyHolderExpired = VMCID | 5
	// WrongOperation (BAD_OPERATION): a poller or holder called with another
	// operation than the request's (OPERATION_MISMATCH in the IDL).
	WrongOperation = VMCID | 6
	// NilTarget (BAD_PARAM): a nil target.
	NilTarget = VMCID | 7
	// NoRepositoryID (BAD_PARAM): no repository id given nor in the IOR.
	NoRepositoryID = VMCID | 8
	// BadContext (BAD_PARAM): an NMService context that does not decode.
	BadContext = VMCID | 9
	// QueueFull (IMP_LIMIT, completed NO): the delegation queue stayed full;
	// nothing was stored.
	QueueFull = VMCID | 10
	// TargetUnreachable (TRANSIENT, completed NO): the target could not be
	// reached within the retry budget; nothing was sent.
	TargetUnreachable = VMCID | 11
	// TargetConnectionLost (COMM_FAILURE, completed MAYBE): the connection
	// to the target broke after sending, or the agent stopped meanwhile.
	TargetConnectionLost = VMCID | 12
	// TooManyForwards (TRANSIENT, completed NO): more LOCATION_FORWARDs
	// than the agent follows.
	TooManyForwards = VMCID | 13
	// AgentShuttingDown (TRANSIENT, completed NO): the agent is stopping.
	AgentShuttingDown = VMCID | 14
	// CannotTranscode (MARSHAL, completed NO): a body must be re-encoded —
	// not even a padding context lands it at its offset modulo 8, or it
	// is a GIOP 1.1 body in fragments that align differently — and the
	// IDL is not loaded. With CODESET_INCOMPATIBLE: a reply read at
	// another GIOP version than its request was sent at, in another code
	// set than its reader's (giop/SPEC.md).
	CannotTranscode = VMCID | 15
	// StoreFailed (PERSIST_STORE, completed NO): the request could not be
	// stored durably, so it was not accepted.
	StoreFailed = VMCID | 16
	// BadProperty (BAD_PARAM): an invalid RequestDesc property.
	BadProperty = VMCID | 17
	// StoreFull (IMP_LIMIT, completed NO): the store is at its size limit;
	// nothing was stored.
	StoreFull = VMCID | 18
	// SelfDelegation (NO_PERMISSION, completed NO): the target, the
	// recipient or a LOCATION_FORWARD names the agent itself; it never
	// calls itself.
	SelfDelegation = VMCID | 19
	// FieldTooLarge (IMP_LIMIT, completed NO): a reference, cookie, tag or
	// property list is over its size limit; nothing was stored.
	FieldTooLarge = VMCID | 20
	// TooManyRequests (IMP_LIMIT, completed NO): the live requests fill the
	// agent's memory budget; nothing was stored.
	TooManyRequests = VMCID | 21
	// TooManyWaiting (IMP_LIMIT, completed NO): as many calls as allowed
	// are blocked waiting (polls and pulls).
	TooManyWaiting = VMCID | 22
	// TargetNotAllowed (NO_PERMISSION, completed NO): the target, the
	// recipient or a LOCATION_FORWARD is outside the agent's target
	// policy (docs/deploying.md); nothing was stored, or nothing sent.
	TargetNotAllowed = VMCID | 23
	// OtherIdentity (NO_PERMISSION, completed NO): the object is bound to
	// another TLS identity than the caller's (--bind-identity,
	// docs/deploying.md); nothing was done.
	OtherIdentity = VMCID | 24
)

// minorNames are the minor codes' names in NativeMessaging.idl.
var minorNames = map[uint32]string{
	ReplyNotAvailable: "REPLY_NOT_AVAILABLE", DuplicatedRequestTag: "DUPLICATED_REQUEST_TAG",
	RequestTrashed: "REQUEST_TRASHED", ProxyDestroyed: "PROXY_DESTROYED", ReplyHolderExpired: "REPLY_HOLDER_EXPIRED",
	WrongOperation: "OPERATION_MISMATCH", NilTarget: "NIL_TARGET", NoRepositoryID: "NO_REPOSITORY_ID",
	BadContext: "BAD_NM_CONTEXT", QueueFull: "QUEUE_FULL", TargetUnreachable: "TARGET_UNREACHABLE",
	TargetConnectionLost: "TARGET_CONNECTION_LOST", TooManyForwards: "TOO_MANY_FORWARDS",
	AgentShuttingDown: "AGENT_SHUTTING_DOWN", CannotTranscode: "CANNOT_TRANSCODE", StoreFailed: "STORE_FAILED",
	BadProperty: "BAD_PROPERTY", StoreFull: "STORE_FULL", SelfDelegation: "SELF_DELEGATION",
	FieldTooLarge: "FIELD_TOO_LARGE", TooManyRequests: "TOO_MANY_REQUESTS", TooManyWaiting: "TOO_MANY_WAITING",
	TargetNotAllowed: "TARGET_NOT_ALLOWED", OtherIdentity: "OTHER_IDENTITY",
}

// MinorString writes a minor code as operators read it: hex, with its
// NativeMessaging.idl name when it has one ("0x4e4d000b TARGET_UNREACHABLE").
func MinorString(minor uint32) string {
	if name, ok := minorNames[minor]; ok {
		return fmt.Sprintf("0x%08x %s", minor, name)
	}
	return fmt.Sprintf("0x%08x", minor)
}

// Repository ids of NativeMessaging.idl's interfaces and user exceptions,
// which the agent raises and the Go client library recognises.
const (
	RequestAgentID   = "IDL:NativeMessaging/RequestAgent:1.0"
	RequestAgentExID = "IDL:NativeMessaging/RequestAgentEx:1.0"
	RequestProxyID   = "IDL:NativeMessaging/RequestProxy:1.0"
	ReplyRecipientID = "IDL:NativeMessaging/ReplyRecipient:1.0"

	DuplicatedRequestTagID = "IDL:NativeMessaging/RequestAgent/DuplicatedRequestTag:1.0"
	PollingGroupIsEmptyID  = "IDL:NativeMessaging/RequestAgent/PollingGroupIsEmpty:1.0"
	RequestNotExistID      = "IDL:NativeMessaging/RequestAgent/RequestNotExist:1.0"
	InvalidPropertyID      = "IDL:NativeMessaging/InvalidProperty:1.0"
)

// BindRecipientOp is an operation of the agent object that is ours, not
// VisiBroker's: bind_recipient(in ReplyRecipient r) hands a recipient over
// again on the calling connection, which must announce the recipient's
// address in BI_DIR_IIOP. The agent then calls the recipient back over
// this connection for every proxy and request whose recipient it is and
// whose own connection is gone, and tries again the callbacks it had given
// up on. It creates nothing. A client whose bidirectional connection broke
// calls it on its new connection (docs/callbacks.md).
const BindRecipientOp = "bind_recipient"

// ServiceID is the context id of the NMService service context.
const ServiceID = VMCID | 1

// PaddingID is the context id of the padding context (giop.ServicePadding)
// that keeps a relayed GIOP 1.0/1.1 body at its offset modulo 8.
const PaddingID = VMCID | 2

// NoMoreReplyID is the id of the NMNoMoreReply service context (ours):
// the agent adds it to a mature return after which it holds no reply for
// the request any more — the read trashed it, or the callback will — and
// to OBJECT_NOT_EXIST/REQUEST_TRASHED. Its data is an encapsulated
// boolean TRUE. Current::no_more_reply is TRUE after a reply carrying it.
const NoMoreReplyID = VMCID | 3

// NoMoreReplyContext is the NMNoMoreReply service context.
var NoMoreReplyContext = giop.ServiceContext{ID: NoMoreReplyID, Data: []byte{1, 1}}

// NoMoreReply reports whether a reply carries NMNoMoreReply: the request
// has no reply any more.
func NoMoreReply(l giop.ServiceContextList) bool {
	_, ok := l.Get(NoMoreReplyID)
	return ok
}

// TagNMRef is the tag of the TAG_NM_REF IOR component; its data is an
// encapsulated octet saying what the reference is.
const TagNMRef = VMCID | 1

// RefKind is the value of a TAG_NM_REF component.
type RefKind byte

// Reference kinds.
const (
	RefTypedReceiver RefKind = 0x01
	RefPoller        RefKind = 0x02
)

// RefComponent returns the TAG_NM_REF component for a reference of kind k.
func RefComponent(k RefKind) giop.TaggedComponent {
	return giop.TaggedComponent{Tag: TagNMRef, Data: []byte{1, byte(k)}}
}

// ParseRefComponent decodes a TAG_NM_REF component's data.
func ParseRefComponent(data []byte) (RefKind, error) {
	d := giop.DecodeEncapsulation(data, giop.V1_2)
	k := d.Octet()
	if err := d.Err(); err != nil {
		return 0, err
	}
	return RefKind(k), nil
}

// Kind is the discriminator of NMContextData.
type Kind uint32

// The NMContextData kinds, in IDL enum order.
const (
	KindReqInfo Kind = iota
	KindWaitTimeout
	KindThePoller
	KindReplierName
)

// WaitForever is the wait timeout that means "until the reply is ready";
// docs/native-messaging.md treats every value ≥ 2^31 the same.
const WaitForever uint32 = 0xFFFFFFFF

// ReqInfo is what an NM-aware client sends with a request to a typed receiver.
type ReqInfo struct {
	RequestTag  []byte
	Cookie      []byte
	WaitTimeout uint32 // ms
	// Suppress asks for suppressed-mode premature returns (normal replies
	// with zero values) instead of NO_RESPONSE/ReplyNotAvailable.
	Suppress bool
}

// Context is a decoded NMContextData: Kind says which field is set.
type Context struct {
	Kind        Kind
	ReqInfo     ReqInfo
	WaitTimeout uint32
	ThePoller   *giop.IOR
	ReplierName string
}

// Limits on what an NMService context may carry.
const (
	MaxTagLen    = 1 << 10
	MaxCookieLen = 64 << 10
)

// Encode returns the NMService service context carrying c.
func (c *Context) Encode() giop.ServiceContext {
	e := giop.NewEncoder(giop.V1_2, true)
	e.WriteBool(true) // encapsulation byte order: little-endian
	e.WriteULong(uint32(c.Kind))
	switch c.Kind {
	case KindReqInfo:
		e.WriteOctets(c.ReqInfo.RequestTag)
		e.WriteOctets(c.ReqInfo.Cookie)
		e.WriteULong(c.ReqInfo.WaitTimeout)
		e.WriteBool(c.ReqInfo.Suppress)
	case KindWaitTimeout:
		e.WriteULong(c.WaitTimeout)
	case KindThePoller:
		e.WriteIOR(c.ThePoller)
	case KindReplierName:
		e.WriteString(c.ReplierName)
	}
	return giop.ServiceContext{ID: ServiceID, Data: e.Bytes()}
}

// Decode parses an NMService context's data.
func Decode(data []byte) (*Context, error) {
	c := new(Context)
	if err := decodeInto(data, c); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeInto is Decode into c, on a decoder of its own that stays on the
// stack: the agent decodes one of these per request.
func decodeInto(data []byte, c *Context) error {
	var d giop.Decoder
	d.ResetEncapsulation(data, giop.V1_2)
	c.Kind = Kind(d.ULong())
	switch c.Kind {
	case KindReqInfo:
		c.ReqInfo.RequestTag = cloned(d.BoundedOctets(MaxTagLen, "request tag"))
		c.ReqInfo.Cookie = cloned(d.BoundedOctets(MaxCookieLen, "cookie"))
		c.ReqInfo.WaitTimeout = d.ULong()
		c.ReqInfo.Suppress = d.Bool()
	case KindWaitTimeout:
		c.WaitTimeout = d.ULong()
	case KindThePoller:
		c.ThePoller = d.IOR()
	case KindReplierName:
		c.ReplierName = d.BoundedString(1024, "replier name")
	default:
		if d.Err() == nil {
			return fmt.Errorf("nmproto: unknown NMContextData kind %d", c.Kind)
		}
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("nmproto: NMService context: %w", err)
	}
	return nil
}

// Find returns the NMService context of a service context list, if any.
func Find(l giop.ServiceContextList) (*Context, bool, error) {
	c, ok, err := Lookup(l)
	if !ok {
		return nil, false, err
	}
	return &c, true, nil
}

// Lookup is Find returning the context by value, which costs no
// allocation when the caller keeps it on its stack.
func Lookup(l giop.ServiceContextList) (c Context, ok bool, err error) {
	data, found := l.Get(ServiceID)
	if !found {
		return Context{}, false, nil
	}
	if err := decodeInto(data, &c); err != nil {
		return Context{}, false, err
	}
	return c, true, nil
}

func cloned(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// Property is one entry of a PropertySeq (CORBA::NameValuePair), as the
// agent's and proxies' properties travel.
type Property struct {
	Name  string
	Value giop.Any
}

// Bounds of a PropertySeq read from the wire.
const (
	MaxProperties      = 64
	MaxPropertyNameLen = 256
)

// ReadProperties decodes a PropertySeq; errors, a sequence over
// MaxProperties included, are left on d.
func ReadProperties(d *giop.Decoder) []Property {
	n := d.SeqLen(8)
	if n > MaxProperties {
		d.SetErr(fmt.Errorf("%w: %d properties (limit %d)", giop.ErrLimit, n, MaxProperties))
		return nil
	}
	props := make([]Property, 0, n)
	for range n {
		name := d.BoundedString(MaxPropertyNameLen, "property name")
		val := d.Any()
		if d.Err() != nil {
			return nil
		}
		props = append(props, Property{Name: name, Value: val})
	}
	return props
}

// WriteProperties encodes props as a PropertySeq.
func WriteProperties(e *giop.Encoder, props []Property) error {
	e.WriteULong(uint32(len(props)))
	for _, p := range props {
		e.WriteString(p.Name)
		if err := e.WriteAny(p.Value); err != nil {
			return err
		}
	}
	return nil
}
