// peer_util.hh -- what every omniORB peer set shares (peers.sh puts
// testdata/ on the include path of each build).
#ifndef REQUESTAGENT_PEER_UTIL_HH
#define REQUESTAGENT_PEER_UTIL_HH

#include <omniORB4/CORBA.h>

#include <csignal>
#include <pthread.h>
#include <sys/resource.h>
#include <sstream>
#include <string>
#include <thread>

namespace peer {

// Describe names an exception the way the Go tests read it back: a system
// exception with its minor code and completion status (as a number).
// CPUNanos is the CPU time, user and system, all threads, the process has
// used: a bench client reads it where its clock starts and stops, so that
// the CPU it reports per call is that of the timed calls alone, not its
// start-up's and warm-up's (tools/benchsuite).
inline long long CPUNanos() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (static_cast<long long>(ru.ru_utime.tv_sec) + ru.ru_stime.tv_sec) * 1000000000LL +
         (static_cast<long long>(ru.ru_utime.tv_usec) + ru.ru_stime.tv_usec) * 1000LL;
}

inline std::string Describe(const CORBA::Exception& e) {
  std::ostringstream os;
  if (auto* se = CORBA::SystemException::_downcast(&e)) {
    os << se->_name() << " minor=0x" << std::hex << se->minor() << std::dec
       << " completed=" << static_cast<int>(se->completed());
  } else {
    os << e._name() << " (" << e._rep_id() << ")";
  }
  return os.str();
}

// BlockStopSignals blocks SIGTERM/SIGINT in the calling thread. Call it
// before ORB_init so that omniORB's threads inherit the mask; then
// ShutdownOnSignal takes them in one helper thread, and orb->run() returns
// in main once it has shut the ORB down.
inline sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// ShutdownOnSignal waits for one of the signals in set and shuts orb down.
inline void ShutdownOnSignal(sigset_t set, CORBA::ORB_ptr orb) {
  std::thread([set, orb]() {
    int sig = 0;
    sigwait(&set, &sig);
    orb->shutdown(false);  // do not wait: we are not an ORB thread
  }).detach();
}

}  // namespace peer

#endif  // REQUESTAGENT_PEER_UTIL_HH
