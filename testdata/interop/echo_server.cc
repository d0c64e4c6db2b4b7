// echo_server: omniORB reference implementation of Demo::Echo (demo.idl).
//
//   echo_server [-ORB<option> <value> ...]
//   e.g. echo_server -ORBendPoint giop:tcp:127.0.0.1:21000
//
// The servant lives in omniINSPOA under the object id "Echo", so besides the
// IOR it is reachable as corbaloc:iiop:1.2@127.0.0.1:PORT/Echo (GIOP 1.2) and
// corbaloc::127.0.0.1:PORT/Echo (GIOP 1.0).
//
// stdout: line 1 is the stringified IOR; afterwards one line "ping: <n>" per
// oneway ping received.  SIGTERM/SIGINT shut the ORB down and exit 0.

#include "demo.hh"
#include "peer_util.hh"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <thread>

namespace {

class EchoImpl : public POA_Demo::Echo {
 public:
  char* echoString(const char* m) override { return CORBA::string_dup(m); }

  Demo::Blob* echoBlob(const Demo::Blob& d) override { return new Demo::Blob(d); }

  void fail(CORBA::Long code) override { throw Demo::Oops(code, "requested failure"); }

  void failSystem(CORBA::ULong minor) override {
    throw CORBA::NO_PERMISSION(minor, CORBA::COMPLETED_NO);
  }

  CORBA::Double echoDouble(CORBA::Double d) override { return d; }

  CORBA::WChar* echoWString(const CORBA::WChar* w) override { return CORBA::wstring_dup(w); }

  void ping(const char* n) override {
    std::printf("ping: %s\n", n);
    std::fflush(stdout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  sigset_t stop = peer::BlockStopSignals();
  try {
    // ORB_init consumes all -ORB... arguments.
    CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);

    CORBA::Object_var obj = orb->resolve_initial_references("omniINSPOA");
    PortableServer::POA_var ins = PortableServer::POA::_narrow(obj);

    PortableServer::ObjectId_var oid = PortableServer::string_to_ObjectId("Echo");
    PortableServer::Servant_var<EchoImpl> servant = new EchoImpl;
    ins->activate_object_with_id(oid, servant);

    CORBA::Object_var ref = ins->id_to_reference(oid);
    CORBA::String_var ior = orb->object_to_string(ref);
    std::cout << ior << std::endl;  // endl flushes: tests read this line

    ins->the_POAManager()->activate();
    peer::ShutdownOnSignal(stop, orb);
    orb->run();
    orb->destroy();
    return 0;
  } catch (CORBA::SystemException& e) {
    std::cerr << "echo_server: " << e._name() << " minor=0x" << std::hex << e.minor()
              << std::endl;
  } catch (CORBA::Exception& e) {
    std::cerr << "echo_server: " << e._name() << std::endl;
  }
  return 1;
}
