// current.cc -- the NativeMessaging::Current and its omniORB interceptors
// (requestagent/nm.hh). The bytes sent and read are those of
// docs/nm-wire.md, encoded and decoded here by hand rather than through the
// IDL stubs: a call that carries an NM attribute then costs a few stores
// into a per-thread buffer instead of building an NMContextData, an
// encapsulation stream and copies of the tag and cookie.
//
// Which calls carry what (docs/nm-wire.md, "When"): a call on a reference
// whose IOR has TAG_NM_REF 0x01 (a typed receiver, or a request object of
// create_request) carries NM_REQUEST_INFO; on 0x02 (a poller or reply
// holder), NM_WAIT_TIMEOUT; on anything else (the RequestAgent, a
// RequestProxy, any other object), nothing. Core operations (_is_a,
// _non_existent, ...) never carry a context. The component is looked for
// once per reference, when omniORB decodes its IOR (a decodeIOR
// interceptor keeps the answer in the IOR's extra info), not on every call.
//
// Only calls on TAG_NM_REF objects update the Current's results
// (reply_not_available, the_poller, replier_name, no_more_reply), so a
// RequestProxy::poll between two pulls leaves them alone. A call that gets
// no reply at all (connection lost) leaves reply_not_available TRUE and
// the_poller nil: both are reset when the request is sent. The poller's
// reference is kept as the context's octets and made into an object
// reference only when the_poller is read; a thread's pollers from one
// agent proxy share their decoded IOR (PollerTemplate).

#include "requestagent/nm.hh"

#include <omniORB4/omniInterceptors.h>
#include <omniORB4/IOP_C.h>
#include <omniORB4/internal/giopStrand.h>
#include <omniORB4/internal/giopStream.h>
#include <omniORB4/internal/GIOP_C.h>
#include <omniORB4/internal/initialiser.h>
#include <omniORB4/internal/initRefs.h>
#include <omniORB4/internal/remoteIdentity.h>

#include <atomic>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#ifndef REQUESTAGENT_NM_VERSION
#define REQUESTAGENT_NM_VERSION "dev"
#endif

using omni::omniInterceptors;

namespace requestagent {
namespace nm {

namespace detail {
const int runtime_anchor = 1;
}  // namespace detail

namespace {

// NMContextKind's values (docs/nm-wire.md: the union's discriminant).
const CORBA::ULong kReqInfo = NativeMessaging::NM_REQUEST_INFO;
const CORBA::ULong kWaitTimeout = NativeMessaging::NM_WAIT_TIMEOUT;
const CORBA::ULong kPollerKind = NativeMessaging::NM_POLLER;
const CORBA::ULong kReplierName = NativeMessaging::NM_REPLIER_NAME;
// The ORB type of the agent's references (giop/SPEC.md, "IORs and
// corbaloc": "RA\0\0").
const CORBA::ULong kORBTypeRequestAgent = 0x52410000;

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
  // The NM_POLLER context's data, unmarshalled into poller by the_poller.
  std::vector<CORBA::Octet> poller_data;
  CORBA::Object_var poller;
  std::string replier_name;

