package idl

import (
	_ "embed" // for NativeMessagingIDL
)

// NativeMessagingIDL is the source of NativeMessaging.idl, the agent's
// own interfaces (RequestAgent, RequestAgentEx, RequestProxy,
// ReplyRecipient, Current), its minor codes, service context and
// component tag. It is embedded so the binary can serve it to operators
// and clients and never depends on a file beside it.
//
//go:embed NativeMessaging.idl
var NativeMessagingIDL []byte

// NativeMessagingFile is the name NativeMessagingIDL is parsed under, as
// it appears in error positions.
const NativeMessagingFile = "NativeMessaging.idl"

// NativeMessaging parses NativeMessagingIDL into a new repository. Each
// call returns a fresh repository, so callers may load their own IDL into
// it. The error can only come from a broken build.
func NativeMessaging() (*Repository, error) {
	r := NewRepository()
	if err := r.LoadSource(NativeMessagingFile, NativeMessagingIDL, nil); err != nil {
		return nil, err
	}
	return r, nil
}
