// nm_bench_client: an NM-aware omniORB client (the shipped runtime, clients/cpp) calling
// Demo::Echo through the request agent. Row (c) of `make bench`
// (tools/benchsuite), the C++ counterpart of loadgen's models.
//
//   nm_bench_client [-ORB...] --model waitreply|2pi|send --bench N --size S [--threads T]
//                   [--suppress 0|1] <agent-ref> <Echo-IOR>
//     BENCH calls=N threads=T size=S ns_per_call=... p50_ns=... p90_ns=... p99_ns=... cpu_ns=...
//     PULLED replies=R ns=...                      (send only)
//
// Each thread creates its own request proxy on the agent for the target
// (create_request_proxy, with WaitReply=TRUE for waitreply) and calls
// echoBlob(S bytes) (echoString("x") when S=0) on its typed receiver,
// unsuppressed (--suppress 1: suppressed, VisiBroker's default, for 2pi and
// send: the premature return is a normal reply with zero values rather than
// an exception; the agent needs demo.idl):
//   waitreply  wait_timeout 30000 ms: the mature result comes back in the
//              same call (reply_not_available must be FALSE).
//   2pi        wait_timeout 0: a premature return (NO_RESPONSE /
//              REPLY_NOT_AVAILABLE) with a poller on the Current; then the
//              same operation on the poller with wait_timeout forever, which
//              blocks until the target's result. The pull sends an empty
//              blob (the agent ignores a pull's arguments).
//   send       the 2pi send alone, timed to its premature return (the
//              agent's acknowledgement that the request is durable); each
//              thread keeps its pollers and, after the timed part, pulls
//              them all as 2pi does (checked, untimed, the PULLED line).
// Timing as bench_util.hh says. Give it -ORBmaxGIOPConnectionPerServer T
// and -ORBverifyObjectExistsAndType 0 (otherwise omniORB sends a
// LocateRequest before the first call on each new poller reference).

#include "demo.hh"
#include "NativeMessaging.hh"

#include <requestagent/nm.hh>
#include "bench_util.hh"

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace nm = requestagent::nm;

namespace {

const CORBA::ULong kForever = 0xFFFFFFFF;  // NM wait_timeout: until the reply is ready
const CORBA::ULong kWaitReplyTimeout = 30000;

const char* const kUsage =
    "usage: nm_bench_client [-ORB...] --model waitreply|2pi|send --bench N --size S [--threads T] "
    "[--suppress 0|1] <agent-ref> <Echo-IOR>\n";

}  // namespace