  void reset() {
    no_more_reply = 0;
    poller_data.clear();
    poller = CORBA::Object::_nil();
    replier_name.clear();
  }
};

// PollerTemplate is a poller reference omniORB made the ordinary way
// (decoding its IOR), kept so that the next pollers of the same agent need
// not be decoded again. The agent's pollers of one proxy differ only in
// their object key (agent/pollerref.go: it writes each request's id into
// one encoded context), and decoding a new IOR is most of what a 2PI costs
// this client (docs/cpp-client.md): omniORB decodes the profile and its
// components and turns the address into a URI and back, to find the
// connections (the rope) it already has to the agent. A context whose
// octets equal the template's outside the object key has the template's
// address, components and code sets, so its reference can dispatch
// through the template's decoded IOR and rope with its own key.
struct PollerTemplate {
  CORBA::Object_var obj;            // the reference omniORB made
  std::vector<CORBA::Octet> data;   // the NM_POLLER context it came from
  size_t key_at = 0, key_len = 0;   // its object key, within data
  size_t prof_at = 0, prof_len = 0; // its IIOP profile's octets, within data
  CORBA::ULong prof_index = 0;      // which profile that is
};

struct State {
  Settings in;
  Results out;
  PollerTemplate tmpl;
  // push_context saves both; pop_context restores them.
  std::vector<std::pair<Settings, Results>> pushed;
  // The encapsulation of the context being sent: the request's service
  // context points into it (not owned), so sending allocates nothing once
  // it has grown to the thread's largest tag and cookie.
  std::vector<CORBA::Octet> enc;
  // The one-element buffer the request's context list is given when no
  // other interceptor has added a context (not owned either): omniORB's
  // list would otherwise allocate (and construct, and free) five
  // ServiceContexts per call.
  IOP::ServiceContext sc[1];
  // The call this thread has sent last and the kind SendRequest found for
  // it, so that ReceiveReply need not look at the reference again: a reply
  // on the same GIOP_C in the same thread is that call's (a call nested in
  // between, from another interceptor, has its own GIOP_C and clears
  // this), and any other reply looks for itself.
  const void* pending = nullptr;
  RefKind pending_kind = kNotNM;
};

State& state() {
  thread_local State s;
  return s;
}

// active is set once the application has obtained the Current: until then
// the interceptors do nothing, and the program is a plain client.
std::atomic<bool> active{false};

// DecodePoller makes the reference of an NM_POLLER context's data.
CORBA::Object_ptr DecodePoller(const std::vector<CORBA::Octet>& d) {
  try {
    cdrEncapsulationStream s(d.data(), static_cast<CORBA::ULong>(d.size()), 1);
    CORBA::ULong kind;
    kind <<= s;
    return CORBA::Object::_unmarshalObjRef(s);
  } catch (const CORBA::SystemException&) {
    return CORBA::Object::_nil();  // undecodable: as if there were none
  }
}

// Reader walks CDR in d: unsigned longs aligned from base, in the byte
// order of the octet at base.
struct Reader {
  const std::vector<CORBA::Octet>& d;
  size_t base;
  size_t at;

