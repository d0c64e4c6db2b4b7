// polling_client: the Native Messaging documents' polling model with a request object per request
// (RequestAgent::create_request), as a PLAIN omniORB client: no interceptors,
// no NMService context, so every premature return is unsuppressed
// (CORBA::NO_RESPONSE, minor NativeMessaging::REPLY_NOT_AVAILABLE).
//
//   polling_client [-ORB...] <agent-IOR-or-corbaloc> <target-IOR>
//
// Expected output (exit 0):
//   create_request -> Request
//   add_stock -> premature (REPLY_NOT_AVAILABLE)
//   add_stock -> TRUE
//   create_request -> Request
//   find_closest_symbol -> premature (REPLY_NOT_AVAILABLE)
//   find_closest_symbol -> TRUE ACME
//   poll -> PollingGroupIsEmpty
//   PASS
// The first call on a request object sends the request; each later call with
// the same operation pulls: RNA until the target's reply is there (pulled
// every 20 ms, for at most 20 s), then the target's real result. Both
// requests are in polling group "demo"; a reply read is trashed, so the last
// poll finds the group empty. Anything else prints "FAIL: <what>", exit 1.

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

const std::chrono::seconds kPullBudget(20);

StockManager_ptr CreateRequest(NativeMessaging::RequestAgent_ptr agent, CORBA::Object_ptr target,
                               const std::string& cookie) {
  NativeMessaging::RequestDesc desc;
  desc.target = CORBA::Object::_duplicate(target);
  desc.repository_id = CORBA::string_dup("");  // from the target's IOR
  desc.reply_recipient = NativeMessaging::ReplyRecipient::_nil();
  desc.the_cookie = demo::Octets(cookie);
  desc.polling_group = CORBA::string_dup("demo");
  desc.request_tag.length(0);
  desc.properties.length(0);
  NativeMessaging::Request_var req = agent->create_request(desc);
  StockManager_ptr sm = StockManager::_narrow(req);
  if (CORBA::is_nil(sm)) Fail("create_request: the request object does not narrow to StockManager");
  Line("create_request -> Request");
  return sm;
}

// Call runs call() -- the first time it sends, later it pulls -- until it
// returns normally, and returns that result.
template <typename Call>
CORBA::Boolean SendAndPull(const std::string& op, Call call) {
  try {
    CORBA::Boolean r = call();
    Fail(op + " returned " + demo::Bool(r) + " at once; want the premature return NO_RESPONSE/REPLY_NOT_AVAILABLE");
  } catch (const CORBA::NO_RESPONSE& e) {
    if (!nm::is_rna(e)) Fail(op + " raised " + demo::Describe(e) + "; want minor REPLY_NOT_AVAILABLE=" + demo::Hex(nm::kReplyNotAvailable));
  }
  Line(op + " -> premature (REPLY_NOT_AVAILABLE)");
  auto deadline = std::chrono::steady_clock::now() + kPullBudget;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    try {
      return call();
    } catch (const CORBA::NO_RESPONSE& e) {
      if (!nm::is_rna(e)) Fail(op + " pull raised " + demo::Describe(e));
    }
    if (std::chrono::steady_clock::now() > deadline) Fail(op + ": no reply within 20 s of pulling");
  }
}

}  // namespace

int main(int argc, char** argv) {
  return demo::RunMain(argc, argv, [](CORBA::ORB_ptr orb, int argc, char** argv) {
    if (argc != 3) Fail("usage: polling_client [-ORB...] <agent-ref> <target-IOR>");
    CORBA::Object_var obj = orb->string_to_object(argv[1]);
    NativeMessaging::RequestAgent_var agent = NativeMessaging::RequestAgent::_narrow(obj);
    if (CORBA::is_nil(agent)) Fail("the agent reference is not a NativeMessaging::RequestAgent");
    CORBA::Object_var target = orb->string_to_object(argv[2]);

    StockManager_var add = CreateRequest(agent, target, "add stock");
    CORBA::Boolean added = SendAndPull("add_stock", [&] { return add->add_stock("ACME", 100.5); });
    Line("add_stock -> " + demo::Bool(added));

    StockManager_var find = CreateRequest(agent, target, "find symbol");
    CORBA::String_var symbol = CORBA::string_dup("ACMA");
    CORBA::Boolean found =
        SendAndPull("find_closest_symbol", [&] { return find->find_closest_symbol(symbol.inout()); });
    Line("find_closest_symbol -> " + demo::Bool(found) + " " + symbol.in());

    try {
      NativeMessaging::RequestTagSeq_var tags = agent->poll("demo", 0, 1);
      Fail("poll returned " + std::to_string(tags->length()) + " tags; want PollingGroupIsEmpty (replies read are trashed)");
    } catch (const NativeMessaging::RequestAgent::PollingGroupIsEmpty&) {
      Line("poll -> PollingGroupIsEmpty");
    }
  });
}
