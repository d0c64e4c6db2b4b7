// Package nmproto holds the Native Messaging protocol as it crosses the
// wire, shared by the agent (agent/) and the Go client library (nm/): the
// NMService service context and its NMContextData, the TAG_NM_REF IOR
// component, the vendor minor codes, the repository ids of the agent's
// interfaces and user exceptions, and the PropertySeq codec. The same definitions are written
// once in IDL in idl/NativeMessaging.idl; a test keeps the two in step.
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
