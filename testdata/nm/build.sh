#!/usr/bin/env bash
# Build the omniORB Native Messaging peers (the Native Messaging documents' examples) into OUTDIR:
#   testdata/nm/build.sh OUTDIR
# -> OUTDIR/{stock_server,polling_client,group_client,waitreply_client,recipient_client,
# failover_client},
# the programs of clients/cpp/examples linked with the shipped runtime
# (clients/cpp, built into OUTDIR/../cpp), which holds the stubs of
# ../../idl/NativeMessaging.idl.
source "$(dirname "$0")/../peers.sh"
peers_init "$@"
nm_library
SRC="$ROOT/clients/cpp/examples"
DEPS+=("$SRC/demo_util.hh")

NMIDL="$ROOT/idl/NativeMessaging.idl"
idl_stubs "$SRC/StockManager.idl"
compile "$OUT/StockManagerSK.o" "$OUT/StockManagerSK.cc" "$OUT/StockManager.hh"

for prog in stock_server polling_client group_client waitreply_client recipient_client; do
  link "$prog" "$OUT/StockManagerSK.o" "$NMLIB" -- "$OUT/StockManager.hh"
done

# The failover client, a test peer of this directory's own (docs/cluster.md).
EXAMPLES=$SRC BASE_FLAGS=$CXXFLAGS
SRC="$ROOT/testdata/nm" CXXFLAGS="$CXXFLAGS -I$EXAMPLES"
link failover_client "$OUT/StockManagerSK.o" "$NMLIB" -- "$OUT/StockManager.hh" "$EXAMPLES/demo_util.hh"
SRC=$EXAMPLES CXXFLAGS=$BASE_FLAGS

# The group client again, compiled against NativeMessaging.idl under a
# #pragma prefix, as applications compiled against VisiBroker's IDL are:
# OUTDIR/vendor/group_client, for the agent's repository-id prefix setting.
# Its own stubs come before the library's archive, so the linker takes
# them and only the runtime from the archive (the runtime names no
# repository id on the wire).
VOUT="$OUT/vendor"
mkdir -p "$VOUT"
if stale "$VOUT/NativeMessaging.idl" "$NMIDL"; then
  { echo '#pragma prefix "vendor.example"'; cat "$NMIDL"; } >"$VOUT/NativeMessaging.idl"
fi
BASE_OUT=$OUT
OUT=$VOUT
idl_stubs "$SRC/StockManager.idl"
idl_stubs "$VOUT/NativeMessaging.idl"
compile "$OUT/StockManagerSK.o" "$OUT/StockManagerSK.cc" "$OUT/StockManager.hh"
compile "$OUT/NativeMessagingSK.o" "$OUT/NativeMessagingSK.cc" "$OUT/NativeMessaging.hh"
link group_client "$OUT/StockManagerSK.o" "$OUT/NativeMessagingSK.o" "$NMLIB" -- \
  "$OUT/StockManager.hh" "$OUT/NativeMessaging.hh"
OUT=$BASE_OUT
