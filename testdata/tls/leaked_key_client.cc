// leaked_key_client: an omniORB client over giop:ssl, to show that with
// identity binding on (--bind-identity) a reference is of use only to the
// TLS identity that made it. One program, three steps, each a process of
// its own with the certificate it is given (ssl_init.cc):
//
//   leaked_key_client [-ORB...] make <agent-ref> <target-IOR>
//       create_request (polling group "leak"), then its first add_stock:
//       the premature return. Prints the request object's reference
//       ("REQUEST IOR:...") and leaves the reply unread.
//   leaked_key_client [-ORB...] use <agent-ref> <request-IOR>
//       what a holder of that reference can do: a pull (add_stock on the
//       request object), poll of its group, and destroy_request. Prints one
//       line per call: "<call> -> OK ..." or "<call> -> <exception>".
//   leaked_key_client [-ORB...] pull <agent-ref> <request-IOR>
//       pulls until the reply is there (20 ms apart, at most 20 s) and
//       prints "add_stock -> TRUE".
//
// Each ends with PASS unless it could not do its step (FAIL: <what>); the
// test reads what "use" printed.

#include "StockManager.hh"
#include "demo_util.hh"
#include <requestagent/nm.hh>

#include <chrono>
#include <string>
#include <thread>

namespace nm = requestagent::nm;

using demo::Fail;
using demo::Line;

namespace {

void Make(CORBA::ORB_ptr orb, NativeMessaging::RequestAgent_ptr agent, const char* target_ior) {
  NativeMessaging::RequestDesc desc;
  desc.target = orb->string_to_object(target_ior);
  desc.repository_id = CORBA::string_dup("");
  desc.reply_recipient = NativeMessaging::ReplyRecipient::_nil();
  desc.the_cookie = demo::Octets("leak");
  desc.polling_group = CORBA::string_dup("leak");
  desc.request_tag.length(0);
  desc.properties.length(0);
  NativeMessaging::Request_var req = agent->create_request(desc);
  StockManager_var sm = StockManager::_unchecked_narrow(req);
  try {
    CORBA::Boolean r = sm->add_stock("ACME", 100.5);
    Fail("add_stock returned " + demo::Bool(r) + " at once; want the premature return");
  } catch (const CORBA::NO_RESPONSE& e) {
    if (!nm::is_rna(e)) Fail("add_stock raised " + demo::Describe(e));
  }
  CORBA::String_var s = orb->object_to_string(req);
  Line(std::string("REQUEST ") + s.in());
}

void Use(NativeMessaging::RequestAgent_ptr agent, CORBA::Object_ptr obj) {
  StockManager_var sm = StockManager::_unchecked_narrow(obj);
  try {
    CORBA::Boolean r = sm->add_stock("ACME", 1);
    Line("add_stock -> OK " + demo::Bool(r));
  } catch (const CORBA::Exception& e) {
    Line("add_stock -> " + demo::Describe(e));
  }
  try {
    NativeMessaging::RequestTagSeq_var tags = agent->poll("leak", 0, 0);
    Line("poll -> OK " + std::to_string(tags->length()) + " tags");
  } catch (const CORBA::Exception& e) {
    Line("poll -> " + demo::Describe(e));
  }
  NativeMessaging::Request_var req = NativeMessaging::Request::_unchecked_narrow(obj);
  try {
    agent->destroy_request(req);
    Line("destroy_request -> OK");
  } catch (const CORBA::Exception& e) {
    Line("destroy_request -> " + demo::Describe(e));
  }
}

void Pull(CORBA::Object_ptr obj) {
  StockManager_var sm = StockManager::_unchecked_narrow(obj);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    try {
      Line("add_stock -> " + demo::Bool(sm->add_stock("ACME", 100.5)));
      return;
    } catch (const CORBA::NO_RESPONSE& e) {
      if (!nm::is_rna(e)) Fail("add_stock pull raised " + demo::Describe(e));
    }
    if (std::chrono::steady_clock::now() > deadline) Fail("add_stock: no reply within 20 s of pulling");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return demo::RunMain(argc, argv, [](CORBA::ORB_ptr orb, int argc, char** argv) {
    if (argc != 4) Fail("usage: leaked_key_client [-ORB...] make|use|pull <agent-ref> <IOR>");
    const std::string step = argv[1];
    CORBA::Object_var obj = orb->string_to_object(argv[2]);
    NativeMessaging::RequestAgent_var agent = NativeMessaging::RequestAgent::_unchecked_narrow(obj);
    if (step == "make") {
      Make(orb, agent, argv[3]);
      return;
    }
    CORBA::Object_var ref = orb->string_to_object(argv[3]);
    if (step == "use") {
      Use(agent, ref);
    } else if (step == "pull") {
      Pull(ref);
    } else {
      Fail("unknown step " + step);
    }
  });
}
