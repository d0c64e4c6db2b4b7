// demo_util.hh -- output helpers shared by the Native Messaging demo clients.
#ifndef REQUESTAGENT_DEMO_UTIL_HH
#define REQUESTAGENT_DEMO_UTIL_HH

#include "NativeMessaging.hh"

#include <csignal>
#include <iostream>
#include <pthread.h>
#include <sstream>
#include <string>
#include <thread>

namespace demo {

// Thrown by a step for a wrong result; main prints "FAIL: <what>", exits 1.
struct Failure {
  std::string what;
};

inline void Line(const std::string& s) { std::cout << s << std::endl; }  // flushed

inline std::string Bool(CORBA::Boolean b) { return b ? "TRUE" : "FALSE"; }

inline const char* Completion(CORBA::CompletionStatus c) {
  switch (c) {
    case CORBA::COMPLETED_YES: return "YES";
    case CORBA::COMPLETED_NO: return "NO";
    default: return "MAYBE";
  }
}

inline std::string Hex(CORBA::ULong v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

inline std::string Describe(const CORBA::Exception& e) {
  std::ostringstream os;
  if (const CORBA::SystemException* se = CORBA::SystemException::_downcast(&e)) {
    os << se->_name() << " minor=0x" << std::hex << se->minor() << std::dec
       << " completed=" << Completion(se->completed());
  } else {
    os << e._name() << " (" << e._rep_id() << ")";
  }
  return os.str();
}

inline void Fail(const std::string& what) { throw Failure{what}; }

inline NativeMessaging::OctetSeq Octets(const std::string& s) {
  NativeMessaging::OctetSeq o;
  o.length(static_cast<CORBA::ULong>(s.size()));
  for (size_t i = 0; i < s.size(); i++) o[static_cast<CORBA::ULong>(i)] = static_cast<CORBA::Octet>(s[i]);
  return o;
}

inline std::string String(const NativeMessaging::OctetSeq& o) {
  return std::string(reinterpret_cast<const char*>(o.get_buffer()), o.length());
}

// RunMain runs body(orb, argc, argv) after ORB_init, then prints PASS (exit
// 0), or FAIL: <what> (exit 1) for a Failure or an unexpected exception.
template <typename Body>
int RunMain(int argc, char** argv, Body body) {
  CORBA::ORB_var orb;
  try {
    orb = CORBA::ORB_init(argc, argv);  // consumes -ORB... arguments
  } catch (const CORBA::Exception& e) {
    Line("FAIL: ORB_init: " + Describe(e));
    return 1;
  }
  int rc = 0;
  try {
    body(orb.in(), argc, argv);
    Line("PASS");
  } catch (const Failure& f) {
    Line("FAIL: " + f.what);
    rc = 1;
  } catch (const CORBA::Exception& e) {
    Line("FAIL: unexpected exception " + Describe(e));
    rc = 1;
  } catch (const std::exception& e) {
    Line(std::string("FAIL: ") + e.what());
    rc = 1;
  }
  try {
    orb->destroy();
  } catch (...) {
  }
  return rc;
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

}  // namespace demo

#endif
