// recipient_client: the Native Messaging documents' callback model in omniORB C++: an NM-aware
// client (librequestagent-nm) that is its own NativeMessaging::ReplyRecipient.
//
//   recipient_client [-ORB...] [--bidir] <agent-IOR-or-corbaloc> <target-IOR>
//
// It activates a ReplyRecipient servant in a child POA "recipient", creates
// a request proxy with it (create_request_proxy(target, "", recipient, {})),
// and sends two unsuppressed requests on the typed receiver, each with a
// cookie. Each returns prematurely (NO_RESPONSE/REPLY_NOT_AVAILABLE). The
// agent then calls reply_available(holder, operation, cookie) once per
// request; inside that call the recipient pulls the result by invoking the
// same operation on the holder (a nested call back into the agent).
// Expected output (exit 0; the callback lines may come in either order and
// may interleave with the second premature line; find_closest_symbol's
// result is whatever the target returned -- TRUE ACME when it ran after
// add_stock, FALSE ACMA before):
//   create_request_proxy -> RequestProxy
//   the_receiver -> StockManager (typed receiver)
//   add_stock -> premature (REPLY_NOT_AVAILABLE)
//   find_closest_symbol -> premature (REPLY_NOT_AVAILABLE)
//   reply_available op=add_stock cookie=add stock
//   pulled add_stock -> TRUE
//   reply_available op=find_closest_symbol cookie=find symbol
//   pulled find_closest_symbol -> TRUE ACME
//   PASS
// Failures print "FAIL: <what>" (a callback's failure as soon as it happens)
// and exit 1; no second callback within 30 s is "FAIL: timeout".
//
// Without --bidir the POA is plain: the agent must reach the recipient at
// its published address (pin it: -ORBendPoint giop:tcp:127.0.0.1:PORT).
// With --bidir the client offers bidirectional GIOP (offerBiDirectionalGIOP
// 1, clientTransportRule "* unix,tcp,bidir"; -ORB arguments override them)
// and the POA has BiDirPolicy BOTH, so the agent may call reply_available
// over the client's own connection. To prove it does, publish an address
// where nothing listens:
//   --bidir -ORBendPoint giop:tcp:127.0.0.1:P -ORBendPointPublish giop:tcp:127.0.0.1:CLOSED
//
// The holder must carry TAG_NM_REF 0x02 (like a poller): the runtime then
// sends NMService{NM_WAIT_TIMEOUT} on the pull and sets the upcall thread's
// Current from the reply; reply_not_available must be FALSE after the pull.

#include "StockManager.hh"
#include "demo_util.hh"
#include <requestagent/nm.hh>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

namespace nm = requestagent::nm;

using demo::Fail;

namespace {

std::mutex mu;  // guards stdout and the counters below
std::condition_variable cv;
int callbacks = 0;
int failures = 0;
bool quiet = false;  // --bench: no line per callback

void Line(const std::string& s) {
  if (quiet) return;
  std::lock_guard<std::mutex> lk(mu);
  std::cout << s << std::endl;  // flushed
}

class RecipientImpl : public POA_NativeMessaging::ReplyRecipient {
 public:
  void reply_available(CORBA::Object_ptr reply_holder, const char* operation,
                       const NativeMessaging::OctetSeq& the_cookie) override {
    std::string op(operation), cookie = demo::String(the_cookie);
    Line("reply_available op=" + op + " cookie=" + cookie);
    bool ok = true;
    try {
      Pull(reply_holder, op);
    } catch (const demo::Failure& f) {
      Line("FAIL: " + op + ": " + f.what);
      ok = false;
    } catch (const CORBA::Exception& e) {
      Line("FAIL: " + op + ": pulling from the holder raised " + demo::Describe(e) +
           " (reply_not_available " + demo::Bool(nm::current()->reply_not_available()) + ")");
      ok = false;
    }
    std::lock_guard<std::mutex> lk(mu);
    callbacks++;
    if (!ok) failures++;
    cv.notify_all();
  }