  bool little() const { return d[base] & 1; }
  bool ULong(CORBA::ULong* v) {
    // CDR's byte-order octet is 0 or 1: any other is refused, since
    // omniORB reads every non-zero one as little-endian and the two
    // readings of one profile would name different object keys.
    if (d[base] > 1) return false;
    at = base + (at - base + 3) / 4 * 4;
    if (at + 4 > d.size()) return false;
    const CORBA::Octet* p = &d[at];
    *v = little() ? CORBA::ULong(p[0]) | CORBA::ULong(p[1]) << 8 | CORBA::ULong(p[2]) << 16 | CORBA::ULong(p[3]) << 24
                  : CORBA::ULong(p[0]) << 24 | CORBA::ULong(p[1]) << 16 | CORBA::ULong(p[2]) << 8 | CORBA::ULong(p[3]);
    at += 4;
    return true;
  }
  bool Skip(size_t n) {
    if (at > d.size() || n > d.size() - at) return false;
    at += n;
    return true;
  }
  bool Align2() {
    at = base + (at - base + 1) / 2 * 2;
    return at <= d.size();
  }
};

// LocateKey finds, in an NM_POLLER context's data (docs/nm-wire.md: the
// kind, then the poller's IOR), the first IIOP profile, the one omniORB
// selects, and the object key in it (giop/SPEC.md, "IORs and corbaloc":
// type id, tagged profiles; the IIOP profile an encapsulation of version,
// host, port, object key and components).
bool LocateKey(PollerTemplate& t) {
  const std::vector<CORBA::Octet>& d = t.data;
  if (d.empty()) return false;
  Reader r{d, 0, 1};
  CORBA::ULong kind, n, count;
  if (!r.ULong(&kind) || !r.ULong(&n) || !r.Skip(n) || !r.ULong(&count)) return false;
  for (CORBA::ULong i = 0; i < count; i++) {
    CORBA::ULong tag, len;
    if (!r.ULong(&tag) || !r.ULong(&len) || len > d.size() - r.at) return false;
    if (tag != IOP::TAG_INTERNET_IOP) {
      r.at += len;
      continue;
    }
    // The profile: byte order, version, host, port, object key, ...
    Reader p{d, r.at, r.at + 3};
    CORBA::ULong host, key;
    size_t end = r.at + len;
    if (len < 3 || !p.ULong(&host) || !p.Skip(host) || !p.Align2() || !p.Skip(2) || !p.ULong(&key) ||
        p.at > end || key > end - p.at)
      return false;
    t.prof_index = i;
    t.prof_at = r.at;
    t.prof_len = len;
    t.key_at = p.at;
    t.key_len = key;
    return true;
  }
  return false;
}

// Matches reports whether d is t's context but for the object key.
bool Matches(const PollerTemplate& t, const std::vector<CORBA::Octet>& d) {
  return !CORBA::is_nil(t.obj) && d.size() == t.data.size() &&
         std::memcmp(d.data(), t.data.data(), t.key_at) == 0 &&
         std::memcmp(d.data() + t.key_at + t.key_len, t.data.data() + t.key_at + t.key_len,
                     d.size() - t.key_at - t.key_len) == 0;
}

// FromTemplate makes the reference of d, which Matches t: an omniIOR of
// its own (so the reference marshals and prints as the agent sent it),
// not decoded, and an identity with its object key that dispatches
// through the template's decoded IOR and rope, as the one omniORB would
// make for it would (omni::createIdentity, omniORB 4.2.5: the same
// addresses give the same rope). Nil when the template cannot serve: it
// was forwarded, its IOR is not the one it was made from, omniORB was
// told to address it by profile, or the ORB is shutting down.
CORBA::Object_ptr FromTemplate(const PollerTemplate& t, const std::vector<CORBA::Octet>& d) {
  omniIOR* ior;
  try {
    cdrEncapsulationStream s(d.data(), static_cast<CORBA::ULong>(d.size()), 1);
    CORBA::ULong kind;
    kind <<= s;
    CORBA::String_var id = IOP::IOR::unmarshaltype_id(s);
    IOP::TaggedProfileList_var profiles = new IOP::TaggedProfileList;
    (IOP::TaggedProfileList&)profiles <<= s;
    if (profiles->length() <= t.prof_index) return CORBA::Object::_nil();
    ior = new omniIOR(id._retn(), profiles._retn());
  } catch (const CORBA::SystemException&) {
    return CORBA::Object::_nil();
  }
  ior->addr_selected_profile_index(static_cast<CORBA::Long>(t.prof_index));

  omniObjRef* tr = t.obj->_PR_getobj();
  omniIdentity* id = nullptr;
  {
    omni_tracedmutex_lock sync(*omni::internalLock);
    omniRemoteIdentity* rid = tr->_isForwardLocation() ? nullptr : omniRemoteIdentity::downcast(tr->_identity());
    if (rid != nullptr) {
      omniIOR* tior = tr->_getIOR();
      const IOP::TaggedProfileList& tp = tior->iopProfiles();
      bool same = tior->addr_mode() == GIOP::KeyAddr && tp.length() > t.prof_index &&
                  tp[t.prof_index].tag == IOP::TAG_INTERNET_IOP &&
                  tp[t.prof_index].profile_data.length() == t.prof_len &&
                  std::memcmp(tp[t.prof_index].profile_data.get_buffer(), t.data.data() + t.prof_at, t.prof_len) == 0;
      if (same) {
        omni::Rope* rope = rid->rope();
        rope->incrRefCount();
        // Consumes tior and the rope's reference; copies the key.
        id = new omniRemoteIdentity(tior, d.data() + t.key_at, static_cast<CORBA::ULong>(t.key_len), rope);
      } else {
        tior->release();
      }
    }
  }
  if (id == nullptr) {
    ior->release();
    return CORBA::Object::_nil();
  }
  omniObjRef* o = omni::createObjRef(CORBA::Object::_PD_repoId, ior, 0, id);  // consumes ior
  if (o == nullptr) return CORBA::Object::_nil();
  return static_cast<CORBA::Object_ptr>(o->_ptrToObjRef(CORBA::Object::_PD_repoId));
}

// MakePoller makes the reference of the poller context d: from this
// thread's template when d matches it, otherwise decoded by omniORB and
// kept as the template.
CORBA::Object_ptr MakePoller(PollerTemplate& t, const std::vector<CORBA::Octet>& d) {
  if (Matches(t, d)) {
    CORBA::Object_ptr p = FromTemplate(t, d);
    if (!CORBA::is_nil(p)) return p;
  }
  CORBA::Object_ptr p = DecodePoller(d);
  t.obj = CORBA::Object::_nil();
  if (CORBA::is_nil(p) || p->_NP_is_pseudo()) return p;
  // Only a requestagent's pollers (TAG_ORB_TYPE, giop/SPEC.md) serve as
  // templates: its server addresses objects by key alone (it never asks
  // for another GIOP 1.2 addressing mode, which omniORB would answer with
  // the template's profile).
  omniIOR* ior = p->_PR_getobj()->_getIOR();
  bool ours = ior->getIORInfo()->orbType() == kORBTypeRequestAgent;
  ior->release();
  if (!ours) return p;
  t.data = d;
  if (LocateKey(t)) t.obj = CORBA::Object::_duplicate(p);
  return p;
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
  CORBA::Object_ptr the_poller() override {
    Results& r = state().out;
    if (CORBA::is_nil(r.poller) && !r.poller_data.empty()) {
      r.poller = MakePoller(state().tmpl, r.poller_data);
      r.poller_data.clear();
      // The agent that made it has just answered, and the reference is
      // new and ours alone: omniORB need not send a LocateRequest before
      // its first call (-ORBverifyObjectExistsAndType, on by default),
      // a round trip per 2PI. A trashed poller still answers
      // OBJECT_NOT_EXIST to the pull itself.
      if (!CORBA::is_nil(r.poller)) r.poller->_PR_getobj()->_noExistentCheck();
    }
    return CORBA::Object::_duplicate(r.poller);
  }
  char* replier_name() override { return CORBA::string_dup(state().out.replier_name.c_str()); }
  // TRUE when the last reply took the request's last reply: the agent says
  // so with NMNoMoreReply (docs/nm-wire.md).
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

NativeMessaging::Current_ptr Activate() {
  active.store(true, std::memory_order_relaxed);
  return the_current;
}

// The pseudo object of resolve_initial_references("NativeMessagingCurrent").
CORBA::Object_ptr ResolveCurrent() { return NativeMessaging::Current::_duplicate(Activate()); }

// What the decodeIOR interceptor found, kept in the IOR's extra info.
class KindInfo : public omniIOR::IORExtraInfo {
 public:
  explicit KindInfo(RefKind k) : omniIOR::IORExtraInfo(NativeMessaging::TAG_NM_REF), kind(k) {}
  RefKind kind;
};

// KindOfComponents reads TAG_NM_REF: an encapsulation of one octet.
RefKind KindOfComponents(const IOP::MultipleComponentProfile& comps) {
  for (CORBA::ULong j = 0; j < comps.length(); j++) {
    if (comps[j].tag != kTagNMRef) continue;
    const _CORBA_Unbounded_Sequence_Octet& d = comps[j].component_data;
    // Either byte order: the octet follows the byte-order octet.
    if (d.length() >= 2 && d[0] <= 1) {
      CORBA::Octet v = d[1];
      if (v == kTypedReceiver || v == kPoller) return static_cast<RefKind>(v);
    }
    return kNotNM;
  }
  return kNotNM;
}

// ScanIOR finds TAG_NM_REF in the IIOP and multiple-components profiles.
RefKind ScanIOR(const omniIOR& ior) {
  const IOP::TaggedProfileList& profiles = ior.iopProfiles();
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
    RefKind k = KindOfComponents(comps);
    if (k != kNotNM) return k;
  }
  return kNotNM;
}

// DecodeIOR runs once per reference, as omniORB decodes its IOR.
CORBA::Boolean DecodeIOR(omniInterceptors::decodeIOR_T::info_T& info) {
  RefKind k = info.has_iiop_body ? KindOfComponents(info.iiop.components) : kNotNM;
  if (k == kNotNM) {
    // The component may be in another profile (multiple components).
    const IOP::TaggedProfileList& profiles = info.ior.iopProfiles();
    bool other = false;
    for (CORBA::ULong i = 0; i < profiles.length(); i++)
      if (profiles[i].tag == IOP::TAG_MULTIPLE_COMPONENTS) other = true;
    if (other) k = ScanIOR(info.ior);
  }
  if (k == kNotNM) return 1;
  omniIOR::IORExtraInfoList& l = info.ior.getIORInfo()->extraInfo();
  for (CORBA::ULong i = 0; i < l.length(); i++)
    if (l[i]->compid == kTagNMRef) return 1;
  CORBA::ULong n = l.length();
  l.length(n + 1);
  l[n] = new KindInfo(k);
  return 1;
}

RefKind KindOfIOR(const omniIOR* ior) {
  if (ior == nullptr) return kNotNM;
  const omniIOR::IORExtraInfoList& l = ior->getIORInfo()->extraInfo();
  for (CORBA::ULong i = 0; i < l.length(); i++)
    if (l[i]->compid == kTagNMRef) return static_cast<const KindInfo*>(l[i])->kind;
  return kNotNM;
}

// Core operations never carry an NMService context (docs/nm-wire.md).
bool IsCoreOperation(const char* op) {
  static const char* const core[] = {"_is_a", "_non_existent", "_not_existent", "_interface",
                                     "_get_interface_def", "_repository_id", "_component",
                                     "_get_component"};
  if (op == nullptr || op[0] != '_') return false;
  for (const char* c : core)
    if (std::strcmp(op, c) == 0) return true;
  return false;
}

template <class Info>
RefKind KindOfCall(Info& info) {
  RefKind k = KindOfIOR(info.giop_c.ior());
  if (k == kNotNM || IsCoreOperation(info.operation())) return kNotNM;
  return k;
}

// Writer is the encoder of docs/nm-wire.md: big-endian (byte-order octet
// 0), CDR alignment counted from the encapsulation's first octet, into a
// buffer sized beforehand (MaxSize), so that encoding is plain stores.
struct Writer {
  CORBA::Octet* base;
  CORBA::Octet* p;

