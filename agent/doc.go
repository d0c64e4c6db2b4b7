// Package agent is the Native Messaging request agent: the RequestAgent
// servant, request proxies, typed receivers, delegation and its queue
// (PRODUCT.md §2–§3).
//
// So far it holds the Service that owns the agent's GIOP endpoint; the
// NativeMessaging servants are added by the agent issue.
package agent