 private:
  static void Pull(CORBA::Object_ptr holder, const std::string& op) {
    if (CORBA::is_nil(holder)) Fail("reply_holder is nil");
    if (nm::ref_kind(holder) != nm::kPoller)
      Fail("the holder's IOR has no TAG_NM_REF (" + demo::Hex(nm::kTagNMRef) + ") component saying 0x02 (poller)");
    StockManager_var sm = StockManager::_narrow(holder);
    if (CORBA::is_nil(sm)) Fail("the holder does not narrow to StockManager");
    NativeMessaging::Current_ptr cur = nm::current();  // this upcall thread's state
    std::string result;
    if (op == "add_stock") {
      result = demo::Bool(sm->add_stock("", 0.0));
    } else if (op == "find_closest_symbol") {
      CORBA::String_var symbol = CORBA::string_dup("ACMA");
      CORBA::Boolean found = sm->find_closest_symbol(symbol.inout());
      result = demo::Bool(found) + " " + symbol.in();
    } else {
      Fail("unexpected operation \"" + op + "\"");
    }
    if (cur->reply_not_available()) Fail("reply_not_available is TRUE after pulling " + result);
    Line("pulled " + op + " -> " + result);
  }
};

// Initiate makes an unsuppressed call on the typed receiver that must
// return prematurely, and checks the Current.
template <typename Fn>
void Initiate(NativeMessaging::Current_ptr cur, const std::string& what, Fn fn) {
  try {
    fn();
    Fail(what + " returned normally; want NO_RESPONSE/REPLY_NOT_AVAILABLE");
  } catch (const CORBA::NO_RESPONSE& e) {
    if (!nm::is_rna(e))
      Fail(what + " raised " + demo::Describe(e) + "; want minor REPLY_NOT_AVAILABLE=" + demo::Hex(nm::kReplyNotAvailable));
  }
  if (!cur->reply_not_available()) Fail(what + ": reply_not_available is FALSE after a premature return");
  Line(what + " -> premature (REPLY_NOT_AVAILABLE)");
}

}  // namespace

