// requestagent/nm.hh -- the Native Messaging client runtime for omniORB 4.2
// (librequestagent-nm; docs/cpp-client.md).
//
// It gives an omniORB application the NativeMessaging::Current of
// VisiBroker's documentation, the way VisiBroker does:
//
//   #include <requestagent/nm.hh>      // or "NativeMessaging_c.hh"
//   CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
//   NativeMessaging::Current_var cur = NativeMessaging::Current::_narrow(
//       CORBA::Object_var(orb->resolve_initial_references("NativeMessagingCurrent")));
//   cur->request_tag(tag);  rcv->add_stock("ACME", 100.5);  // a premature return
//   StockManager_var poller = StockManager::_narrow(CORBA::Object_var(cur->the_poller()));
//
// Linking the library is all the set-up there is: an omniORB module
// initialiser registers the interceptors at ORB_init and the initial
// reference "NativeMessagingCurrent". A program that never obtains the
// Current (resolve_initial_references, current() or install()) stays a
// plain client: no NMService context is sent, so the agent answers it
// unsuppressed, exactly as it answers a client without the library.
//
// The Current's settings and results are per calling thread
// (docs/native-messaging.md). What travels on the wire, and when, is
// docs/nm-wire.md; this runtime is written from that document.
//
// The generated stubs of NativeMessaging.idl are part of the library and
// installed next to this header (<requestagent/NativeMessaging.hh>).
#ifndef REQUESTAGENT_NM_HH
#define REQUESTAGENT_NM_HH

#include "NativeMessaging.hh"

namespace requestagent {
namespace nm {

const CORBA::ULong kServiceId = NativeMessaging::NMService;
const CORBA::ULong kNoMoreReply = NativeMessaging::NMNoMoreReply;
const CORBA::ULong kTagNMRef = NativeMessaging::TAG_NM_REF;
const CORBA::ULong kReplyNotAvailable = NativeMessaging::REPLY_NOT_AVAILABLE;

// What a reference's TAG_NM_REF component says it is.
enum RefKind { kNotNM = 0, kTypedReceiver = 1, kPoller = 2 };

// version returns the release of requestagent this library was built
// from (the agent's `requestagent --version` names the same).
const char* version();

// current returns the Current (the same object for every thread; its state
// is per thread), as resolve_initial_references("NativeMessagingCurrent")
// does. The caller does not own the reference.
NativeMessaging::Current_ptr current();

// install is the library's set-up as an explicit call, for programs that
// want to say so: the module initialiser has done it at ORB_init, so this
// only obtains the Current (see current()).
void install(CORBA::ORB_ptr orb);

// suppress_mode returns this thread's suppress mode (the IDL has only a
// setter). The default is TRUE, as in VisiBroker.
CORBA::Boolean suppress_mode();

// ref_kind returns what the TAG_NM_REF component of obj's IOR says.
RefKind ref_kind(CORBA::Object_ptr obj);

// is_rna reports whether e is the unsuppressed premature return:
// NO_RESPONSE with minor REPLY_NOT_AVAILABLE.
inline bool is_rna(const CORBA::Exception& e) {
  const CORBA::NO_RESPONSE* x = CORBA::NO_RESPONSE::_downcast(&e);
  return x != nullptr && x->minor() == kReplyNotAvailable;
}

namespace detail {
// Defined by the runtime. The reference below makes every program that
// includes this header link the runtime's object: from a static archive
// the linker would otherwise leave out the module initialiser nobody calls,
// and --as-needed would drop the shared library.
extern const int runtime_anchor;
__attribute__((used)) static const int* const runtime_anchor_ref = &runtime_anchor;
}  // namespace detail

}  // namespace nm
}  // namespace requestagent

#endif