  void Align4() {
    while ((p - base) % 4 != 0) *p++ = 0;
  }
  void ULong(CORBA::ULong v) {
    Align4();
    p[0] = static_cast<CORBA::Octet>(v >> 24);
    p[1] = static_cast<CORBA::Octet>(v >> 16);
    p[2] = static_cast<CORBA::Octet>(v >> 8);
    p[3] = static_cast<CORBA::Octet>(v);
    p += 4;
  }
  void Octets(const _CORBA_Unbounded_Sequence_Octet& o) {
    ULong(o.length());
    if (o.length() > 0) std::memcpy(p, o.get_buffer(), o.length());
    p += o.length();
  }
};

// MaxSize bounds the NM_REQUEST_INFO encapsulation of tag and cookie: the
// byte-order octet, four unsigned longs, the two octet strings, the
// suppress_mode octet and at most three octets of padding before each
// unsigned long.
size_t MaxSize(const NativeMessaging::RequestTag& tag, const NativeMessaging::OctetSeq& cookie) {
  return 1 + 4 * (4 + 3) + tag.length() + cookie.length() + 1;
}

CORBA::Boolean SendRequest(omniInterceptors::clientSendRequest_T::info_T& info) {
  if (!active.load(std::memory_order_relaxed)) return 1;
  RefKind kind = KindOfCall(info);
  State& s = state();
  s.pending = &info.giop_c;
  s.pending_kind = kind;
  if (kind == kNotNM) return 1;
  // Until a reply says otherwise, this call is a failure between client
  // and agent: a call that never gets a reply leaves these.
  s.out.reply_not_available = 1;
  s.out.reset();

  std::vector<CORBA::Octet>& b = s.enc;
  size_t max = MaxSize(s.in.request_tag, s.in.the_cookie);
  if (b.size() < max) b.resize(max);
  Writer w{b.data(), b.data()};
  *w.p++ = 0;  // big-endian
  if (kind == kTypedReceiver) {
    w.ULong(kReqInfo);
    w.Octets(s.in.request_tag);
    w.Octets(s.in.the_cookie);
    w.ULong(s.in.wait_timeout);
    *w.p++ = s.in.suppress_mode ? 1 : 0;
  } else {
    w.ULong(kWaitTimeout);
    w.ULong(s.in.wait_timeout);
  }
  CORBA::ULong len = static_cast<CORBA::ULong>(w.p - w.base);
  IOP::ServiceContextList& l = info.service_contexts;
  CORBA::ULong n = l.length();
  IOP::ServiceContext* sc;
  if (n == 0 && l.NP_data() == nullptr) {
    // Ours is the first context: the list takes the thread's buffer (not
    // owned; a later interceptor that adds one makes omniORB copy it into
    // a buffer of its own).
    l.replace(1, 1, s.sc, 0);
    sc = &s.sc[0];
  } else {
    l.length(n + 1);
    sc = &l[n];
  }
  sc->context_id = kServiceId;
  sc->context_data.replace(len, len, b.data(), 0);  // not owned: s.enc outlives the send
  return 1;
}

// ULongAt reads the CDR unsigned long at offset off of an encapsulation
// whose first octet gives the byte order.
bool ULongAt(const IOP::ServiceContext& sc, CORBA::ULong off, CORBA::ULong* v) {
  const CORBA::Octet* p = sc.context_data.get_buffer();
  if (sc.context_data.length() < off + 4) return false;
  if (p[0] > 1) return false;  // a byte order CDR does not have: undecodable
  if (p[0] == 1)
    *v = CORBA::ULong(p[off]) | CORBA::ULong(p[off + 1]) << 8 | CORBA::ULong(p[off + 2]) << 16 |
         CORBA::ULong(p[off + 3]) << 24;
  else
    *v = CORBA::ULong(p[off]) << 24 | CORBA::ULong(p[off + 1]) << 16 | CORBA::ULong(p[off + 2]) << 8 |
         CORBA::ULong(p[off + 3]);
  return true;
}

CORBA::Boolean ReceiveReply(omniInterceptors::clientReceiveReply_T::info_T& info) {
  if (!active.load(std::memory_order_relaxed)) return 1;
  State& s = state();
  RefKind ref = s.pending == &info.giop_c ? s.pending_kind : KindOfCall(info);
  s.pending = nullptr;
  if (ref == kNotNM) return 1;
  s.out.reset();
  bool seen = false;
  for (CORBA::ULong i = 0; i < info.service_contexts.length(); i++) {
    const IOP::ServiceContext& sc = info.service_contexts[i];
    if (sc.context_id == kNoMoreReply) {
      s.out.no_more_reply = 1;
      continue;
    }
    if (sc.context_id != kServiceId) continue;
    CORBA::ULong kind;
    if (!ULongAt(sc, 4, &kind)) continue;  // undecodable: ignored, as the IDL says
    if (kind == kPollerKind) {
      const CORBA::Octet* p = sc.context_data.get_buffer();
      s.out.poller_data.assign(p, p + sc.context_data.length());
      s.out.reply_not_available = 1;
      seen = true;
    } else if (kind == kReplierName) {
      try {
        cdrEncapsulationStream dec(sc.context_data.get_buffer(), sc.context_data.length(), 1);
        kind <<= dec;
        CORBA::String_var name = dec.unmarshalRawString();
        s.out.replier_name = name.in();
      } catch (const CORBA::SystemException&) {
        continue;
      }
      s.out.reply_not_available = 0;
      seen = true;
    }
    // Other kinds are not meant for replies: ignored.
  }
  if (!seen) s.out.reply_not_available = info.giop_c.replyStatus() != GIOP::NO_EXCEPTION;
  return 1;
}

// The module initialiser: omniORB runs attach() in ORB_init and detach()
// in ORB::destroy, so linking the library is the whole set-up.
class Initialiser : public omni::omniInitialiser {
 public:
  Initialiser() {
    the_current = new CurrentImpl;
    omni::omniInitialiser::install(this);
    omni::omniInitialReferences::registerPseudoObjFn("NativeMessagingCurrent", ResolveCurrent);
  }
  void attach() override {
    omniInterceptors* i = omniORB::getInterceptors();
    i->decodeIOR.add(DecodeIOR);
    i->clientSendRequest.add(SendRequest);
    i->clientReceiveReply.add(ReceiveReply);
  }
  void detach() override {
    omniInterceptors* i = omniORB::getInterceptors();
    i->decodeIOR.remove(DecodeIOR);
    i->clientSendRequest.remove(SendRequest);
    i->clientReceiveReply.remove(ReceiveReply);
  }
};

Initialiser initialiser;

}  // namespace

const char* version() { return REQUESTAGENT_NM_VERSION; }

void install(CORBA::ORB_ptr) { Activate(); }

NativeMessaging::Current_ptr current() { return Activate(); }

CORBA::Boolean suppress_mode() { return state().in.suppress_mode; }

RefKind ref_kind(CORBA::Object_ptr obj) {
  if (CORBA::is_nil(obj) || obj->_NP_is_pseudo()) return kNotNM;
  omniIOR* ior = obj->_PR_getobj()->_getIOR();  // a new reference to the omniIOR
  RefKind k = KindOfIOR(ior);
  if (k == kNotNM) k = ScanIOR(*ior);  // decoded before the ORB was initialised
  ior->release();
  return k;
}

}  // namespace nm
}  // namespace requestagent
