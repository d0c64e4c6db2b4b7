// failover_client: an unchanged omniORB client of Demo::Echo, driven line
// by line from stdin, for measuring what omniORB does when the server it
// calls goes away (giop/SPEC.md, "omniORB 4.2.5 when a server goes away";
// internal/failover). No exception handler is installed and no option is
// set beyond the -ORB... arguments given: what it prints is omniORB's own
// behaviour.
//
//   failover_client [-ORB<option> <value> ...] <IOR-or-corbaloc>
//
// stdout line 1: "READY". Then, per stdin line:
//   call TAG   echoString(TAG) on the reference, one line when it returns:
//                CALL tag=TAG ok=1 result=R ms=E
//                CALL tag=TAG ok=0 exc=NAME minor=0xM completed=C ms=E
//              E is the call's elapsed time in milliseconds (steady_clock,
//              one decimal), C the completion status as a number (0 YES,
//              1 NO, 2 MAYBE).
//   quit       destroys the ORB and exits 0.
// A wrong argument gives a usage message and exit 2.

#include "demo.hh"
#include "peer_util.hh"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace {

void Line(const std::string& s) { std::cout << s << std::endl; }

std::string Ms(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f",
                std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

void Call(Demo::Echo_ptr echo, const std::string& tag) {
  auto t0 = std::chrono::steady_clock::now();
  try {
    CORBA::String_var r = echo->echoString(tag.c_str());
    auto el = std::chrono::steady_clock::now() - t0;
    Line("CALL tag=" + tag + " ok=1 result=" + r.in() + " ms=" + Ms(el));
  } catch (CORBA::SystemException& e) {
    auto el = std::chrono::steady_clock::now() - t0;
    char buf[128];
    std::snprintf(buf, sizeof buf, " ok=0 exc=%s minor=0x%lx completed=%d ms=", e._name(),
                  static_cast<unsigned long>(e.minor()), static_cast<int>(e.completed()));
    Line("CALL tag=" + tag + buf + Ms(el));
  } catch (CORBA::Exception& e) {
    auto el = std::chrono::steady_clock::now() - t0;
    Line("CALL tag=" + tag + " ok=0 exc=" + e._name() + " ms=" + Ms(el));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);  // removes the -ORB... arguments
  if (argc != 2) {
    std::cerr << "usage: failover_client [-ORB...] <IOR-or-corbaloc>\n";
    return 2;
  }
  try {
    CORBA::Object_var obj = orb->string_to_object(argv[1]);
    Demo::Echo_var echo = Demo::Echo::_unchecked_narrow(obj);
    if (CORBA::is_nil(echo)) {
      Line("FAIL: nil reference");
      return 1;
    }
    Line("READY");
    std::string cmd;
    while (std::getline(std::cin, cmd)) {
      if (cmd == "quit") break;
      if (cmd.rfind("call ", 0) == 0) {
        Call(echo, cmd.substr(5));
      } else {
        Line("FAIL: unknown command " + cmd);
      }
    }
    orb->destroy();
    return 0;
  } catch (CORBA::Exception& e) {
    Line("FAIL: " + peer::Describe(e));
  }
  return 1;
}
