// nm_bench_client_tls: nm_bench_client, the same program, linked with
// omniORB's SSL transport (libomnisslTP4) and ../tls/ssl_init.cc, which
// turns it on from PEER_SSL_CA and PEER_SSL_KEY before ORB_init. The agent's
// TLS-only references then lead omniORB to giop:ssl. The benchmark's IIOP
// over TLS rows (tools/benchsuite) run it beside nm_bench_client in clear.
#include "nm_bench_client.cc"
