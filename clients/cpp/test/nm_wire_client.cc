// nm_wire_client: the examples of docs/nm-wire.md, sent by the runtime to a
// fake typed receiver (clients/cpp/install_test.go, TestInstalledLibrary_Examples/Wire),
// which checks the NMService octets it receives against the document's.
//
//   nm_wire_client [-ORB...] <receiver-IOR> <agent-receiver-IOR>
//
// 1. request_tag "0", the_cookie "ab", wait_timeout 5000, suppressed:
//    add_stock on the receiver. The fake answers TRUE (a suppressed
//    premature return) with an NM_POLLER context; reply_not_available
//    must be TRUE and the_poller a poller (TAG_NM_REF 0x02).
// 2. wait_timeout 0xFFFFFFFF: add_stock on the poller. The fake answers
//    TRUE with NMNoMoreReply: reply_not_available FALSE, the_poller nil,
//    no_more_reply TRUE.
// 3. Three suppressed 2PIs on the second receiver, a fake agent's, whose
//    pollers differ only in their key: each poller is printed
//    ("POLLER <object_to_string>", for the fake to compare with what it
//    sent) and pulled (the fake notes which object each pull reached).
// Prints PASS (exit 0) or FAIL: <what> (exit 1).

#include "StockManager.hh"
#include <requestagent/nm.hh>

#include <iostream>
#include <string>

namespace nm = requestagent::nm;

namespace {

NativeMessaging::OctetSeq Octets(const std::string& s) {
  NativeMessaging::OctetSeq o;
  o.length(static_cast<CORBA::ULong>(s.size()));
  for (size_t i = 0; i < s.size(); i++) o[static_cast<CORBA::ULong>(i)] = static_cast<CORBA::Octet>(s[i]);
  return o;
}

int Fail(const std::string& what) {
  std::cout << "FAIL: " << what << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
    if (argc != 3) return Fail("usage: nm_wire_client [-ORB...] <receiver-IOR> <agent-receiver-IOR>");
    CORBA::Object_var obj = orb->string_to_object(argv[1]);
    StockManager_var rcv = StockManager::_narrow(obj);
    if (CORBA::is_nil(rcv)) return Fail("the receiver does not narrow to StockManager");
    obj = orb->resolve_initial_references("NativeMessagingCurrent");
    NativeMessaging::Current_var cur = NativeMessaging::Current::_narrow(obj);

    cur->request_tag(Octets("0"));
    cur->the_cookie(Octets("ab"));
    cur->wait_timeout(5000);
    cur->suppress_mode(1);
    if (!rcv->add_stock("ACME", 1.0)) return Fail("add_stock on the receiver returned FALSE");
    if (!cur->reply_not_available()) return Fail("reply_not_available FALSE after an NM_POLLER reply");
    obj = cur->the_poller();
    if (CORBA::is_nil(obj)) return Fail("no poller on the Current after an NM_POLLER reply");
    if (nm::ref_kind(obj) != nm::kPoller) return Fail("the poller has no TAG_NM_REF 0x02");
    StockManager_var poller = StockManager::_narrow(obj);

    cur->wait_timeout(0xFFFFFFFF);
    if (!poller->add_stock("", 0.0)) return Fail("add_stock on the poller returned FALSE");
    if (cur->reply_not_available()) return Fail("reply_not_available TRUE after a reply without NM_POLLER");
    CORBA::Object_var none = cur->the_poller();
    if (!CORBA::is_nil(none)) return Fail("a poller on the Current after a reply without NM_POLLER");
    if (!cur->no_more_reply()) return Fail("no_more_reply FALSE after a reply with NMNoMoreReply");

    obj = orb->string_to_object(argv[2]);
    StockManager_var agent_rcv = StockManager::_narrow(obj);
    if (CORBA::is_nil(agent_rcv)) return Fail("the agent's receiver does not narrow to StockManager");
    for (int i = 0; i < 3; i++) {
      cur->wait_timeout(0);
      if (!agent_rcv->add_stock("ACME", 1.0)) return Fail("add_stock on the agent's receiver returned FALSE");
      if (!cur->reply_not_available()) return Fail("reply_not_available FALSE after the agent's NM_POLLER reply");
      CORBA::Object_var p = cur->the_poller();
      if (CORBA::is_nil(p)) return Fail("no poller on the Current after the agent's NM_POLLER reply");
      if (nm::ref_kind(p) != nm::kPoller) return Fail("the agent's poller has no TAG_NM_REF 0x02");
      CORBA::String_var s = orb->object_to_string(p);
      std::cout << "POLLER " << s.in() << std::endl;
      StockManager_var sp = StockManager::_narrow(p);
      cur->wait_timeout(0xFFFFFFFF);
      if (!sp->add_stock("", 0.0)) return Fail("add_stock on the agent's poller returned FALSE");
      if (cur->reply_not_available()) return Fail("reply_not_available TRUE after pulling from the agent's poller");
    }
    std::cout << "PASS" << std::endl;
    orb->destroy();
  } catch (const CORBA::Exception& e) {
    return Fail(std::string("unexpected exception ") + e._name());
  }
  return 0;
}
