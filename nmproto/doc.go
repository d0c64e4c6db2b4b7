// Package nmproto holds the Native Messaging protocol as it crosses the
// wire, shared by the agent (agent/) and the Go client library (nm/): the
// NMService service context and its NMContextData, the TAG_NM_REF IOR
// component, the vendor minor codes, the repository ids of the agent's
// interfaces and user exceptions, and the PropertySeq codec. The same definitions are written
// once in IDL in idl/NativeMessaging.idl; a test keeps the two in step.
//
// The properties a PropertySeq may carry are defined here alone
// (properties.go): one table of name, wire type, scope (proxy, request or
// both), default and meaning (PropertyTable), and Settings, the field of
// each one that is kept. The agent parses and lists properties with them,
// the Go client names them, the command line makes its default-property
// flags from them and the admin listing prints them; docs/native-messaging.md
// ("Properties") shows the table, checked by a test. A new property is its
// entry, its field and its line there; what it does is the agent's code.
//
// NMContextData is a union on its kind (Native Messaging, "NMService context"):
//
//	ReqInfo      client → typed receiver: request tag, cookie, wait timeout
//	             (ms) and — our addition — suppress mode
//	WaitTimeout  client → poller: how long to wait for the reply (ms)
//	ThePoller    agent → client, on every premature return: the poller
//	             reference (nil when no poller is returned)
//	ReplierName  agent → client, on an exceptional return that is the real
//	             result of the delegated request (empty string)
//
// So an NM-aware client tells a mature return from a premature one by the
// ThePoller context, and a real exceptional result from a failure between
// client and agent by the ReplierName context (reply_not_available).
package nmproto
