// ami_client: omniORB's own asynchronous method invocation (CORBA AMI,
// `omniidl -bcxx -Wbami`) against Demo::Echo, in the polling model: the
// standard CORBA way to invoke asynchronously, without durability. Row (b)
// of `make bench` (tools/benchsuite).
//
//   ami_client [-ORB...] --bench N --size S [--threads T] <Echo-IOR-or-corbaloc>
//     BENCH calls=N threads=T size=S ns_per_call=... p50_ns=... p90_ns=... p99_ns=... cpu_ns=...
//
// Each of the T threads makes its share of the N calls one after the other,
// each a send then a poll, the shape of a 2PI through the agent:
//   AMI_EchoPoller_var p = echo->sendp_echoBlob(blob);   // returns at once
//   p->echoBlob(0xFFFFFFFF, result);                      // waits for the reply
// (sendp_echoString("x") and p->echoString when S=0). Timing as
// bench_util.hh says. Give it -ORBmaxGIOPConnectionPerServer T: omniORB
// runs one call per connection and opens at most 5 by default.

#include "demo.hh"

#include "bench_util.hh"

namespace {

const CORBA::ULong kForever = 0xFFFFFFFF;  // ami_timeout: block until the reply

const char* const kUsage = "usage: ami_client [-ORB...] --bench N --size S [--threads T] <ref>\n";

}  // namespace

int main(int argc, char** argv) {
  return bench::Main(argc, argv, [](CORBA::ORB_ptr orb, int argc, char** argv) {
    bench::Args a = bench::ParseArgs(argc, argv, {}, kUsage);
    if (a.refs.size() != 1) {
      std::cerr << kUsage;
      std::exit(2);
    }
    CORBA::Object_var obj = orb->string_to_object(a.refs[0].c_str());
    Demo::Echo_var echo = Demo::Echo::_narrow(obj);
    if (CORBA::is_nil(echo)) throw bench::Failure{"reference is nil or not a Demo::Echo"};
    const Demo::Blob blob = bench::Blob<Demo::Blob>(static_cast<CORBA::ULong>(a.size));
    const long size = a.size;

    bench::Run(a.calls, a.threads, a.size, [&]() -> bench::Call {
      Demo::Echo_ptr e = echo.in();  // shared by the threads, as echo_client
      return [e, &blob, size]() -> bool {
        if (size == 0) {
          Demo::AMI_EchoPoller_var p = e->sendp_echoString("x");
          CORBA::String_var r;
          p->echoString(kForever, r.out());
          return r.in()[0] == 'x' && r.in()[1] == '\0';
        }
        Demo::AMI_EchoPoller_var p = e->sendp_echoBlob(blob);
        Demo::Blob_var r;
        p->echoBlob(kForever, r.out());
        return r->length() == blob.length();
      };
    });
  });
}
