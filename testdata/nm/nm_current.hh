// nm_current.hh -- minimal Native Messaging client support for omniORB 4.2:
// the per-thread NativeMessaging::Current of idl/NativeMessaging.idl and the
// omniORB interceptors that carry it in the NMService service context.
//
//   CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
//   nm::install(orb);                        // before the first invocation
//   NativeMessaging::Current_var cur = NativeMessaging::Current::_narrow(
//       orb->resolve_initial_references("NativeMessagingCurrent"));
//   cur->suppress_mode(false);
//   cur->request_tag(tag);  rcv->add_stock("ACME", 100.5);  // NO_RESPONSE/RNA
//   StockManager_var poller = StockManager::_narrow(CORBA::Object_var(cur->the_poller()));
//
// How the interceptor decides what to send: clientSendRequest reads the IOR
// of the object being invoked (GIOP_C::ior(), omniORB's internal but
// installed <omniORB4/internal/GIOP_C.h>) and looks for the TAG_NM_REF
// component in its IIOP profiles (and TAG_MULTIPLE_COMPONENTS profiles).
//   0x01 (a typed receiver, or a request object of create_request)
//        -> NMService{NM_REQUEST_INFO: request_tag, the_cookie, wait_timeout,
//                     suppress_mode of this thread's Current}
//   0x02 (a poller)  -> NMService{NM_WAIT_TIMEOUT: wait_timeout}
//   none (the RequestAgent, a RequestProxy, any other object) -> nothing.
// Core operations (_is_a, _non_existent, _interface, _repository_id,
// _component) never carry a context. No per-call mode is needed: the IOR is
// always reachable from the interceptor. Only calls on TAG_NM_REF objects
// update the Current's results (reply_not_available, the_poller,
// replier_name), so a RequestProxy::poll between two pulls leaves them alone.
//
// clientReceiveReply reads NMService from the reply:
//   NM_POLLER       -> the_poller = the reference, reply_not_available TRUE
//   NM_REPLIER_NAME -> replier_name, reply_not_available FALSE
//   none            -> reply_not_available FALSE on a normal reply, TRUE on
//                      an exception (a failure between client and agent).
// A call that gets no reply at all (connection lost) leaves
// reply_not_available TRUE and the_poller nil: both are reset when the
// request is sent.
//
// Wire constants come from the IDL (NativeMessaging::NMService, TAG_NM_REF,
// REPLY_NOT_AVAILABLE), as any IDL-compiled application's would; the agent
// uses the same numbers (nmproto's TestConstantsMatchIDL keeps them so).
#ifndef REQUESTAGENT_NM_CURRENT_HH
#define REQUESTAGENT_NM_CURRENT_HH

#include "NativeMessaging.hh"

namespace nm {

const CORBA::ULong kServiceId = NativeMessaging::NMService;
const CORBA::ULong kTagNMRef = NativeMessaging::TAG_NM_REF;
const CORBA::ULong kReplyNotAvailable = NativeMessaging::REPLY_NOT_AVAILABLE;

// What a reference's TAG_NM_REF component says it is.
enum RefKind { kNotNM = 0, kTypedReceiver = 1, kPoller = 2 };

// install registers the interceptors and the initial reference
// "NativeMessagingCurrent". Call it once, after ORB_init and before the
// first invocation.
void install(CORBA::ORB_ptr orb);

// current returns the Current (the same object for every thread; its state
// is per thread). The caller does not own the reference.
NativeMessaging::Current_ptr current();

// suppress_mode returns this thread's suppress mode (the IDL has only a
// setter). The default is TRUE, as in VisiBroker.
CORBA::Boolean suppress_mode();

// ref_kind returns what the TAG_NM_REF component of obj's IOR says.
RefKind ref_kind(CORBA::Object_ptr obj);

// is_rna reports whether e is the unsuppressed premature return:
// NO_RESPONSE with minor REPLY_NOT_AVAILABLE. (Inline: the plain
// polling_client uses it without linking nm_current.o.)
inline bool is_rna(const CORBA::Exception& e) {
  const CORBA::NO_RESPONSE* x = CORBA::NO_RESPONSE::_downcast(&e);
  return x != nullptr && x->minor() == kReplyNotAvailable;
}

}  // namespace nm

#endif
