// bidir_server: omniORB reference peer for Demo::CallbackServer (bidir GIOP).
// The Go server replaces it in the test suite; it exists to check bidir_client.
//
//   bidir_server [-ORB<option> <value> ...]
//   e.g. bidir_server -ORBendPoint giop:tcp:127.0.0.1:21010
//
// one_time(cb, mesg, times) calls cb->call_back(mesg) `times` times before it
// returns.  With acceptBiDirectionalGIOP the callbacks go back over the
// client's connection when the client offered bidir and the callback IOR's
// address matches the client's BI_DIR_IIOP listen points.
//
// stdout: line 1 is the IOR, then one line "one_time: <times> x <mesg>" per
// call.  SIGTERM/SIGINT exit 0.  The object key is fixed ("\xffbidir\0" +
// "CallbackServer": persistent POA "bidir", USER_ID), so this also works:
//   corbaloc:iiop:1.2@127.0.0.1:PORT/%ffbidir%00CallbackServer
// (use the 1.2 form: bidir GIOP needs GIOP 1.2).

#include "demo.hh"
#include "peer_util.hh"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <thread>

namespace {

class CallbackServerImpl : public POA_Demo::CallbackServer {
 public:
  void one_time(Demo::CallBack_ptr cb, const char* mesg, CORBA::Long times) override {
    std::printf("one_time: %ld x %s\n", static_cast<long>(times), mesg);
    std::fflush(stdout);
    if (CORBA::is_nil(cb)) throw CORBA::BAD_PARAM(0, CORBA::COMPLETED_NO);
    try {
      for (CORBA::Long i = 0; i < times; ++i) cb->call_back(mesg);
    } catch (CORBA::SystemException& e) {
      // Logged here; the exception itself is passed back to the client.
      std::cerr << "bidir_server: call_back failed: " << e._name() << " minor=0x" << std::hex
                << e.minor() << std::dec << std::endl;
      throw;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  sigset_t stop = peer::BlockStopSignals();

  // Server-side bidir configuration, equivalent to
  //   -ORBacceptBiDirectionalGIOP 1 -ORBserverTransportRule "* unix,tcp,bidir".
  const char* options[][2] = {
      {"acceptBiDirectionalGIOP", "1"},
      {"serverTransportRule", "* unix,tcp,bidir"},
      {nullptr, nullptr},
  };
  try {
    CORBA::ORB_var orb = CORBA::ORB_init(argc, argv, "omniORB4", options);

    CORBA::Object_var obj = orb->resolve_initial_references("RootPOA");
    PortableServer::POA_var root = PortableServer::POA::_narrow(obj);
    PortableServer::POAManager_var mgr = root->the_POAManager();

    // BiDir BOTH + PERSISTENT + USER_ID: the object key is fixed
    // ("bidir" POA, id "CallbackServer"), so a corbaloc URL stays valid
    // across restarts on the same endpoint.
    CORBA::PolicyList pl;
    pl.length(3);
    CORBA::Any both;
    both <<= BiDirPolicy::BOTH;
    pl[0] = orb->create_policy(BiDirPolicy::BIDIRECTIONAL_POLICY_TYPE, both);
    pl[1] = root->create_lifespan_policy(PortableServer::PERSISTENT);
    pl[2] = root->create_id_assignment_policy(PortableServer::USER_ID);
    PortableServer::POA_var poa = root->create_POA("bidir", mgr, pl);

    PortableServer::ObjectId_var oid = PortableServer::string_to_ObjectId("CallbackServer");
    PortableServer::Servant_var<CallbackServerImpl> servant = new CallbackServerImpl;
    poa->activate_object_with_id(oid, servant);

    CORBA::Object_var ref = poa->id_to_reference(oid);
    CORBA::String_var ior = orb->object_to_string(ref);
    std::cout << ior << std::endl;

    mgr->activate();
    peer::ShutdownOnSignal(stop, orb);
    orb->run();
    orb->destroy();
    return 0;
  } catch (CORBA::SystemException& e) {
    std::cerr << "bidir_server: " << e._name() << " minor=0x" << std::hex << e.minor()
              << std::endl;
  } catch (CORBA::Exception& e) {
    std::cerr << "bidir_server: " << e._name() << std::endl;
  }
  return 1;
}
