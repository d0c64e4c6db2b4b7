// echo_client: omniORB conformance client and load generator for Demo::Echo.
//
// Conformance mode (prints one line per step, then PASS; exit 0):
//   echo_client [-ORB<option> <value> ...] [--wstring] <IOR-or-corbaloc>
//     echoString -> hello
//     echoBlob -> 102400 bytes ok
//     echoDouble -> 3.25
//     user exception Oops code=7 why=requested failure
//     system exception NO_PERMISSION minor=42 completed=1
//     echoWString -> ok            (only with --wstring; needs negotiated codesets,
//                                   i.e. an IOR with TAG_CODE_SETS, not a corbaloc)
//     ping -> sent
//     PASS
//   Any unexpected result prints "FAIL: <what>" and exits 1.
//
// Bench mode (one line, exit 0):
//   echo_client [-ORB...] --bench N --size S [--threads T] <ref>
//     BENCH calls=N threads=T size=S ns_per_call=... p50_ns=... p99_ns=... p90_ns=... cpu_ns=...
//   N calls in total spread over T threads (default 1); each call is
//   echoBlob(S bytes), or echoString("x") when S=0.  100 warm-up calls first.
//   ns_per_call = total wall time / N; p50/p99 (and p90, last so that the
//   older fields keep their places) are per-call latencies (steady_clock,
//   nearest-rank) over all N calls.

#include "demo.hh"
#include "peer_util.hh"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Thrown by the conformance steps for a wrong (but non-exceptional) result.
struct Failure {
  std::string what;
};

void Line(const std::string& s) {
  std::cout << s << std::endl;  // endl flushes after every step
}

Demo::Blob MakeBlob(CORBA::ULong n) {
  Demo::Blob b;
  b.length(n);
  for (CORBA::ULong i = 0; i < n; ++i) b[i] = static_cast<CORBA::Octet>((i * 7 + 3) & 0xff);
  return b;
}

void Conformance(Demo::Echo_ptr echo, bool wstring) {
  {
    CORBA::String_var r = echo->echoString("hello");
    Line(std::string("echoString -> ") + r.in());
    if (std::strcmp(r.in(), "hello") != 0) throw Failure{"echoString returned wrong string"};
  }
  {
    const CORBA::ULong n = 100 * 1024;
    Demo::Blob in = MakeBlob(n);
    Demo::Blob_var out = echo->echoBlob(in);
    bool ok = out->length() == n;
    for (CORBA::ULong i = 0; ok && i < n; ++i) ok = out[i] == in[i];
    if (!ok) {
      Line("echoBlob -> MISMATCH");
      throw Failure{"echoBlob returned different bytes"};
    }
    Line("echoBlob -> " + std::to_string(n) + " bytes ok");
  }
  {
    CORBA::Double r = echo->echoDouble(3.25);
    char buf[64];
    std::snprintf(buf, sizeof buf, "echoDouble -> %g", r);
    Line(buf);
    if (r != 3.25) throw Failure{"echoDouble returned wrong value"};
  }
  try {
    echo->fail(7);
    throw Failure{"fail(7) returned normally"};
  } catch (Demo::Oops& e) {
    Line("user exception Oops code=" + std::to_string(e.code) + " why=" + e.why.in());
  }
  try {
    echo->failSystem(42);
    throw Failure{"failSystem(42) returned normally"};
  } catch (CORBA::NO_PERMISSION& e) {
    Line("system exception NO_PERMISSION minor=" + std::to_string(e.minor()) +
         " completed=" + std::to_string(static_cast<int>(e.completed())));
  }
  if (wstring) {
    const CORBA::WChar* w = L"h\u00e9llo w\u00f6rld";
    CORBA::WString_var r = echo->echoWString(w);
    if (std::wcscmp(r.in(), w) != 0) {
      Line("echoWString -> MISMATCH");
      throw Failure{"echoWString returned different text"};
    }
    Line("echoWString -> ok");
  }
  echo->ping("conformance");
  Line("ping -> sent");
}

// One benchmark call; returns false if the echo came back with the wrong size.
bool BenchCall(Demo::Echo_ptr echo, const Demo::Blob& blob, long size) {
  if (size == 0) {
    CORBA::String_var r = echo->echoString("x");
    return r.in()[0] == 'x' && r.in()[1] == '\0';
  }
  Demo::Blob_var r = echo->echoBlob(blob);
  return r->length() == blob.length();
}

