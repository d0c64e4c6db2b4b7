#!/usr/bin/env bash
# Build the omniORB peers of the IIOP-over-TLS tests into OUTDIR:
#   testdata/tls/build.sh OUTDIR
# -> OUTDIR/{stock_server,polling_client,recipient_client}: the Native
# Messaging peers of testdata/nm, from their sources unchanged, linked with
# omniORB's SSL transport (libomnisslTP4, OpenSSL) and ssl_init.cc, which
# turns it on from PEER_SSL_CA and PEER_SSL_KEY (see ssl_init.cc).
source "$(dirname "$0")/../peers.sh"
peers_init "$@"

OMNI_FLAGS="$OMNI_FLAGS -lomnisslTP4 -lssl -lcrypto"
TLS_SRC=$SRC
NM_SRC="$ROOT/testdata/nm"
DEPS+=("$TLS_SRC/ssl_init.cc")

compile "$OUT/ssl_init.o" "$TLS_SRC/ssl_init.cc"
NMIDL="$ROOT/idl/NativeMessaging.idl"
idl_stubs "$NM_SRC/StockManager.idl"
idl_stubs "$NMIDL"
SRC=$NM_SRC
compile "$OUT/StockManagerSK.o" "$OUT/StockManagerSK.cc" "$OUT/StockManager.hh"
compile "$OUT/NativeMessagingSK.o" "$OUT/NativeMessagingSK.cc" "$OUT/NativeMessaging.hh"
compile "$OUT/nm_current.o" "$NM_SRC/nm_current.cc" "$NM_SRC/nm_current.hh" "$OUT/NativeMessaging.hh"

OBJS=("$OUT/StockManagerSK.o" "$OUT/NativeMessagingSK.o" "$OUT/ssl_init.o")
HEADERS=("$NM_SRC/nm_current.hh" "$NM_SRC/demo_util.hh" "$OUT/StockManager.hh" "$OUT/NativeMessaging.hh")
link stock_server "${OBJS[@]}" -- "${HEADERS[@]}"
link polling_client "${OBJS[@]}" -- "${HEADERS[@]}"
link recipient_client "${OBJS[@]}" "$OUT/nm_current.o" -- "${HEADERS[@]}"
