// Package idl is requestagent's knowledge of OMG IDL: a parser for IDL
// files as real projects write them (with the preprocessor subset they
// need), a repository of every type and interface by scoped name and
// repository id, and IDL-driven marshalling of values to and from CDR and
// JSON.
//
// The agent forwards request bodies untouched when it can; it needs the IDL
// of a target's interface to build suppressed-mode premature returns (zero
// return and out values), to transcode when byte order or GIOP version
// differ, and to decode requests for operators. The Go client library uses
// it for dynamic invocation. NativeMessaging.idl, the agent's own interface,
// is embedded (see NativeMessagingIDL).
//
// Values are plain Go values, chosen by the IDL type:
//
//	boolean          bool
//	octet, char      byte
//	wchar            rune
//	short, ushort    int16, uint16
//	long, ulong      int32, uint32
//	long long, ull   int64, uint64
//	float, double    float32, float64
//	string, wstring  string (UTF-8)
//	fixed            string, a decimal number such as "-12.50"
//	enum             string, the enumerator's name
//	struct, except.  map[string]any by member name
//	union            Union
//	sequence, array  []any ([]byte for octet elements)
//	any              Any
//	Object, interf.  *giop.IOR (nil for a nil reference)
//	TypeCode         *Type
//
// Value types are parsed but not marshalled: marshalling one fails with
// ErrUnsupported.
package idl