int Bench(Demo::Echo_ptr echo, long calls, long size, long threads) {
  using Clock = std::chrono::steady_clock;
  const Demo::Blob blob = MakeBlob(static_cast<CORBA::ULong>(size));

  for (int i = 0; i < 100; ++i) {  // warm-up: connection setup, LocateRequest, ...
    if (!BenchCall(echo, blob, size)) throw Failure{"bench warm-up: bad echo"};
  }

  std::vector<long long> lat(static_cast<size_t>(calls));
  std::atomic<bool> bad{false};
  std::mutex err_mu;
  std::string err;

  auto worker = [&](long from, long to) {
    try {
      for (long i = from; i < to; ++i) {
        auto t0 = Clock::now();
        bool ok = BenchCall(echo, blob, size);
        auto t1 = Clock::now();
        lat[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
        if (!ok) {
          bad = true;
          std::lock_guard<std::mutex> g(err_mu);
          err = "bench: bad echo";
          return;
        }
      }
    } catch (CORBA::Exception& e) {
      bad = true;
      std::lock_guard<std::mutex> g(err_mu);
      err = peer::Describe(e);
    }
  };

  long long cpu0 = peer::CPUNanos();
  auto start = Clock::now();
  std::vector<std::thread> pool;
  for (long t = 0; t < threads; ++t) {
    long from = calls * t / threads, to = calls * (t + 1) / threads;
    pool.emplace_back(worker, from, to);
  }
  for (auto& th : pool) th.join();
  long long wall =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  long long cpu = peer::CPUNanos() - cpu0;
  if (bad) throw Failure{err};

  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) -> long long {  // nearest-rank percentile
    if (lat.empty()) return 0;
    size_t rank = static_cast<size_t>(p * lat.size() + 0.999999);
    if (rank < 1) rank = 1;
    return lat[std::min(rank, lat.size()) - 1];
  };
  std::printf("BENCH calls=%ld threads=%ld size=%ld ns_per_call=%lld p50_ns=%lld p99_ns=%lld p90_ns=%lld cpu_ns=%lld\n",
              calls, threads, size, calls ? wall / calls : 0, pct(0.50), pct(0.99), pct(0.90), cpu);
  std::fflush(stdout);
  return 0;
}

[[noreturn]] void Usage() {
  std::cerr << "usage: echo_client [-ORB...] [--wstring] <IOR-or-corbaloc>\n"
               "       echo_client [-ORB...] --bench N --size S [--threads T] <ref>\n";
  std::exit(2);
}

long ParseCount(const char* s, long min) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (!*s || *end || v < min) Usage();
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  CORBA::ORB_var orb;
  try {
    orb = CORBA::ORB_init(argc, argv);  // removes the -ORB... arguments

    bool wstring = false;
    long bench = -1, size = -1, threads = 1;
    const char* ref = nullptr;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--wstring") {
        wstring = true;
      } else if (a == "--bench" && i + 1 < argc) {
        bench = ParseCount(argv[++i], 1);
      } else if (a == "--size" && i + 1 < argc) {
        size = ParseCount(argv[++i], 0);
      } else if (a == "--threads" && i + 1 < argc) {
        threads = ParseCount(argv[++i], 1);
      } else if (!ref && a.rfind("--", 0) != 0) {
        ref = argv[i];
      } else {
        Usage();
      }
    }
    if (!ref || (bench >= 0) != (size >= 0)) Usage();

    CORBA::Object_var obj = orb->string_to_object(ref);
    Demo::Echo_var echo = Demo::Echo::_narrow(obj);
    if (CORBA::is_nil(echo)) throw Failure{"reference is nil or not a Demo::Echo"};

    if (bench >= 0) {
      Bench(echo, bench, size, threads);
    } else {
      Conformance(echo, wstring);
      Line("PASS");
    }
    orb->destroy();
    return 0;
  } catch (Failure& f) {
    Line("FAIL: " + f.what);
  } catch (CORBA::Exception& e) {
    Line("FAIL: " + peer::Describe(e));
  } catch (std::exception& e) {
    Line(std::string("FAIL: ") + e.what());
  }
  if (!CORBA::is_nil(orb)) {
    try {
      orb->destroy();
    } catch (...) {
    }
  }
  return 1;
}
