// nm_current.cc -- see nm_current.hh.
#include "nm_current.hh"

#include <omniORB4/omniInterceptors.h>
#include <omniORB4/IOP_C.h>
#include <omniORB4/internal/giopStrand.h>
#include <omniORB4/internal/giopStream.h>
#include <omniORB4/internal/GIOP_C.h>

#include <cstring>
#include <string>
#include <vector>

using omni::omniInterceptors;

namespace nm {
namespace {

// The Current's attributes, per thread.
struct Settings {
  NativeMessaging::RequestTag request_tag;
  NativeMessaging::OctetSeq the_cookie;
  CORBA::ULong wait_timeout = 0;
  CORBA::Boolean suppress_mode = 1;  // VisiBroker's default: suppressed
};

// Results of the last call on a TAG_NM_REF object.
struct Results {
  CORBA::Boolean reply_not_available = 0;
  CORBA::Boolean no_more_reply = 0;
  CORBA::Object_var the_poller;
  std::string replier_name;
};

struct State {
  Settings in;
  Results out;
  // push_context saves both; pop_context restores them.
  std::vector<std::pair<Settings, Results>> pushed;
};

State& state() {
  thread_local State s;
  return s;
}

class CurrentImpl : public NativeMessaging::Current {
 public:
  NativeMessaging::RequestTag* request_tag() override {
    return new NativeMessaging::RequestTag(state().in.request_tag);
  }
  void request_tag(const NativeMessaging::RequestTag& v) override { state().in.request_tag = v; }
  NativeMessaging::OctetSeq* the_cookie() override {
    return new NativeMessaging::OctetSeq(state().in.the_cookie);
  }
  void the_cookie(const NativeMessaging::OctetSeq& v) override { state().in.the_cookie = v; }
  CORBA::ULong wait_timeout() override { return state().in.wait_timeout; }
  void wait_timeout(CORBA::ULong v) override { state().in.wait_timeout = v; }
  void suppress_mode(CORBA::Boolean flag) override { state().in.suppress_mode = flag; }
  CORBA::Boolean reply_not_available() override { return state().out.reply_not_available; }
  CORBA::Object_ptr the_poller() override { return CORBA::Object::_duplicate(state().out.the_poller); }
  char* replier_name() override { return CORBA::string_dup(state().out.replier_name.c_str()); }
  // TRUE when the last reply took the request's last reply: the agent says
  // so with NMNoMoreReply, or the request is gone (REQUEST_TRASHED).
  CORBA::Boolean no_more_reply() override { return state().out.no_more_reply; }
  void push_context() override {
    State& s = state();
    s.pushed.emplace_back(s.in, s.out);
  }
  void pop_context() override {
    State& s = state();
    if (s.pushed.empty()) throw CORBA::BAD_INV_ORDER(0, CORBA::COMPLETED_NO);
    s.in = s.pushed.back().first;
    s.out = s.pushed.back().second;
    s.pushed.pop_back();
  }
};

CurrentImpl* the_current = nullptr;

// KindOfIOR finds TAG_NM_REF in the IIOP (or multiple-components) profiles.
RefKind KindOfIOR(const omniIOR* ior) {
  if (ior == nullptr) return kNotNM;
  const IOP::TaggedProfileList& profiles = ior->iopProfiles();
  for (CORBA::ULong i = 0; i < profiles.length(); i++) {
    IOP::MultipleComponentProfile comps;
    try {
      if (profiles[i].tag == IOP::TAG_INTERNET_IOP) {
        IIOP::ProfileBody body;
        IIOP::unmarshalProfile(profiles[i], body);
        comps = body.components;
      } else if (profiles[i].tag == IOP::TAG_MULTIPLE_COMPONENTS) {
        IIOP::unmarshalMultiComponentProfile(profiles[i], comps);
      } else {
        continue;
      }
    } catch (const CORBA::SystemException&) {
      continue;
    }
    for (CORBA::ULong j = 0; j < comps.length(); j++) {
      if (comps[j].tag != kTagNMRef) continue;
      // component_data: an encapsulation of one octet.
      const _CORBA_Unbounded_Sequence_Octet& d = comps[j].component_data;
      try {
        cdrEncapsulationStream s(d.get_buffer(), d.length(), 1);
        CORBA::Octet v = s.unmarshalOctet();
        if (v == kTypedReceiver || v == kPoller) return static_cast<RefKind>(v);
      } catch (const CORBA::SystemException&) {
      }
      return kNotNM;
    }
  }
  return kNotNM;
}

// Core operations never carry an NMService context (docs/native-messaging.md).
bool IsCoreOperation(const char* op) {
  static const char* const core[] = {"_is_a", "_non_existent", "_not_existent", "_interface",
                                     "_get_interface_def", "_repository_id", "_component",
                                     "_get_component"};
  if (op == nullptr || op[0] != '_') return false;
  for (const char* c : core)
    if (std::strcmp(op, c) == 0) return true;
  return false;
}

RefKind KindOfCall(omni::GIOP_C& giop_c, const char* op) {
  if (IsCoreOperation(op)) return kNotNM;
  return KindOfIOR(giop_c.ior());
}

CORBA::Boolean SendRequest(omniInterceptors::clientSendRequest_T::info_T& info) {
  RefKind kind = KindOfCall(info.giop_c, info.operation());
  if (kind == kNotNM) return 1;
  State& s = state();
  // Until a reply says otherwise, this call is a failure between client
  // and agent: a call that never gets a reply leaves these.
  s.out.reply_not_available = 1;
  s.out.no_more_reply = 0;
  s.out.the_poller = CORBA::Object::_nil();
  s.out.replier_name.clear();

  NativeMessaging::NMContextData data;
  if (kind == kTypedReceiver) {
    NativeMessaging::RequestInfo ri;
    ri.request_tag = s.in.request_tag;
    ri.cookie = s.in.the_cookie;
    ri.wait_timeout = s.in.wait_timeout;
    ri.suppress_mode = s.in.suppress_mode;
    data.req_info(ri);
  } else {
    data.wait_timeout(s.in.wait_timeout);
  }
  cdrEncapsulationStream enc(CORBA::ULong(0), 1);  // writes the byte-order octet
  data >>= enc;

  CORBA::ULong n = info.service_contexts.length();
  info.service_contexts.length(n + 1);
  info.service_contexts[n].context_id = kServiceId;
  info.service_contexts[n].context_data.length(static_cast<CORBA::ULong>(enc.bufSize()));
  std::memcpy(info.service_contexts[n].context_data.get_buffer(), enc.bufPtr(), enc.bufSize());
  return 1;
}

CORBA::Boolean ReceiveReply(omniInterceptors::clientReceiveReply_T::info_T& info) {
  if (KindOfCall(info.giop_c, info.operation()) == kNotNM) return 1;
  State& s = state();
  s.out.the_poller = CORBA::Object::_nil();
  s.out.replier_name.clear();
  s.out.no_more_reply = 0;
  bool seen = false;
  for (CORBA::ULong i = 0; i < info.service_contexts.length(); i++) {
    const IOP::ServiceContext& sc = info.service_contexts[i];
    if (sc.context_id == NativeMessaging::NMNoMoreReply) {
      s.out.no_more_reply = 1;
      continue;
    }
    if (sc.context_id != kServiceId) continue;
    NativeMessaging::NMContextData data;
    try {
      cdrEncapsulationStream dec(sc.context_data.get_buffer(), sc.context_data.length(), 1);
      data <<= dec;
    } catch (const CORBA::SystemException&) {
      continue;  // undecodable (or an unknown kind): ignored, as the IDL says
    }
    switch (data._d()) {
      case NativeMessaging::NM_POLLER:
        s.out.the_poller = CORBA::Object::_duplicate(data.the_poller());
        s.out.reply_not_available = 1;
        seen = true;
        break;
      case NativeMessaging::NM_REPLIER_NAME:
        s.out.replier_name = data.replier_name();
        s.out.reply_not_available = 0;
        seen = true;
        break;
      default:
        break;  // not meant for replies
    }
  }
  if (!seen) s.out.reply_not_available = info.giop_c.replyStatus() != GIOP::NO_EXCEPTION;
  return 1;
}

}  // namespace

void install(CORBA::ORB_ptr orb) {
  if (the_current != nullptr) return;
  the_current = new CurrentImpl;
  omniORB::getInterceptors()->clientSendRequest.add(SendRequest);
  omniORB::getInterceptors()->clientReceiveReply.add(ReceiveReply);
  orb->register_initial_reference("NativeMessagingCurrent", the_current);
}

NativeMessaging::Current_ptr current() { return the_current; }

CORBA::Boolean suppress_mode() { return state().in.suppress_mode; }

RefKind ref_kind(CORBA::Object_ptr obj) {
  if (CORBA::is_nil(obj) || obj->_NP_is_pseudo()) return kNotNM;
  omniIOR* ior = obj->_PR_getobj()->_getIOR();  // a new reference to the omniIOR
  RefKind k = KindOfIOR(ior);
  ior->release();
  return k;
}

}  // namespace nm
