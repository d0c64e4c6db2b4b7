package agent

import (
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// ForwardIOR is the reference a cluster standby answers a call on key
// with (LOCATION_FORWARD, docs/cluster.md "Standbys forward"): the same
// object at the owner's addresses, the first in the IIOP profile and the
// others as TAG_ALTERNATE_IIOP_ADDRESS. It carries what the owner's own
// reference to the object carries that a client acts on: omniORB makes
// its calls through the forwarded reference, and a Native Messaging
// runtime chooses the contexts it sends by its TAG_NM_REF (docs/nm-wire.md).
// Its type is CORBA::Object, since the key does not say the object's: an
// ORB does not narrow a reference again when it follows a forward.
func ForwardIOR(key []byte, owner []giop.AlternateAddress) *giop.IOR {
	if len(owner) == 0 {
		return nil
	}
	comps := []giop.TaggedComponent{giop.ORBTypeComponent(giop.ORBTypeRequestAgent)}
	switch kind, _, ok := parseKey(key); {
	case ok && (kind == keyPoller || kind == keyHolder):
		comps = append(comps, nmproto.RefComponent(nmproto.RefPoller))
	case ok && (kind == keyReceiver || kind == keyRequest):
		comps = append(comps, nmproto.RefComponent(nmproto.RefTypedReceiver))
	}
	comps = append(comps, giop.DefaultCodeSets.Component())
	for _, a := range owner[1:] {
		comps = append(comps, a.Component())
	}
	return giop.NewIOR(giop.CORBAObjectID, &giop.IIOPProfile{Version: giop.V1_2, Host: owner[0].Host, Port: owner[0].Port,
		ObjectKey: key, Components: comps})
}