int main(int argc, char** argv) {
  return bench::Main(argc, argv, [](CORBA::ORB_ptr orb, int argc, char** argv) {
    bench::Args a = bench::ParseArgs(argc, argv, {"--model", "--suppress"}, kUsage);
    std::string model = "waitreply", suppress_arg = "0";
    for (auto& kv : a.extra) {
      if (kv.first == "--model") model = kv.second;
      if (kv.first == "--suppress") suppress_arg = kv.second;
    }
    if (a.refs.size() != 2 || (model != "waitreply" && model != "2pi" && model != "send") ||
        (suppress_arg != "0" && suppress_arg != "1")) {
      std::cerr << kUsage;
      std::exit(2);
    }
    const bool waitreply = model == "waitreply", send_only = model == "send";
    const bool suppress = suppress_arg == "1" && !waitreply;
    // send: each thread's pollers, pulled after the timed part.
    std::mutex pollers_mu;
    std::vector<std::shared_ptr<std::vector<CORBA::Object_var>>> pollers;
    CORBA::Object_var obj = orb->string_to_object(a.refs[0].c_str());
    NativeMessaging::RequestAgentEx_var agent = NativeMessaging::RequestAgentEx::_narrow(obj);
    if (CORBA::is_nil(agent)) throw bench::Failure{"the agent reference is not a NativeMessaging::RequestAgentEx"};
    CORBA::Object_var target = orb->string_to_object(a.refs[1].c_str());
    obj = orb->resolve_initial_references("NativeMessagingCurrent");
    NativeMessaging::Current_var cur = NativeMessaging::Current::_narrow(obj);

    const Demo::Blob blob = bench::Blob<Demo::Blob>(static_cast<CORBA::ULong>(a.size));
    const Demo::Blob empty;
    const long size = a.size;

    // mature calls the operation on obj (a receiver or a poller) with
    // wait_timeout wait and the arguments given, and checks that the real
    // result came back; not_mature is the failure when it did not.
    auto mature = [&blob, size](NativeMessaging::Current_ptr c, Demo::Echo_ptr obj, CORBA::ULong wait,
                                const char* s_arg, const Demo::Blob& b_arg, const char* not_mature) -> bool {
      c->wait_timeout(wait);
      bool ok;
      if (size == 0) {
        CORBA::String_var s = obj->echoString(s_arg);
        ok = std::strcmp(s.in(), "x") == 0;
      } else {
        Demo::Blob_var b = obj->echoBlob(b_arg);
        ok = b->length() == blob.length();
      }
      if (c->reply_not_available()) throw bench::Failure{not_mature};
      return ok;
    };
    // pull takes a 2PI's result from its poller, waiting as long as it takes.
    auto pull = [&](NativeMessaging::Current_ptr c, CORBA::Object_ptr p) -> bool {
      Demo::Echo_var poller = Demo::Echo::_unchecked_narrow(p);
      return mature(c, poller.in(), kForever, "", empty, "2pi: the pull was not mature");
    };

    bench::Run(a.calls, a.threads, a.size, [&]() -> bench::Call {
      // Per thread: its own proxy; the Current's settings are per thread.
      NativeMessaging::PropertySeq props;
      if (waitreply) {
        props.length(1);
        props[0].name = CORBA::string_dup("WaitReply");
        props[0].value <<= CORBA::Any::from_boolean(1);
      }
      NativeMessaging::RequestProxy_var proxy =
          agent->create_request_proxy(target, "", NativeMessaging::ReplyRecipient::_nil(), props);
      CORBA::Object_var r = proxy->the_receiver();
      Demo::Echo_var rcv = Demo::Echo::_narrow(r);
      if (CORBA::is_nil(rcv)) throw bench::Failure{"the_receiver does not narrow to Demo::Echo"};
      cur->suppress_mode(suppress);
      NativeMessaging::Current_ptr c = cur.in();

      if (waitreply) {
        return [rcv, c, &blob, &mature]() -> bool {
          return mature(c, rcv.in(), kWaitReplyTimeout, "x", blob, "waitreply: not mature within the wait");
        };
      }
      std::shared_ptr<std::vector<CORBA::Object_var>> mine;
      if (send_only) {
        mine = std::make_shared<std::vector<CORBA::Object_var>>();
        std::lock_guard<std::mutex> g(pollers_mu);
        pollers.push_back(mine);
      }
      return [rcv, c, &blob, size, mine, &pull, suppress]() -> bool {
        c->wait_timeout(0);
        try {
          if (size == 0) {
            CORBA::String_var s = rcv->echoString("x");
          } else {
            Demo::Blob_var b = rcv->echoBlob(blob);
          }
          if (!suppress) throw bench::Failure{"2pi: a normal return; want NO_RESPONSE/REPLY_NOT_AVAILABLE"};
          if (!c->reply_not_available()) throw bench::Failure{"2pi: a mature return; want a premature one"};
        } catch (const CORBA::NO_RESPONSE& e) {
          if (!nm::is_rna(e) || suppress) throw;
        }
        CORBA::Object_var p = c->the_poller();
        if (CORBA::is_nil(p)) throw bench::Failure{"2pi: no poller on the Current"};
        if (mine) {
          mine->push_back(p._retn());
          return true;
        }
        return pull(c, p.in());
      };
    });
    if (send_only) {
      // Every reply, one thread per sending thread, each on its own
      // pollers (the Current's settings are per thread).
      auto t0 = std::chrono::steady_clock::now();
      std::atomic<long> pulled{0};
      std::string err;
      std::mutex err_mu;
      std::vector<std::thread> pool;
      for (auto& list : pollers) {
        pool.emplace_back([&, list]() {
          try {
            cur->suppress_mode(0);
            for (auto& p : *list) {
              if (!pull(cur.in(), p.in())) throw bench::Failure{"send: a pulled reply is wrong"};
              ++pulled;
            }
          } catch (const bench::Failure& f) {
            std::lock_guard<std::mutex> g(err_mu);
            err = f.what;
          } catch (const CORBA::Exception& e) {
            std::lock_guard<std::mutex> g(err_mu);
            err = "send: pull: " + peer::Describe(e);
          }
        });
      }
      for (auto& th : pool) th.join();
      if (!err.empty()) throw bench::Failure{err};
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
      std::printf("PULLED replies=%ld ns=%lld\n", pulled.load(), static_cast<long long>(ns));
      std::fflush(stdout);
    }
  });
}
