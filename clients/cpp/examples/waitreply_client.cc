// waitreply_client: the Native Messaging documents' "evolve into two-phase invocation" (WaitReply)
// in omniORB C++, an NM-aware client (librequestagent-nm).
//
//   waitreply_client [-ORB...] [--suppress] <agent-IOR-or-corbaloc> <target-IOR>
//
// Expected output (exit 0):
//   create_request_proxy WaitReply=TRUE -> RequestProxy
//   add_stock FAST -> TRUE (mature)
//   add_stock SLOW1500 -> premature (evolved into 2PI)
//   add_stock SLOW1500 -> TRUE (mature)
//   PASS
// add_stock("FAST") with wait_timeout 5000 ms completes within the wait: a
// mature return, reply_not_available FALSE. add_stock("SLOW1500") takes the
// target 1.5 s; with wait_timeout 100 ms it returns prematurely (RNA, or with
// --suppress a normal return with zero values) after about 100 ms, with
// reply_not_available TRUE and a poller; pulling the poller with
// wait_timeout 10000 ms blocks until the target's real result.

#include "StockManager.hh"
#include "demo_util.hh"
#include <requestagent/nm.hh>

#include <cstring>
#include <string>

namespace nm = requestagent::nm;

using demo::Fail;
using demo::Line;

int main(int argc, char** argv) {
  return demo::RunMain(argc, argv, [](CORBA::ORB_ptr orb, int argc, char** argv) {
    bool suppress = false;
    int a = 1;
    if (a < argc && std::strcmp(argv[a], "--suppress") == 0) {
      suppress = true;
      a++;
    }
    if (argc - a != 2) Fail("usage: waitreply_client [-ORB...] [--suppress] <agent-ref> <target-IOR>");
    CORBA::Object_var obj = orb->string_to_object(argv[a]);
    NativeMessaging::RequestAgentEx_var agent = NativeMessaging::RequestAgentEx::_narrow(obj);
    if (CORBA::is_nil(agent)) Fail("the agent reference is not a NativeMessaging::RequestAgentEx");
    CORBA::Object_var target = orb->string_to_object(argv[a + 1]);
    obj = orb->resolve_initial_references("NativeMessagingCurrent");
    NativeMessaging::Current_var cur = NativeMessaging::Current::_narrow(obj);
    cur->suppress_mode(suppress);

    NativeMessaging::PropertySeq props;
    props.length(1);
    props[0].name = CORBA::string_dup("WaitReply");
    props[0].value <<= CORBA::Any::from_boolean(1);
    NativeMessaging::RequestProxy_var proxy =
        agent->create_request_proxy(target, "", NativeMessaging::ReplyRecipient::_nil(), props);
    Line("create_request_proxy WaitReply=TRUE -> RequestProxy");
    CORBA::Object_var rcv_obj = proxy->the_receiver();
    StockManager_var rcv = StockManager::_narrow(rcv_obj);
    if (CORBA::is_nil(rcv)) Fail("the_receiver does not narrow to StockManager");

    // A fast call completes within the wait: a mature return.
    cur->wait_timeout(5000);
    CORBA::Boolean added;
    try {
      added = rcv->add_stock("FAST", 1.0);
    } catch (const CORBA::Exception& e) {
      Fail("add_stock FAST raised " + demo::Describe(e) + "; want a mature return within 5 s");
    }
    if (cur->reply_not_available()) Fail("add_stock FAST: reply_not_available TRUE; want a mature return");
    Line("add_stock FAST -> " + demo::Bool(added) + " (mature)");

    // A slow call does not: it evolves into a 2PI after 100 ms.
    cur->wait_timeout(100);
    try {
      CORBA::Boolean zero = rcv->add_stock("SLOW1500", 2.0);
      if (!suppress) Fail("add_stock SLOW1500 returned " + demo::Bool(zero) + "; want NO_RESPONSE/REPLY_NOT_AVAILABLE");
      if (zero) Fail("add_stock SLOW1500: suppressed premature return TRUE; want the zero value FALSE");
    } catch (const CORBA::NO_RESPONSE& e) {
      if (!nm::is_rna(e))
        Fail("add_stock SLOW1500 raised " + demo::Describe(e) + "; want minor REPLY_NOT_AVAILABLE=" +
             demo::Hex(nm::kReplyNotAvailable));
      if (suppress) Fail("add_stock SLOW1500 raised RNA in suppressed mode (has the agent StockManager's IDL?)");
    }
    if (!cur->reply_not_available()) Fail("add_stock SLOW1500: reply_not_available FALSE after a premature return");
    CORBA::Object_var p = cur->the_poller();
    StockManager_var poller = StockManager::_narrow(p);
    if (CORBA::is_nil(poller)) Fail("add_stock SLOW1500: no StockManager poller on Current");
    if (nm::ref_kind(poller) != nm::kPoller) Fail("add_stock SLOW1500: the poller's IOR has no TAG_NM_REF (" + demo::Hex(nm::kTagNMRef) + ") component saying 0x02 (poller)");
    Line("add_stock SLOW1500 -> premature (evolved into 2PI)");

    // Pull the real result, waiting for it.
    cur->wait_timeout(10000);
    try {
      added = poller->add_stock("", 0.0);
    } catch (const CORBA::Exception& e) {
      Fail("pulling add_stock SLOW1500 raised " + demo::Describe(e));
    }
    if (cur->reply_not_available()) Fail("add_stock SLOW1500 pull: reply_not_available TRUE; want the mature result");
    Line("add_stock SLOW1500 -> " + demo::Bool(added) + " (mature)");
  });
}
