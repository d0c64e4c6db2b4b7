// group_client: the Native Messaging documents' group polling client (GroupPollingClient.java) in
// omniORB C++: an NM-aware client (librequestagent-nm) using a request proxy, request
// tags, RequestProxy::poll and a poller per request.
//
//   group_client [-ORB...] [--suppress] <agent-IOR-or-corbaloc> <target-IOR>
//
// Expected output (exit 0; the lines of the two pulls come in the order poll
// reports the tags, and find_closest_symbol's result is whatever the target
// returned -- TRUE ACME when it ran after add_stock):
//   create_request_proxy -> RequestProxy
//   the_receiver -> StockManager (typed receiver)
//   tag 0: add_stock -> premature (REPLY_NOT_AVAILABLE)
//   tag 1: find_closest_symbol -> premature (REPLY_NOT_AVAILABLE)
//   tag 0: add_stock -> TRUE
//   tag 1: find_closest_symbol -> TRUE ACME
//   poll -> PollingGroupIsEmpty
//   destroyed
//   PASS
// Without --suppress the client sets suppress_mode(FALSE): a premature return
// is NO_RESPONSE/REPLY_NOT_AVAILABLE. With --suppress it is a normal return
// with zero values (printed "premature (suppressed FALSE)" and, for
// find_closest_symbol, "premature (suppressed FALSE \"\")"); it needs the
// agent to have StockManager's IDL. Either way reply_not_available must be
// TRUE and the_poller a poller (TAG_NM_REF 0x02) after a premature return,
// and reply_not_available FALSE after each pull.

#include "StockManager.hh"
#include "demo_util.hh"
#include <requestagent/nm.hh>

#include <cstring>
#include <set>
#include <string>

namespace nm = requestagent::nm;

using demo::Fail;
using demo::Line;

namespace {

bool suppress = false;

// Premature checks the Current after a call that must have returned
// prematurely, and returns the poller.
StockManager_ptr Premature(NativeMessaging::Current_ptr cur, const std::string& what, const std::string& how) {
  if (!cur->reply_not_available()) Fail(what + ": reply_not_available is FALSE after a premature return");
  CORBA::Object_var p = cur->the_poller();
  if (CORBA::is_nil(p)) Fail(what + ": no poller on Current after the premature return");
  if (nm::ref_kind(p) != nm::kPoller) Fail(what + ": the poller's IOR has no TAG_NM_REF (" + demo::Hex(nm::kTagNMRef) + ") component saying 0x02 (poller)");
  StockManager_ptr poller = StockManager::_narrow(p);
  if (CORBA::is_nil(poller)) Fail(what + ": the poller does not narrow to StockManager");
  Line(what + " -> premature (" + how + ")");
  return poller;
}

// Call makes a call on the typed receiver that must return prematurely:
// RNA when unsuppressed, a normal return with zero values when suppressed.
template <typename Fn>
std::string Initiate(const std::string& what, Fn fn) {
  try {
    std::string zero = fn();
    if (!suppress) Fail(what + " returned " + zero + "; want NO_RESPONSE/REPLY_NOT_AVAILABLE");
    return "suppressed " + zero;
  } catch (const CORBA::NO_RESPONSE& e) {
    if (!nm::is_rna(e))
      Fail(what + " raised " + demo::Describe(e) + "; want minor REPLY_NOT_AVAILABLE=" + demo::Hex(nm::kReplyNotAvailable));
    if (suppress) Fail(what + " raised RNA in suppressed mode (has the agent StockManager's IDL?)");
    return "REPLY_NOT_AVAILABLE";
  }
}

void Mature(NativeMessaging::Current_ptr cur, const std::string& what) {
  if (cur->reply_not_available()) Fail(what + ": reply_not_available is TRUE after pulling the result");
  CORBA::Object_var p = cur->the_poller();
  if (!CORBA::is_nil(p)) Fail(what + ": a poller on Current after a mature return");
  // The read trashed the request (no RequestManualTrash): no reply is left.
  if (!cur->no_more_reply()) Fail(what + ": no_more_reply is FALSE after the read that trashed the request");
}

}  // namespace

