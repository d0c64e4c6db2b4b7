// Package giop is requestagent's wire layer: CORBA's General Inter-ORB
// Protocol over TCP (IIOP), written to interoperate with real ORBs —
// omniORB 4.2.5 above all, whose actual behaviour is recorded in
// SPEC.md.
//
// One concept a file, as in hashicorp/yamux:
//
//	cdr_encoder.go, cdr_decoder.go  CDR (CORBA 3.0 §15.3), both byte orders
//	typecode.go, any.go             TypeCode and any for simple kinds
//	header.go, message.go           the 12-byte header and every message type
//	servicecontext.go               service contexts: CodeSets, BI_DIR_IIOP
//	sysexc.go                       system exceptions
//	fragment.go, frame.go           reading messages, fragment reassembly
//	ior.go, ior_component.go        IORs, IIOP profiles, tagged components
//	corbaloc.go                     corbaloc URLs
//	conn.go                         a connection: one reader, one writer
//	server.go, servant.go           accepting, object adapter, standard ops
//	client.go                       calling objects, forwards, re-sending
//	dial.go                         outbound connections: resolving, the
//	                                cache, the guard, idle closing, limits
//	tls.go                          IIOP over TLS: TAG_SSL_SEC_TRANS, the
//	                                listener's and the dialler's TLS, identities
//	body.go                         bodies kept apart from their message
//	version.go                      GIOP versions
//	config.go, errors.go            limits and sentinel errors
//
// SPEC.md in this directory states the wire rules the package implements,
// with the spec sections and the omniORB facts behind them.
//
// Decoding never panics: every length read from the wire is checked against
// the bytes left and a configured limit before anything is allocated, and
// errors are sticky on the Decoder. A framing error answers MessageError and
// closes the connection; a bad request gets a system exception in its reply
// and the connection stays up.
package giop
