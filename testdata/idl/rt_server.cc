// rt_server: omniORB implementation of RT::Echo (roundtrip.idl), the peer
// that proves values encoded by the idl package's marshaller are decoded by
// omniORB's generated stubs and vice versa.
//
//   rt_server [-ORB<option> <value> ...]
//   e.g. rt_server -ORBendPoint giop:tcp:127.0.0.1:21000
//
// The servant lives in omniINSPOA under the object id "RT", so it is also
// reachable as corbaloc:iiop:1.2@127.0.0.1:PORT/RT, and raw GIOP 1.0/1.1/1.2
// requests can use the object key "RT".
//
// stdout: line 1 is the stringified IOR; afterwards one line "checkBig: ..."
// or "checkWRec: ..." per check call ("ok" or the first difference).
// SIGTERM/SIGINT shut the ORB down and exit 0.

#include "rt_common.h"
#include "peer_util.hh"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <thread>

namespace {

// Clone copies by assignment.  omniORB 4.2.5 quirk: the implicit copy
// constructor of a struct with a fixed typedef member (RT::Money in RT::Rec)
// leaves the member's IDL digits unset, and marshalling the copy then fails
// an assertion in corbaFixed.cc; assignment keeps the target's digits.
template <typename T>
T* Clone(const T& v) {
  T* p = new T;
  *p = v;
  return p;
}

class EchoImpl : public POA_RT::Echo {
 public:
  void SetSelf(CORBA::Object_ptr self) { self_ = CORBA::Object::_duplicate(self); }

  RT::Rec* echoRec(const RT::Rec& r) override { return Clone(r); }
  RT::WRec* echoWRec(const RT::WRec& w) override { return new RT::WRec(w); }
  RT::U* echoU(const RT::U& v) override { return new RT::U(v); }
  RT::EU* echoEU(const RT::EU& v) override { return new RT::EU(v); }
  RT::BU echoBU(const RT::BU& v) override { return v; }
  RT::CU echoCU(const RT::CU& v) override { return v; }
  CORBA::Any* echoAny(const CORBA::Any& a) override { return new CORBA::Any(a); }
  RT::InnerSeq* echoInners(const RT::InnerSeq& s) override { return new RT::InnerSeq(s); }
  RT::Blob* echoBlob(const RT::Blob& b) override { return new RT::Blob(b); }
  RT::Names* echoNames(const RT::Names& n) override { return new RT::Names(n); }
  RT::Matrix_slice* echoMatrix(const RT::Matrix m) override { return RT::Matrix_dup(m); }
  RT::Money echoMoney(const RT::Money& m) override {
    RT::Money r;
    r = m;
    return r;
  }
  RT::Color echoColor(RT::Color c) override { return c; }
  RT::Node* echoNode(const RT::Node& n) override { return new RT::Node(n); }
  RT::Big* echoBig(const RT::Big& b) override { return Clone(b); }
  CORBA::TypeCode_ptr echoTC(CORBA::TypeCode_ptr tc) override { return CORBA::TypeCode::_duplicate(tc); }
  CORBA::Object_ptr echoObj(CORBA::Object_ptr o) override { return CORBA::Object::_duplicate(o); }
  CORBA::WChar* echoWString(const CORBA::WChar* w) override { return CORBA::wstring_dup(w); }
  CORBA::WChar echoWChar(CORBA::WChar c) override { return c; }

  CORBA::Long mixed(CORBA::Long x, char*& s, CORBA::Double& d, RT::Rec_out r2, const RT::Rec& r) override {
    std::string t = std::string(s) + "!";
    CORBA::string_free(s);
    s = CORBA::string_dup(t.c_str());
    d = x * 2.5;
    r2 = Clone(r);
    return x + 1;
  }

  void raiseBoom(CORBA::Long code) override { throw RT::Boom(code, "requested failure"); }

  RT::Big* makeBig() override { return Clone(rt::MakeBig(self_)); }

  char* checkBig(const RT::Big& b) override { return Report("checkBig", rt::CompareBig(b, self_)); }

  RT::WRec* makeWRec() override { return Clone(rt::MakeWRec()); }

  char* checkWRec(const RT::WRec& w) override { return Report("checkWRec", rt::CompareWRec(w)); }

 private:
  static char* Report(const char* op, const std::string& diff) {
    std::printf("%s: %s\n", op, diff.empty() ? "ok" : diff.c_str());
    std::fflush(stdout);
    return CORBA::string_dup(diff.c_str());
  }

  CORBA::Object_var self_;
};

}  // namespace

int main(int argc, char** argv) {
  sigset_t stop = peer::BlockStopSignals();
  try {
    CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);

    CORBA::Object_var obj = orb->resolve_initial_references("omniINSPOA");
    PortableServer::POA_var ins = PortableServer::POA::_narrow(obj);

    PortableServer::ObjectId_var oid = PortableServer::string_to_ObjectId("RT");
    PortableServer::Servant_var<EchoImpl> servant = new EchoImpl;
    ins->activate_object_with_id(oid, servant);

    CORBA::Object_var ref = ins->id_to_reference(oid);
    servant->SetSelf(ref);
    CORBA::String_var ior = orb->object_to_string(ref);
    std::cout << ior << std::endl;  // endl flushes: tests read this line

    ins->the_POAManager()->activate();
    peer::ShutdownOnSignal(stop, orb);
    orb->run();
    orb->destroy();
    return 0;
  } catch (CORBA::SystemException& e) {
    std::cerr << "rt_server: " << e._name() << " minor=0x" << std::hex << e.minor() << std::endl;
  } catch (CORBA::Exception& e) {
    std::cerr << "rt_server: " << e._name() << std::endl;
  }
  return 1;
}
