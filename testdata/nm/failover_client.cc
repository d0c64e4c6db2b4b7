// failover_client: an unchanged omniORB client through an agent cluster's
// failover (docs/cluster.md). A plain client (no interceptors), as
// polling_client: it makes a request object (RequestAgent::create_request,
// polling group "failover"), sends add_stock through it, prints "sent",
// then waits for a line on stdin (the test kills the owner meanwhile) and
// pulls through the same reference until the target's result comes back,
// for at most 60 s, taking a premature return (REPLY_NOT_AVAILABLE) and
// the connection failures of a dead agent (COMM_FAILURE, TRANSIENT) for
// "not yet". It prints the result and the pulls it took:
//
//   failover_client [-ORB...] <agent-IOR> <target-IOR>
//
//   sent
//   result TRUE after N pulls (M failed on the dead agent)
//
// Anything else prints "FAIL: <what>", exit 1.

#include "StockManager.hh"
#include "demo_util.hh"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

using demo::Fail;
using demo::Line;

int main(int argc, char** argv) {
  try {
    CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
    if (argc != 3) Fail("usage: failover_client <agent-IOR> <target-IOR>");
    CORBA::Object_var obj = orb->string_to_object(argv[1]);
    NativeMessaging::RequestAgent_var agent = NativeMessaging::RequestAgent::_narrow(obj);
    if (CORBA::is_nil(agent)) Fail("the agent reference does not narrow");
    CORBA::Object_var target = orb->string_to_object(argv[2]);
    NativeMessaging::RequestDesc desc;
    desc.target = CORBA::Object::_duplicate(target);
    desc.repository_id = CORBA::string_dup("");
    desc.reply_recipient = NativeMessaging::ReplyRecipient::_nil();
    desc.the_cookie.length(0);
    desc.polling_group = CORBA::string_dup("failover");
    desc.request_tag.length(0);
    desc.properties.length(0);
    NativeMessaging::Request_var req = agent->create_request(desc);
    StockManager_var sm = StockManager::_narrow(req);
    if (CORBA::is_nil(sm)) Fail("the request object does not narrow to StockManager");
    try {
      sm->add_stock("FAILOVER", 1.0);
      Fail("the first call returned a result: it must be the premature return");
    } catch (const CORBA::NO_RESPONSE&) {
    }
    Line("sent");
    std::string go;
    std::getline(std::cin, go);
    int pulls = 0, failed = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      ++pulls;
      try {
        CORBA::Boolean r = sm->add_stock("FAILOVER", 1.0);
        Line("result " + demo::Bool(r) + " after " + std::to_string(pulls) + " pulls (" + std::to_string(failed) +
             " failed on the dead agent)");
        return 0;
      } catch (const CORBA::NO_RESPONSE&) {
      } catch (const CORBA::COMM_FAILURE&) {
        ++failed;
      } catch (const CORBA::TRANSIENT&) {
        ++failed;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Fail("no result through the reference within 60 s");
  } catch (const demo::Failure& f) {
    Line("FAIL: " + f.what);
    return 1;
  } catch (const CORBA::Exception& e) {
    Line("FAIL: " + demo::Describe(e));
    return 1;
  }
  return 0;
}
