#!/usr/bin/env bash
# Build the omniORB round-trip peers of the idl package into OUTDIR:
#   testdata/idl/build.sh OUTDIR
# -> OUTDIR/{rt_server,rt_client}
source "$(dirname "$0")/../peers.sh"
peers_init "$@"

# roundtrip.idl includes <orb.idl> (for CORBA::TypeCode) from omniORB's IDL
# directory.
OMNI_IDL_DIR=${OMNI_IDL_DIR:-$(pkg-config --variable=datadir omniORB4 2>/dev/null || true)/idl/omniORB}
[ -f "$OMNI_IDL_DIR/orb.idl" ] || OMNI_IDL_DIR=/usr/share/idl/omniORB
if [ ! -f "$OMNI_IDL_DIR/orb.idl" ]; then
  echo "build.sh: cannot find omniORB's orb.idl (set OMNI_IDL_DIR)" >&2
  exit 1
fi

# -Wba: Any insertion/extraction and TypeCode constants (roundtripDynSK.cc).
idl_stubs "$SRC/roundtrip.idl" -Wba -I"$OMNI_IDL_DIR"
compile "$OUT/roundtripSK.o" "$OUT/roundtripSK.cc" "$OUT/roundtrip.hh"
compile "$OUT/roundtripDynSK.o" "$OUT/roundtripDynSK.cc" "$OUT/roundtrip.hh"
for prog in rt_server rt_client; do
  link "$prog" "$OUT/roundtripSK.o" "$OUT/roundtripDynSK.o" -- "$SRC/rt_common.h" "$OUT/roundtrip.hh"
done
