// ssl_init.cc: turns on omniORB's SSL transport (libomnisslTP4) for a peer
// linked with it, before main runs ORB_init, from the environment:
//   PEER_SSL_CA      the CA bundle (PEM) peers' certificates are verified against
//   PEER_SSL_KEY     this peer's certificate and key in one PEM file, certificate first
//   PEER_SSL_VERIFY  "require" (the default: a peer without a certificate
//                    that verifies is refused), "peer" (verify one if given)
// omniORB makes its sslContext singleton from certificate_authority_file
// and key_file when both are set (omniORB4/sslContext.h); without the two
// variables the peer has no SSL transport, as if not linked with it.

#include <omniORB4/CORBA.h>
#include <omniORB4/sslContext.h>

#include <cstdlib>
#include <string>

namespace {

struct SSLInit {
  SSLInit() {
    const char* ca = std::getenv("PEER_SSL_CA");
    const char* key = std::getenv("PEER_SSL_KEY");
    if (ca == nullptr || key == nullptr) return;
    sslContext::certificate_authority_file = ca;
    sslContext::key_file = key;
    sslContext::key_file_password = "";
    const char* v = std::getenv("PEER_SSL_VERIFY");
    if (v != nullptr && std::string(v) == "peer") sslContext::verify_mode = SSL_VERIFY_PEER;
  }
} init;

}  // namespace
