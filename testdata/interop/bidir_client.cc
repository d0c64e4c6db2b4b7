// bidir_client: omniORB bidirectional-GIOP client for Demo::CallbackServer.
//
//   bidir_client [-ORB<option> <value> ...] <ref-to-Demo::CallbackServer> [times]
//
// Activates a Demo::CallBack servant in a BiDir (BOTH) POA, calls
// server->one_time(cb, "hello", times) (times defaults to 2) and expects the
// server to call cb->call_back("hello") `times` times while one_time is still
// in progress.  Because bidir is offered, omniORB tells the server (service
// context BI_DIR_IIOP) that the callback's address is reachable over the
// client's own outgoing connection.
//
// stdout:  call_back: hello      (one line per callback, flushed)
//          one_time returned
//          PASS                  (exit 0; otherwise "FAIL: <what>", exit 1)
//
// To prove the callbacks use the client's connection, make the advertised
// callback address unreachable:
//   -ORBendPoint giop:tcp:127.0.0.1:<P> -ORBendPointPublish giop:tcp:127.0.0.1:<Q>
// with nothing listening on Q (see README.md).

#include "demo.hh"
#include "peer_util.hh"

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

namespace {

std::atomic<long> g_callbacks{0};

class CallBackImpl : public POA_Demo::CallBack {
 public:
  void call_back(const char* mesg) override {
    ++g_callbacks;
    std::cout << "call_back: " << mesg << std::endl;  // flushed
  }
};

struct Failure {
  std::string what;
};

}  // namespace

int main(int argc, char** argv) {
  // Client-side bidir configuration, equivalent to
  //   -ORBofferBiDirectionalGIOP 1 -ORBclientTransportRule "* unix,tcp,bidir".
  // -ORB arguments on the command line are applied after this table and win.
  const char* options[][2] = {
      {"offerBiDirectionalGIOP", "1"},
      {"clientTransportRule", "* unix,tcp,bidir"},
      {nullptr, nullptr},
  };

  CORBA::ORB_var orb;
  try {
    orb = CORBA::ORB_init(argc, argv, "omniORB4", options);
    if (argc < 2 || argc > 3) {
      std::cerr << "usage: bidir_client [-ORB...] <ref-to-Demo::CallbackServer> [times]\n";
      orb->destroy();
      return 2;
    }
    long times = argc == 3 ? std::strtol(argv[2], nullptr, 10) : 2;

    // Child POA with BidirectionalPolicy BOTH: references it creates may be
    // called back over a bidirectional connection.
    CORBA::Object_var obj = orb->resolve_initial_references("RootPOA");
    PortableServer::POA_var root = PortableServer::POA::_narrow(obj);
    PortableServer::POAManager_var mgr = root->the_POAManager();

    CORBA::PolicyList pl;
    pl.length(1);
    CORBA::Any both;
    both <<= BiDirPolicy::BOTH;
    pl[0] = orb->create_policy(BiDirPolicy::BIDIRECTIONAL_POLICY_TYPE, both);
    PortableServer::POA_var poa = root->create_POA("bidir", mgr, pl);

    PortableServer::Servant_var<CallBackImpl> servant = new CallBackImpl;
    PortableServer::ObjectId_var oid = poa->activate_object(servant);
    CORBA::Object_var cbobj = poa->id_to_reference(oid);
    Demo::CallBack_var cb = Demo::CallBack::_narrow(cbobj);
    mgr->activate();  // must be active before the server calls back

    obj = orb->string_to_object(argv[1]);
    Demo::CallbackServer_var server = Demo::CallbackServer::_narrow(obj);
    if (CORBA::is_nil(server)) throw Failure{"reference is nil or not a Demo::CallbackServer"};

    server->one_time(cb, "hello", static_cast<CORBA::Long>(times));
    std::cout << "one_time returned" << std::endl;
    if (g_callbacks != times) {
      throw Failure{"expected " + std::to_string(times) + " callbacks, got " +
                    std::to_string(g_callbacks.load())};
    }
    std::cout << "PASS" << std::endl;
    orb->destroy();
    return 0;
  } catch (Failure& f) {
    std::cout << "FAIL: " << f.what << std::endl;
  } catch (CORBA::Exception& e) {
    std::cout << "FAIL: " << peer::Describe(e) << std::endl;
  }
  if (!CORBA::is_nil(orb)) {
    try {
      orb->destroy();
    } catch (...) {
    }
  }
  return 1;
}
