#!/usr/bin/env bash
# Build the omniORB peers of the IIOP-over-TLS tests into OUTDIR:
#   testdata/tls/build.sh OUTDIR
# -> OUTDIR/{stock_server,polling_client,recipient_client}: the programs of
# clients/cpp/examples, from their sources unchanged, linked with the
# shipped runtime (clients/cpp), omniORB's SSL transport (libomnisslTP4,
# OpenSSL) and ssl_init.cc, which turns it on from PEER_SSL_CA and
# PEER_SSL_KEY (see ssl_init.cc); and OUTDIR/leaked_key_client, this
# directory's own, the same way.
source "$(dirname "$0")/../peers.sh"
peers_init "$@"

nm_library
OMNI_FLAGS="$OMNI_FLAGS -lomnisslTP4 -lssl -lcrypto"
TLS_SRC=$SRC
EX_SRC="$ROOT/clients/cpp/examples"
DEPS+=("$TLS_SRC/ssl_init.cc" "$EX_SRC/demo_util.hh")

compile "$OUT/ssl_init.o" "$TLS_SRC/ssl_init.cc"
idl_stubs "$EX_SRC/StockManager.idl"
SRC=$EX_SRC
compile "$OUT/StockManagerSK.o" "$OUT/StockManagerSK.cc" "$OUT/StockManager.hh"

OBJS=("$OUT/StockManagerSK.o" "$OUT/ssl_init.o" "$NMLIB")
for prog in stock_server polling_client recipient_client; do
  link "$prog" "${OBJS[@]}" -- "$OUT/StockManager.hh"
done

# Ours, with the examples' helpers (demo_util.hh) on the include path.
SRC=$TLS_SRC
NMLIB_INC+=(-I"$EX_SRC")
link leaked_key_client "${OBJS[@]}" -- "$OUT/StockManager.hh" "$EX_SRC/demo_util.hh"
