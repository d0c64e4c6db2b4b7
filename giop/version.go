package giop

import "fmt"

// Version is a GIOP protocol version. IIOP profile versions use the same shape.
type Version struct {
	Major, Minor uint8
}

// The GIOP versions this package reads. It writes 1.2 whenever the peer allows.
var (
	V1_0 = Version{1, 0}
	V1_1 = Version{1, 1}
	V1_2 = Version{1, 2}
)

// String formats the version as "1.2".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Supported reports whether v is a GIOP version this package can read (1.0–1.2).
func (v Version) Supported() bool { return v.Major == 1 && v.Minor <= 2 }

// AtLeast reports whether v is the same as or newer than o.
func (v Version) AtLeast(o Version) bool {
	return v.Major > o.Major || (v.Major == o.Major && v.Minor >= o.Minor)
}

// ORBTypeRequestAgent is the ORB type our IORs carry in TAG_ORB_TYPE
// ("RA\0\0"). It is not an OMG-registered vendor tag; no ORB branches on the
// ORB type (omniORB only stores it, SPEC.md), and we must not
// impersonate another vendor's.
const ORBTypeRequestAgent uint32 = 0x52410000
