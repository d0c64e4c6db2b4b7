// bench_util.hh -- the timing loop shared by the `make bench` clients
// (ami_client, nm_bench_client): N calls over T threads, percentiles, and
// the BENCH line of ../interop/echo_client.cc --bench.
#ifndef REQUESTAGENT_BENCH_UTIL_HH
#define REQUESTAGENT_BENCH_UTIL_HH

#include <omniORB4/CORBA.h>

#include "peer_util.hh"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace bench {

// Thrown for a wrong result; main prints "FAIL: <what>" and exits 1.
struct Failure {
  std::string what;
};

// Args are the options common to the bench clients:
//   --bench N --size S [--threads T]   and the positional references.
struct Args {
  long calls = -1, size = -1, threads = 1;
  std::vector<std::string> refs;
  std::vector<std::pair<std::string, std::string>> extra;  // other --name value
};

inline long ParseCount(const std::string& s, long min, const char* usage) {
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end || v < min) {
    std::cerr << usage;
    std::exit(2);
  }
  return v;
}

// ParseArgs reads argv after ORB_init has removed the -ORB options. Options
// named in `known` take one value and land in Args::extra.
inline Args ParseArgs(int argc, char** argv, const std::vector<std::string>& known, const char* usage) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    bool has_value = i + 1 < argc;
    if (s == "--bench" && has_value) {
      a.calls = ParseCount(argv[++i], 1, usage);
    } else if (s == "--size" && has_value) {
      a.size = ParseCount(argv[++i], 0, usage);
    } else if (s == "--threads" && has_value) {
      a.threads = ParseCount(argv[++i], 1, usage);
    } else if (s.rfind("--", 0) == 0 && has_value &&
               std::find(known.begin(), known.end(), s) != known.end()) {
      a.extra.emplace_back(s, argv[++i]);
    } else if (s.rfind("--", 0) != 0) {
      a.refs.push_back(s);
    } else {
      std::cerr << usage;
      std::exit(2);
    }
  }
  if (a.calls < 0 || a.size < 0) {
    std::cerr << usage;
    std::exit(2);
  }
  return a;
}

// A Call makes one call and returns false on a wrong result.
using Call = std::function<bool()>;

// Run runs `calls` calls over `threads` threads. Each thread first gets its
// Call from setup (e.g. its own request proxy), makes kWarmup calls
// (connections, LocateRequests), then waits until every thread is ready;
// the clock starts then. Prints
//   BENCH calls=N threads=T size=S ns_per_call=... p50_ns=... p90_ns=... p99_ns=... cpu_ns=...
// ns_per_call = wall time / N; percentiles are per-call latencies
// (steady_clock), nearest-rank, over all N calls; cpu_ns the process's CPU
// time over the timed calls (peer::CPUNanos).
inline void Run(long calls, long threads, long size, const std::function<Call()>& setup) {
  using Clock = std::chrono::steady_clock;
  const int kWarmup = 10;
  std::vector<long long> lat(static_cast<size_t>(calls));
  std::mutex mu;
  std::condition_variable cv;
  long ready = 0;
  bool go = false;
  std::string err;
  Clock::time_point start;
  long long cpu0 = 0;

  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> g(mu);
    if (err.empty()) err = what;
  };
  auto worker = [&](long from, long to) {
    Call call;
    try {
      call = setup();
      for (int i = 0; i < kWarmup; ++i)
        if (!call()) throw Failure{"warm-up: bad result"};
    } catch (const Failure& f) {
      fail(f.what);
    } catch (const CORBA::Exception& e) {
      fail("warm-up: " + peer::Describe(e));
    } catch (const std::exception& e) {
      fail(std::string("warm-up: ") + e.what());
    }
    {
      std::unique_lock<std::mutex> g(mu);
      if (++ready == threads) cv.notify_all();
      cv.wait(g, [&] { return go; });
      if (!err.empty()) return;
    }
    try {
      for (long i = from; i < to; ++i) {
        auto t0 = Clock::now();
        bool ok = call();
        auto t1 = Clock::now();
        lat[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
        if (!ok) throw Failure{"bad result"};
      }
    } catch (const Failure& f) {
      fail(f.what);
    } catch (const CORBA::Exception& e) {
      fail(peer::Describe(e));
    } catch (const std::exception& e) {
      fail(e.what());
    }
  };

  std::vector<std::thread> pool;
  for (long t = 0; t < threads; ++t) pool.emplace_back(worker, calls * t / threads, calls * (t + 1) / threads);
  {
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return ready == threads; });
    cpu0 = peer::CPUNanos();
    start = Clock::now();
    go = true;
    cv.notify_all();
  }
  for (auto& th : pool) th.join();
  long long wall = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  long long cpu = peer::CPUNanos() - cpu0;
  if (!err.empty()) throw Failure{err};

  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) -> long long {  // nearest-rank, as echo_client
    size_t rank = static_cast<size_t>(p * lat.size() + 0.999999);
    if (rank < 1) rank = 1;
    return lat[std::min(rank, lat.size()) - 1];
  };
  std::printf("BENCH calls=%ld threads=%ld size=%ld ns_per_call=%lld p50_ns=%lld p90_ns=%lld p99_ns=%lld cpu_ns=%lld\n",
              calls, threads, size, wall / calls, pct(0.50), pct(0.90), pct(0.99), cpu);
  std::fflush(stdout);
}

// Blob fills an octet sequence of n bytes as echo_client does.
template <typename Seq>
Seq Blob(CORBA::ULong n) {
  Seq b;
  b.length(n);
  for (CORBA::ULong i = 0; i < n; ++i) b[i] = static_cast<CORBA::Octet>((i * 7 + 3) & 0xff);
  return b;
}

// Main runs body(orb, argc, argv) after ORB_init; "FAIL: <what>" and exit 1
// on a Failure or an exception.
template <typename Body>
int Main(int argc, char** argv, Body body) {
  CORBA::ORB_var orb;
  int rc = 0;
  try {
    orb = CORBA::ORB_init(argc, argv);  // removes the -ORB... arguments
    body(orb.in(), argc, argv);
  } catch (const Failure& f) {
    std::cout << "FAIL: " << f.what << std::endl;
    rc = 1;
  } catch (const CORBA::Exception& e) {
    std::cout << "FAIL: " << peer::Describe(e) << std::endl;
    rc = 1;
  } catch (const std::exception& e) {
    std::cout << "FAIL: " << e.what() << std::endl;
    rc = 1;
  }
  if (!CORBA::is_nil(orb)) {
    try {
      orb->destroy();
    } catch (...) {
    }
  }
  return rc;
}

}  // namespace bench

#endif