int main(int argc, char** argv) {
  // --bidir: put the client-side bidir options first, so -ORB arguments on
  // the command line (applied after them) win.
  std::vector<char*> args(argv, argv + argc);
  bool bidir = false;
  long bench = 0;  // --bench N: N add_stock requests, then callbacks/s
  for (size_t i = 1; i + 1 < args.size(); i++) {
    if (std::strcmp(args[i], "--bench") == 0) {
      bench = std::strtol(args[i + 1], nullptr, 10);
      args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
      break;
    }
  }
  for (size_t i = 1; i < args.size(); i++) {
    if (std::strcmp(args[i], "--bidir") == 0) {
      bidir = true;
      args.erase(args.begin() + static_cast<long>(i));
      static char o1[] = "-ORBofferBiDirectionalGIOP", v1[] = "1";
      static char o2[] = "-ORBclientTransportRule", v2[] = "* unix,tcp,bidir";
      args.insert(args.begin() + 1, {o1, v1, o2, v2});
      break;
    }
  }
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  return demo::RunMain(n, args.data(), [bidir, bench](CORBA::ORB_ptr orb, int argc, char** argv) {
    if (argc != 3) Fail("usage: recipient_client [-ORB...] [--bidir] <agent-ref> <target-IOR>");

    CORBA::Object_var obj = orb->resolve_initial_references("RootPOA");
    PortableServer::POA_var root = PortableServer::POA::_narrow(obj);
    PortableServer::POAManager_var mgr = root->the_POAManager();
    CORBA::PolicyList pl;
    if (bidir) {  // BiDirPolicy BOTH: callbacks may come over our own connection
      pl.length(1);
      CORBA::Any both;
      both <<= BiDirPolicy::BOTH;
      pl[0] = orb->create_policy(BiDirPolicy::BIDIRECTIONAL_POLICY_TYPE, both);
    }
    PortableServer::POA_var poa = root->create_POA("recipient", mgr, pl);
    PortableServer::Servant_var<RecipientImpl> servant = new RecipientImpl;
    PortableServer::ObjectId_var oid = poa->activate_object(servant);
    obj = poa->id_to_reference(oid);
    NativeMessaging::ReplyRecipient_var recipient = NativeMessaging::ReplyRecipient::_narrow(obj);
    mgr->activate();  // before the agent can call back

    obj = orb->string_to_object(argv[1]);
    NativeMessaging::RequestAgentEx_var agent = NativeMessaging::RequestAgentEx::_narrow(obj);
    if (CORBA::is_nil(agent)) Fail("the agent reference is not a NativeMessaging::RequestAgentEx");
    CORBA::Object_var target = orb->string_to_object(argv[2]);
    obj = orb->resolve_initial_references("NativeMessagingCurrent");
    NativeMessaging::Current_var cur = NativeMessaging::Current::_narrow(obj);
    cur->suppress_mode(0);

    NativeMessaging::PropertySeq props;
    NativeMessaging::RequestProxy_var proxy = agent->create_request_proxy(target, "", recipient, props);
    Line("create_request_proxy -> RequestProxy");
    CORBA::Object_var rcv_obj = proxy->the_receiver();
    StockManager_var rcv = StockManager::_narrow(rcv_obj);
    if (CORBA::is_nil(rcv)) Fail("the_receiver does not narrow to StockManager");
    if (nm::ref_kind(rcv) != nm::kTypedReceiver)
      Fail("the_receiver's IOR has no TAG_NM_REF (" + demo::Hex(nm::kTagNMRef) + ") component saying 0x01 (typed receiver)");
    Line("the_receiver -> StockManager (typed receiver)");

    if (bench > 0) {
      // Callbacks per second: N premature returns, then until the N-th
      // reply_available has pulled its result.
      quiet = true;
      auto start = std::chrono::steady_clock::now();
      cur->the_cookie(demo::Octets("bench"));
      for (long i = 0; i < bench; i++) {
        try {
          rcv->add_stock(("B" + std::to_string(i)).c_str(), 1.0);
        } catch (const CORBA::NO_RESPONSE& e) {
          if (!nm::is_rna(e)) throw;
        }
      }
      std::unique_lock<std::mutex> lk(mu);
      if (!cv.wait_for(lk, std::chrono::seconds(120), [bench] { return callbacks >= bench; })) {
        lk.unlock();
        quiet = false;
        Fail("timeout (" + std::to_string(callbacks) + " of " + std::to_string(bench) + " callbacks)");
      }
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      int failed = failures;
      lk.unlock();
      quiet = false;
      if (failed > 0) Fail(std::to_string(failed) + " callback(s) failed");
      Line("BENCH callbacks=" + std::to_string(bench) + " seconds=" + std::to_string(secs) +
           " callbacks_per_s=" + std::to_string(static_cast<long>(bench / secs)));
      return;
    }

    // send a request with a cookie
    cur->the_cookie(demo::Octets("add stock"));
    Initiate(cur, "add_stock", [&] { rcv->add_stock("ACME", 100.5); });
    // send another request with a different cookie
    cur->the_cookie(demo::Octets("find symbol"));
    CORBA::String_var symbol = CORBA::string_dup("ACMA");
    Initiate(cur, "find_closest_symbol", [&] { rcv->find_closest_symbol(symbol.inout()); });
    cur->the_cookie(demo::Octets(""));

    std::unique_lock<std::mutex> lk(mu);
    if (!cv.wait_for(lk, std::chrono::seconds(30), [] { return callbacks >= 2; })) {
      lk.unlock();
      Fail("timeout (" + std::to_string(callbacks) + " of 2 reply_available calls)");
    }
    // A duplicate delivery would show up here.
    cv.wait_for(lk, std::chrono::milliseconds(300), [] { return callbacks > 2; });
    int got = callbacks, failed = failures;
    lk.unlock();
    if (got != 2) Fail(std::to_string(got) + " reply_available calls, want 2 (one per request)");
    if (failed > 0) Fail(std::to_string(failed) + " callback(s) failed");
  });
}
