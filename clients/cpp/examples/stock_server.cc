// stock_server: the seed's StockManager target, an omniORB 4.2 server.
//
//   stock_server [-ORBendPoint giop:tcp:127.0.0.1:PORT ...]
//
// stdout line 1: the IOR (IDL:StockManager:1.0, object key "StockManager" in
// omniINSPOA, so corbaloc:iiop:1.2@127.0.0.1:PORT/StockManager works too).
// Then one line per call served, printed before the reply is sent:
//   served add_stock ACME -> TRUE
//   served find_closest_symbol ACMA -> TRUE ACME
// add_stock stores the quote and returns TRUE when the symbol is new. A
// symbol "SLOW<N>" (N decimal digits) makes add_stock sleep N ms first.
// find_closest_symbol sets its inout symbol to the stored symbol sharing the
// longest prefix with it (ties: the smallest) and returns TRUE when that
// prefix has at least one character; else FALSE and the symbol unchanged.
// On SIGTERM or SIGINT it shuts the ORB down and exits 0.

#include "StockManager.hh"
#include "demo_util.hh"

#include <chrono>
#include <csignal>
#include <pthread.h>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace {

std::mutex out_mu;

void Line(const std::string& s) {
  std::lock_guard<std::mutex> lk(out_mu);
  std::cout << s << std::endl;
}

size_t CommonPrefix(const std::string& a, const std::string& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) n++;
  return n;
}

class StockManagerImpl : public POA_StockManager {
 public:
  CORBA::Boolean add_stock(const char* symbol, CORBA::Double quote) override {
    std::string sym(symbol);
    if (sym.size() > 4 && sym.compare(0, 4, "SLOW") == 0 &&
        sym.find_first_not_of("0123456789", 4) == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(sym.c_str() + 4)));
    }
    bool added;
    {
      std::lock_guard<std::mutex> lk(mu_);
      added = stocks_.find(sym) == stocks_.end();
      stocks_[sym] = quote;
    }
    Line("served add_stock " + sym + " -> " + (added ? "TRUE" : "FALSE"));
    return added;
  }

  CORBA::Boolean find_closest_symbol(char*& symbol) override {
    std::string asked(symbol);
    std::string best;
    size_t n = 0;
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (const auto& kv : stocks_) {  // ordered: the first of a tie is the smallest
        size_t p = CommonPrefix(kv.first, asked);
        if (p > n) {
          best = kv.first;
          n = p;
        }
      }
    }
    bool found = n > 0;
    if (found) {
      CORBA::string_free(symbol);
      symbol = CORBA::string_dup(best.c_str());
    }
    Line("served find_closest_symbol " + asked + " -> " + (found ? "TRUE " : "FALSE ") + symbol);
    return found;
  }

 private:
  std::mutex mu_;
  std::map<std::string, CORBA::Double> stocks_;
};

}  // namespace

int main(int argc, char** argv) {
  sigset_t stop = demo::BlockStopSignals();
  try {
    // ORB_init consumes all -ORB... arguments.
    CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
    CORBA::Object_var obj = orb->resolve_initial_references("omniINSPOA");
    PortableServer::POA_var ins = PortableServer::POA::_narrow(obj);
    PortableServer::Servant_var<StockManagerImpl> servant = new StockManagerImpl;
    PortableServer::ObjectId_var oid = PortableServer::string_to_ObjectId("StockManager");
    ins->activate_object_with_id(oid, servant);
    CORBA::Object_var ref = ins->id_to_reference(oid);
    CORBA::String_var ior = orb->object_to_string(ref);
    Line(std::string(ior.in()));
    PortableServer::POAManager_var pm = ins->the_POAManager();
    pm->activate();
    demo::ShutdownOnSignal(stop, orb);
    orb->run();
    orb->destroy();
  } catch (const CORBA::Exception& e) {
    std::cerr << "stock_server: CORBA exception " << e._name() << std::endl;
    return 1;
  }
  return 0;
}