int main(int argc, char** argv) {
  return demo::RunMain(argc, argv, [](CORBA::ORB_ptr orb, int argc, char** argv) {
    int a = 1;
    if (a < argc && std::strcmp(argv[a], "--suppress") == 0) {
      suppress = true;
      a++;
    }
    if (argc - a != 2) Fail("usage: group_client [-ORB...] [--suppress] <agent-ref> <target-IOR>");
    CORBA::Object_var obj = orb->string_to_object(argv[a]);
    NativeMessaging::RequestAgentEx_var agent = NativeMessaging::RequestAgentEx::_narrow(obj);
    if (CORBA::is_nil(agent)) Fail("the agent reference is not a NativeMessaging::RequestAgentEx");
    CORBA::Object_var target = orb->string_to_object(argv[a + 1]);
    obj = orb->resolve_initial_references("NativeMessagingCurrent");
    NativeMessaging::Current_var cur = NativeMessaging::Current::_narrow(obj);
    cur->suppress_mode(suppress);

    NativeMessaging::PropertySeq props;
    NativeMessaging::RequestProxy_var proxy =
        agent->create_request_proxy(target, "", NativeMessaging::ReplyRecipient::_nil(), props);
    Line("create_request_proxy -> RequestProxy");
    CORBA::Object_var rcv_obj = proxy->the_receiver();
    StockManager_var rcv = StockManager::_narrow(rcv_obj);
    if (CORBA::is_nil(rcv)) Fail("the_receiver does not narrow to StockManager");
    if (nm::ref_kind(rcv) != nm::kTypedReceiver) Fail("the_receiver's IOR has no TAG_NM_REF (" + demo::Hex(nm::kTagNMRef) + ") component saying 0x01 (typed receiver)");
    Line("the_receiver -> StockManager (typed receiver)");

    StockManager_var pollers[2];
    // send one tagged request
    cur->request_tag(demo::Octets("0"));
    std::string how = Initiate("tag 0: add_stock", [&] { return demo::Bool(rcv->add_stock("ACME", 100.5)); });
    pollers[0] = Premature(cur, "tag 0: add_stock", how);
    if (cur->no_more_reply()) Fail("tag 0: no_more_reply is TRUE after a premature return");
    // push_context/pop_context: a nested use of the Current leaves the
    // outer settings and results as they were.
    cur->push_context();
    cur->request_tag(demo::Octets("nested"));
    cur->wait_timeout(12345);
    cur->pop_context();
    {
      NativeMessaging::RequestTag_var t = cur->request_tag();
      CORBA::Object_var p = cur->the_poller();
      if (demo::String(t.in()) != "0" || cur->wait_timeout() != 0 || CORBA::is_nil(p) || !cur->reply_not_available())
        Fail("pop_context did not restore the Current as push_context saved it");
    }
    // send another tagged request
    cur->request_tag(demo::Octets("1"));
    CORBA::String_var symbol = CORBA::string_dup("ACMA");
    how = Initiate("tag 1: find_closest_symbol", [&] {
      CORBA::Boolean r = rcv->find_closest_symbol(symbol.inout());
      return demo::Bool(r) + " \"" + symbol.in() + "\"";
    });
    pollers[1] = Premature(cur, "tag 1: find_closest_symbol", how);
    cur->request_tag(demo::Octets(""));

    // poll request availability on the proxy and retrieve the replies
    std::set<int> pulled;
    for (int round = 0;; round++) {
      if (round == 20) Fail("poll did not raise PollingGroupIsEmpty after 20 rounds");
      NativeMessaging::RequestTagSeq_var tags;
      try {
        tags = proxy->poll(5000, 1);
      } catch (const NativeMessaging::RequestAgent::PollingGroupIsEmpty&) {
        Line("poll -> PollingGroupIsEmpty");
        proxy->destroy(1);
        Line("destroyed");
        break;
      }
      for (CORBA::ULong i = 0; i < tags->length(); i++) {
        std::string tag = demo::String(tags[i]);
        if (tag != "0" && tag != "1") Fail("poll reported an unknown tag \"" + tag + "\"");
        int id = tag[0] - '0';
        if (!pulled.insert(id).second) Fail("poll reported tag " + tag + " again after its reply was read");
        switch (id) {
          case 0: {  // the first tagged request sent above
            CORBA::Boolean stock_added = pollers[0]->add_stock("", 0.0);
            Mature(cur, "tag 0: add_stock");
            Line("tag 0: add_stock -> " + demo::Bool(stock_added));
            break;
          }
          case 1: {  // the second tagged request sent above
            CORBA::Boolean closest_found = pollers[1]->find_closest_symbol(symbol.inout());
            Mature(cur, "tag 1: find_closest_symbol");
            Line("tag 1: find_closest_symbol -> " + demo::Bool(closest_found) + " " + symbol.in());
            break;
          }
        }
      }
    }
    if (pulled.size() != 2) Fail("the group emptied with " + std::to_string(pulled.size()) + " of 2 replies read");
  });
}
