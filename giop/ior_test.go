package giop

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// omniORBEchoIOR is the output of `genior IDL:Demo/Echo:1.0 127.0.0.1 21000
// Echo` from omniORB 4.2.5 (SPEC.md, Appendix).
const omniORBEchoIOR = "IOR:010000001200000049444c3a44656d6f2f4563686f3a312e30000000010000000000000054000000010102000a0000003132372e302e302e31000852040000004563686f0200000000000000080000000100000000545441010000001c00000001000000010001000100000001000105090101000100000009010100"

// nilIORString is the nil reference as a little-endian encapsulation: the
// byte order octet, an empty type id (length 1, NUL) and no profiles.
const nilIORString = "IOR:01000000010000000000000000000000"

// omniORBCodeSets is what omniORB 4.2.5 advertises (SPEC.md).
var omniORBCodeSets = CodeSetComponentInfo{
	ForChar:  CodeSetComponent{Native: CodeSetISO8859_1, Conversion: []uint32{CodeSetUTF8}},
	ForWChar: CodeSetComponent{Native: CodeSetUTF16, Conversion: []uint32{CodeSetUTF16}},
}

const omniORBType = 0x41545400 // "AT\0\0" read little-endian (SPEC.md)

func mustParseIOR(t *testing.T, s string) *IOR {
	t.Helper()
	ior, err := ParseIOR(s)
	if err != nil {
		t.Fatalf("ParseIOR(%.60q…): %v", s, err)
	}
	return ior
}

func mustIIOP(t *testing.T, ior *IOR) *IIOPProfile {
	t.Helper()
	p, err := ior.IIOP()
	if err != nil {
		t.Fatalf("IIOP(): %v", err)
	}
	return p
}

// checkEchoProfile checks the fields genior writes for the Echo reference.
func checkEchoProfile(t *testing.T, p *IIOPProfile, port uint16) {
	t.Helper()
	if p.Version != V1_2 || p.Host != "127.0.0.1" || p.Port != port || string(p.ObjectKey) != "Echo" {
		t.Errorf("profile = %v %s:%d key %q, want 1.2 127.0.0.1:%d key \"Echo\"", p.Version, p.Host, p.Port, p.ObjectKey, port)
	}
	if len(p.Components) != 2 {
		t.Fatalf("%d components, want 2 (ORB_TYPE, CODE_SETS)", len(p.Components))
	}
	c, ok := p.Component(TagORBType)
	if !ok {
		t.Fatal("no TAG_ORB_TYPE component")
	}
	if v, err := ParseORBTypeComponent(c.Data); err != nil || v != omniORBType {
		t.Errorf("ORB type = %#x, %v; want %#x", v, err, omniORBType)
	}
	cs, ok := p.CodeSets()
	if !ok || !reflect.DeepEqual(cs, omniORBCodeSets) {
		t.Errorf("CodeSets() = %+v, %v; want %+v", cs, ok, omniORBCodeSets)
	}
}

// TestParseIOR_OmniORBCapture decodes an IOR omniORB 4.2.5 printed
// (SPEC.md, "IORs and corbaloc") and checks that a little-endian input is reproduced byte
// for byte, both by String and by re-encoding the decoded IIOP profile.
func TestParseIOR_OmniORBCapture(t *testing.T) {
	ior := mustParseIOR(t, omniORBEchoIOR)
	if ior.TypeID != "IDL:Demo/Echo:1.0" {
		t.Errorf("TypeID = %q", ior.TypeID)
	}
	if ior.IsNil() || len(ior.Profiles) != 1 || ior.Profiles[0].Tag != TagInternetIOP {
		t.Fatalf("profiles = %+v, want one IIOP profile", ior.Profiles)
	}
	p := mustIIOP(t, ior)
	checkEchoProfile(t, p, 21000)
	if got := ior.String(); got != omniORBEchoIOR {
		t.Errorf("String() =\n%s\nwant\n%s", got, omniORBEchoIOR)
	}
	// omniORB pads with zeros, as we do, so even the re-encoded profile matches.
	if got := NewIOR(ior.TypeID, p).String(); got != omniORBEchoIOR {
		t.Errorf("NewIOR(decoded profile).String() =\n%s\nwant\n%s", got, omniORBEchoIOR)
	}
	if got := p.Addresses(); !reflect.DeepEqual(got, []AlternateAddress{{"127.0.0.1", 21000}}) {
		t.Errorf("Addresses() = %v", got)
	}
}

// TestParseIOR_Spelling checks §2.10's "accept either case" and the trimming
// of whitespace around a pasted IOR.
func TestParseIOR_Spelling(t *testing.T) {
	hexPart := omniORBEchoIOR[4:]
	for _, s := range []string{
		"ior:" + hexPart,
		"IOR:" + strings.ToUpper(hexPart),
		"Ior:" + hexPart,
		"  \n" + omniORBEchoIOR + "\r\n\t",
	} {
		ior := mustParseIOR(t, s)
		if got := ior.String(); got != omniORBEchoIOR {
			t.Errorf("ParseIOR(%.20q…).String() differs from the lower-case form", s)
		}
	}
}

// encodeBigEndianEchoIOR writes the omniORB Echo reference with every
// encapsulation big-endian, the byte order omniORB itself never uses on x86.
func encodeBigEndianEchoIOR() string {
	e := NewEncoder(V1_2, false)
	e.WriteBool(false) // big-endian encapsulation
	e.WriteString("IDL:Demo/Echo:1.0")
	e.WriteULong(1)
	e.WriteULong(TagInternetIOP)
	prof := e.BeginEncapsulation()
	e.WriteOctet(1)
	e.WriteOctet(2)
	e.WriteString("127.0.0.1")
	e.WriteUShort(21000)
	e.WriteOctets([]byte("Echo"))
	e.WriteULong(2)
	e.WriteULong(TagORBType)
	m := e.BeginEncapsulation()
	e.WriteULong(omniORBType)
	e.EndEncapsulation(m)
	e.WriteULong(TagCodeSets)
	m = e.BeginEncapsulation()
	e.WriteULong(CodeSetISO8859_1)
	e.WriteULong(1)
	e.WriteULong(CodeSetUTF8)
	e.WriteULong(CodeSetUTF16)
	e.WriteULong(1)
	e.WriteULong(CodeSetUTF16)
	e.EndEncapsulation(m)
	e.EndEncapsulation(prof)
	return "IOR:" + hex.EncodeToString(e.Bytes())
}

// TestParseIOR_BigEndian checks that a big-endian IOR, with big-endian
// nested encapsulations, decodes to the same reference as the omniORB
// capture (encapsulations carry their own byte order, §15.3.3).
func TestParseIOR_BigEndian(t *testing.T) {
	s := encodeBigEndianEchoIOR()
	if !strings.HasPrefix(s, "IOR:00000000000000124944") {
		t.Fatalf("test encoder did not write big-endian: %s", s[:30])
	}
	ior := mustParseIOR(t, s)
	if ior.TypeID != "IDL:Demo/Echo:1.0" {
		t.Errorf("TypeID = %q", ior.TypeID)
	}
	checkEchoProfile(t, mustIIOP(t, ior), 21000)
	// String writes the outer encapsulation little-endian but keeps the
	// big-endian profile bytes; both must decode to the same.
	again := mustParseIOR(t, ior.String())
	if !reflect.DeepEqual(again, ior) {
		t.Errorf("re-parsed %+v, want %+v", again, ior)
	}
	checkEchoProfile(t, mustIIOP(t, again), 21000)
}

// TestDecoderIOR_InStream reads an IOR embedded in a CDR stream, as in a
// LOCATION_FORWARD body (§15.4.3), in both byte orders and at an offset that
// needs alignment, and checks that the decoded profiles do not alias the
// message buffer.
func TestDecoderIOR_InStream(t *testing.T) {
	want := mustParseIOR(t, omniORBEchoIOR)
	for _, little := range []bool{true, false} {
		e := NewEncoder(V1_2, little)
		e.WriteOctet(7)
		e.WriteIOR(want)
		e.WriteULong(0xCAFEBABE)
		buf := e.Bytes()
		d := NewDecoder(buf, V1_2, little)
		if d.Octet() != 7 {
			t.Fatal("lead octet")
		}
		got := d.IOR()
		if tail := d.ULong(); d.Err() != nil || tail != 0xCAFEBABE {
			t.Fatalf("little=%v: tail %#x, err %v", little, tail, d.Err())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("little=%v: got %+v, want %+v", little, got, want)
		}
		for i := range buf {
			buf[i] = 0xEE // the connection reuses its buffers
		}
		checkEchoProfile(t, mustIIOP(t, got), 21000)
	}
	// A nil *IOR is written as the nil reference.
	e := NewEncoder(V1_2, true)
	e.WriteIOR(nil)
	got := NewDecoder(e.Bytes(), V1_2, true).IOR()
	if got == nil || !got.IsNil() {
		t.Errorf("WriteIOR(nil) read back as %+v", got)
	}
}

// TestParseIOR_Nil checks the nil reference of §13.6.2 (SPEC.md).
func TestParseIOR_Nil(t *testing.T) {
	ior := mustParseIOR(t, nilIORString)
	if !ior.IsNil() || ior.Profiles != nil {
		t.Errorf("IsNil() = false for %+v", ior)
	}
	if _, err := ior.IIOP(); !errors.Is(err, ErrNoProfile) {
		t.Errorf("IIOP() error = %v, want ErrNoProfile", err)
	}
	var null *IOR
	for _, r := range []*IOR{ior, {}, null} {
		if !r.IsNil() || r.String() != nilIORString {
			t.Errorf("%#v: IsNil %v, String %s", r, r.IsNil(), r.String())
		}
	}
	if _, err := null.IIOP(); !errors.Is(err, ErrNoProfile) {
		t.Errorf("(*IOR)(nil).IIOP() error = %v, want ErrNoProfile", err)
	}
	if (&IOR{TypeID: "IDL:X:1.0"}).IsNil() {
		t.Error("an IOR with a type id is not nil")
	}
}

// TestIOR_IIOPSelection checks that IIOP skips other profile kinds and
// reports ErrNoProfile when there is no IIOP profile.
func TestIOR_IIOPSelection(t *testing.T) {
	echo := mustIIOP(t, mustParseIOR(t, omniORBEchoIOR))
	other := TaggedProfile{Tag: TagMultipleComponents, Data: []byte{1, 0, 0, 0, 0, 0, 0, 0}}
	ior := &IOR{TypeID: "IDL:Demo/Echo:1.0", Profiles: []TaggedProfile{other, echo.Profile()}}
	again := mustParseIOR(t, ior.String())
	checkEchoProfile(t, mustIIOP(t, again), 21000)
	if !bytes.Equal(again.Profiles[0].Data, other.Data) {
		t.Errorf("TAG_MULTIPLE_COMPONENTS profile not preserved: % x", again.Profiles[0].Data)
	}
	_, err := (&IOR{TypeID: "IDL:X:1.0", Profiles: []TaggedProfile{other}}).IIOP()
	if !errors.Is(err, ErrNoProfile) {
		t.Errorf("IIOP() error = %v, want ErrNoProfile", err)
	}
}

// TestIOR_IIOPProfileV1_0 checks that an IIOP 1.0 ProfileBody has no
// component list (§15.7.2), on encode and on decode.
func TestIOR_IIOPProfileV1_0(t *testing.T) {
	p := &IIOPProfile{Version: V1_0, Host: "127.0.0.1", Port: 21000, ObjectKey: []byte("Echo"),
		Components: []TaggedComponent{DefaultCodeSets.Component()}}
	want, _ := hex.DecodeString("01010000" + "0a000000" + "3132372e302e302e3100" + "0852" + "04000000" + "4563686f")
	got := p.Profile()
	if got.Tag != TagInternetIOP || !bytes.Equal(got.Data, want) {
		t.Fatalf("Profile() = %d % x\nwant % x", got.Tag, got.Data, want)
	}
	back, err := ParseIIOPProfile(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != V1_0 || back.Components != nil || string(back.ObjectKey) != "Echo" || back.Port != 21000 {
		t.Errorf("decoded %+v", back)
	}
	if _, ok := back.CodeSets(); ok {
		t.Error("an IIOP 1.0 profile reported code sets")
	}
	// Bytes after the body are ignored (§15.7.2 readers of newer minors).
	tail := TaggedProfile{Tag: TagInternetIOP, Data: append(append([]byte(nil), want...), 0, 0, 0, 0, 9, 9)}
	if back2, err := ParseIIOPProfile(tail); err != nil || !reflect.DeepEqual(back2, back) {
		t.Errorf("with trailing bytes: %+v, %v", back2, err)
	}
}

// TestIOR_UnknownComponentPreserved checks that components we do
// not understand come back byte for byte, also when the profile is
// big-endian and its padding is garbage (SPEC.md: omniORB
// padding is not zeroed, and §6: seeds must not assume zero padding).
func TestIOR_UnknownComponentPreserved(t *testing.T) {
	// Big-endian IIOP 1.1 body: host "h", port 0x0102, key "k", then an
	// omniORB PERSISTENT_ID component with 5 data bytes and a tag-3
	// component after 3 bytes of garbage padding.
	data, _ := hex.DecodeString("00" + "0101" + "ee" + // byte order, version, pad
		"00000002" + "6800" + "0102" + // host, port
		"00000001" + "6b" + "eeeeee" + // key, pad
		"00000002" +
		"41545403" + "00000005" + "deadbeef00" + "aaaaaa" +
		"00000003" + "0000000c" + "00eeeeee" + "00000002" + "6800" + "0050")
	p, err := ParseIIOPProfile(TaggedProfile{Tag: TagInternetIOP, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != V1_1 || p.Host != "h" || p.Port != 0x0102 || string(p.ObjectKey) != "k" {
		t.Errorf("decoded %+v", p)
	}
	wantUnknown := TaggedComponent{Tag: 0x41545403, Data: []byte{0xde, 0xad, 0xbe, 0xef, 0}}
	if c, ok := p.Component(0x41545403); !ok || !reflect.DeepEqual(c, wantUnknown) {
		t.Errorf("unknown component = %+v, %v; want %+v", c, ok, wantUnknown)
	}
	if got := p.Addresses(); !reflect.DeepEqual(got, []AlternateAddress{{"h", 0x0102}, {"h", 80}}) {
		t.Errorf("Addresses() = %v", got)
	}
	// Re-encoding little-endian keeps every component's bytes.
	again, err := ParseIIOPProfile(p.Profile())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, p) {
		t.Errorf("re-encoded profile decodes to %+v, want %+v", again, p)
	}
	// And the profile travels unchanged inside an IOR.
	ior := &IOR{TypeID: "IDL:X:1.0", Profiles: []TaggedProfile{{Tag: TagInternetIOP, Data: data}}}
	if got := mustParseIOR(t, ior.String()); !bytes.Equal(got.Profiles[0].Data, data) {
		t.Error("profile bytes changed through String/ParseIOR")
	}
}

// le builds little-endian CDR test input from hex fragments.
func le(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseIOR_Errors checks malformed and hostile stringified IORs
// (SPEC.md): every one is an error wrapping ErrBadIOR, and none
// panics or allocates from a length the input chose.
func TestParseIOR_Errors(t *testing.T) {
	h := func(parts ...string) string { return "IOR:" + hex.EncodeToString(le(t, parts...)) }
	typeID := "12000000" + hex.EncodeToString([]byte("IDL:Demo/Echo:1.0\x00"))
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"prefix only", "IOR:"},
		{"wrong prefix", "IOP:" + omniORBEchoIOR[4:]},
		{"corbaloc", "corbaloc::host/key"},
		{"odd length", omniORBEchoIOR[:len(omniORBEchoIOR)-1]},
		{"bad hex digit", "IOR:01zz"},
		{"inner space", "IOR:0100 0000"},
		{"bad byte order", "IOR:02000000010000000000000000000000"},
		{"type id length 0", h("01000000", "00000000", "00000000")},
		{"type id without NUL", h("01000000", "01000000", "41000000", "00000000")},
		{"type id length huge", h("01000000", "f0ffffff", "00")},
		{"type id over 1 KiB", h("01000000", "02040000", strings.Repeat("41", 1025), "00", "0000", "00000000")},
		{"profile count huge", h("01000000", typeID, "0000", "f0ffffff")},
		{"profile count over limit", h("01000000", typeID, "0000", "21000000", strings.Repeat("0000000000000000", 33))},
		{"profile length huge", h("01000000", typeID, "0000", "01000000", "00000000", "f0ffffff", "01")},
		{"profile length past end", h("01000000", typeID, "0000", "01000000", "00000000", "10000000", "01")},
		{"too long", "IOR:" + strings.Repeat("00", iorMaxStringified)},
	}
	// Every proper prefix of the capture is truncated somewhere.
	for n := 4; n < len(omniORBEchoIOR); n += 2 {
		tests = append(tests, struct{ name, in string }{"truncated", omniORBEchoIOR[:n]})
	}
	for _, tt := range tests {
		ior, err := ParseIOR(tt.in)
		if !errors.Is(err, ErrBadIOR) || ior != nil {
			t.Errorf("%s: ParseIOR(%.40q) = %v, %v; want ErrBadIOR", tt.name, tt.in, ior, err)
		}
	}
}

// TestParseIOR_HostileLengthsDoNotAllocate checks §6's rule: a length the
// peer chose is checked against the bytes left before anything is allocated.
func TestParseIOR_HostileLengthsDoNotAllocate(t *testing.T) {
	hostile := []string{
		"IOR:01000000" + "1200000049444c3a44656d6f2f4563686f3a312e3000" + "0000" + "f0ffffff",
		"IOR:01000000" + "f0ffffff" + "41",
		"IOR:01000000" + "01000000" + "00000000" + "01000000" + "00000000" + "ffffff7f" + "01",
	}
	for _, s := range hostile {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		const runs = 100
		for range runs {
			if _, err := ParseIOR(s); !errors.Is(err, ErrBadIOR) {
				t.Fatalf("ParseIOR(%s) error = %v", s, err)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 4096 {
			t.Errorf("ParseIOR(%s) allocated %d bytes per call", s, per)
		}
	}
}

// TestIOR_IIOPProfileErrors checks the limits and checks of ParseIIOPProfile
// (SPEC.md; §2.10 for the layout).
func TestIOR_IIOPProfileErrors(t *testing.T) {
	host := "0a0000003132372e302e302e3100" // "127.0.0.1", ends at offset 18
	comps := func(n int, size int) string {
		s := "0852" + "04000000" + "4563686f" + hex.EncodeToString([]byte{byte(n), byte(n >> 8), 0, 0})
		for range n {
			s += "ff000000" + hex.EncodeToString([]byte{byte(size), byte(size >> 8), byte(size >> 16), 0}) + strings.Repeat("00", size)
		}
		return s
	}
	tests := []struct {
		name string
		tag  uint32
		data string
	}{
		{"wrong tag", TagMultipleComponents, "01010200" + host + comps(0, 0)},
		{"empty", TagInternetIOP, ""},
		{"bad byte order", TagInternetIOP, "05010200" + host + comps(0, 0)},
		{"version 1.3", TagInternetIOP, "01010300" + host + comps(0, 0)},
		{"version 2.0", TagInternetIOP, "01020000" + host + comps(0, 0)},
		{"empty host", TagInternetIOP, "01010200" + "01000000" + "00" + "00" + comps(0, 0)},
		{"host with NUL", TagInternetIOP, "01010200" + "0300000061006200" + "0000" + comps(0, 0)[4:]},
		{"host too long", TagInternetIOP, "01010200" + "00010000" + strings.Repeat("61", 255) + "00" + "0852" + "00000000" + "00000000"},
		{"key too long", TagInternetIOP, "01010200" + host + "0852" + "01100000" + strings.Repeat("00", 4097) + "000000" + "00000000"},
		{"too many components", TagInternetIOP, "01010200" + host + comps(65, 0)},
		{"component too large", TagInternetIOP, "01010200" + host + comps(1, 16<<10+1)},
		{"component count huge", TagInternetIOP, "01010200" + host + "0852" + "04000000" + "4563686f" + "ffffffff"},
		{"truncated key", TagInternetIOP, "01010200" + host + "0852" + "08000000" + "4563686f"},
		{"truncated port", TagInternetIOP, "01010200" + host + "08"},
		{"missing components", TagInternetIOP, "01010200" + host + "0852" + "04000000" + "4563686f"},
	}
	for _, tt := range tests {
		b, err := hex.DecodeString(tt.data)
		if err != nil {
			t.Fatalf("%s: bad test hex: %v", tt.name, err)
		}
		p, err := ParseIIOPProfile(TaggedProfile{Tag: tt.tag, Data: b})
		if !errors.Is(err, ErrBadIOR) || p != nil {
			t.Errorf("%s: ParseIIOPProfile = %+v, %v; want ErrBadIOR", tt.name, p, err)
		}
	}
	// The limits themselves are accepted (64 components of 16 KiB would
	// exceed the 64 KiB profile limit, so the two are checked apart).
	ok := &IIOPProfile{Version: V1_2, Host: strings.Repeat("h", 255), Port: 1, ObjectKey: make([]byte, 4096)}
	for range 64 {
		ok.Components = append(ok.Components, TaggedComponent{Tag: 9, Data: make([]byte, 16)})
	}
	big := &IIOPProfile{Version: V1_1, Host: "h", Port: 1, ObjectKey: []byte("k"),
		Components: []TaggedComponent{{Tag: 9, Data: make([]byte, 16<<10)}}}
	for _, p := range []*IIOPProfile{ok, big} {
		back, err := ParseIIOPProfile(p.Profile())
		if err != nil || !reflect.DeepEqual(back, p) {
			t.Errorf("profile at the limits: %v", err)
		}
	}
}

// TestComponent_CodeSets checks TAG_CODE_SETS encoding against hand-written
// bytes and the DefaultCodeSets recommendation of SPEC.md
func TestComponent_CodeSets(t *testing.T) {
	c := DefaultCodeSets.Component()
	want := le(t, "01000000", "01000105", "01000000", "01000100", "09010100", "00000000")
	if c.Tag != TagCodeSets || !bytes.Equal(c.Data, want) {
		t.Errorf("DefaultCodeSets.Component() = %d % x, want % x", c.Tag, c.Data, want)
	}
	got, err := ParseCodeSetComponent(c.Data)
	if err != nil || !reflect.DeepEqual(got, DefaultCodeSets) {
		t.Errorf("round trip = %+v, %v", got, err)
	}
	for name, data := range map[string][]byte{
		"empty":          nil,
		"truncated":      want[:10],
		"count huge":     le(t, "01000000", "01000105", "ffffffff"),
		"count too many": le(t, "01000000", "01000105", "41000000", strings.Repeat("00", 4*65+8)),
	} {
		if _, err := ParseCodeSetComponent(data); !errors.Is(err, ErrBadIOR) {
			t.Errorf("%s: error = %v, want ErrBadIOR", name, err)
		}
	}
	// An undecodable component is reported as absent, not as a failure.
	p := &IIOPProfile{Version: V1_2, Host: "h", Components: []TaggedComponent{{Tag: TagCodeSets, Data: []byte{1}}}}
	if _, ok := p.CodeSets(); ok {
		t.Error("CodeSets() accepted a truncated component")
	}
}

// TestComponent_ORBType checks TAG_ORB_TYPE against the bytes omniORB writes
// (SPEC.md).
func TestComponent_ORBType(t *testing.T) {
	c := ORBTypeComponent(omniORBType)
	if c.Tag != TagORBType || !bytes.Equal(c.Data, le(t, "01000000", "00545441")) {
		t.Errorf("ORBTypeComponent = %d % x", c.Tag, c.Data)
	}
	if v, err := ParseORBTypeComponent(le(t, "00000000", "41545400")); err != nil || v != omniORBType {
		t.Errorf("big-endian ORB type = %#x, %v", v, err)
	}
	if _, err := ParseORBTypeComponent(le(t, "010000")); !errors.Is(err, ErrBadIOR) {
		t.Errorf("truncated: %v", err)
	}
}

// TestComponent_AlternateAddress checks TAG_ALTERNATE_IIOP_ADDRESS (§15.7.3)
// and the order Addresses returns.
func TestComponent_AlternateAddress(t *testing.T) {
	a := AlternateAddress{Host: "10.0.0.2", Port: 6666}
	c := a.Component()
	want := le(t, "01000000", "09000000", hex.EncodeToString([]byte("10.0.0.2\x00")), "00", "0a1a")
	if c.Tag != TagAlternateIIOPAddress || !bytes.Equal(c.Data, want) {
		t.Errorf("Component() = %d % x, want % x", c.Tag, c.Data, want)
	}
	if got, err := ParseAlternateAddressComponent(c.Data); err != nil || got != a {
		t.Errorf("round trip = %+v, %v", got, err)
	}
	for name, data := range map[string][]byte{
		"empty":      nil,
		"no port":    want[:len(want)-2],
		"empty host": le(t, "01000000", "01000000", "00", "00", "0a1a"),
	} {
		if _, err := ParseAlternateAddressComponent(data); !errors.Is(err, ErrBadIOR) {
			t.Errorf("%s: error = %v, want ErrBadIOR", name, err)
		}
	}
	p := &IIOPProfile{Version: V1_2, Host: "primary", Port: 1, Components: []TaggedComponent{
		{Tag: TagAlternateIIOPAddress, Data: []byte{1, 2}}, // undecodable: skipped
		AlternateAddress{"alt1", 2}.Component(),
		DefaultCodeSets.Component(),
		AlternateAddress{"alt2", 3}.Component(),
	}}
	wantAddrs := []AlternateAddress{{"primary", 1}, {"alt1", 2}, {"alt2", 3}}
	if got := p.Addresses(); !reflect.DeepEqual(got, wantAddrs) {
		t.Errorf("Addresses() = %v, want %v", got, wantAddrs)
	}
	if c, ok := p.Component(TagAlternateIIOPAddress); !ok || !bytes.Equal(c.Data, []byte{1, 2}) {
		t.Errorf("Component returns the first match: %+v %v", c, ok)
	}
	if _, ok := p.Component(TagORBType); ok {
		t.Error("Component found an absent tag")
	}
}

// interopTool returns the path of an omniORB command-line tool (Debian
// package omniorb, SPEC.md). It skips when the tool is
// missing, unless CI is set or REQUESTAGENT_REQUIRE_INTEROP=1, where a
// missing tool must not turn the interop tests silently green.
func interopTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" || os.Getenv("REQUESTAGENT_REQUIRE_INTEROP") == "1" {
		t.Fatalf("%s not found (install the omniorb package, scripts/install-omniorb.sh): %v", name, err)
	}
	t.Skipf("%s not found; install the omniorb package to run this interop test", name)
	return ""
}

func runTool(t *testing.T, path string, args ...string) string {
	t.Helper()
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", path, args, err, out)
	}
	return string(out)
}

// TestIOR_CatiorInterop has omniORB's own IOR parser, catior, decode IORs
// we encode (SPEC.md, golden-test tools).
func TestIOR_CatiorInterop(t *testing.T) {
	catior := interopTool(t, "catior")
	key := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xff}
	p := &IIOPProfile{Version: V1_2, Host: "127.0.0.1", Port: 5555, ObjectKey: key, Components: []TaggedComponent{
		ORBTypeComponent(0x52410000), // "RA\0\0": a private value, not omniORB's
		DefaultCodeSets.Component(),
		AlternateAddress{Host: "10.0.0.2", Port: 6666}.Component(),
		{Tag: 0x12345, Data: []byte{1, 2, 3}},
	}}
	fromCorbaloc, err := ParseCorbaloc("corbaloc::1.0@agent.example:2810,iiop:1.1@[::1]/Name%2fService")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ior  *IOR
		want []string // regular expressions, in order
	}{
		{"full", NewIOR("IDL:requestagent/Agent:1.0", p), []string{
			`Type ID: "IDL:requestagent/Agent:1\.0"`,
			`IIOP 1\.2 127\.0\.0\.1 5555 0x000102030405060708090a0b0c0d0eff\s+\(16 bytes\)`,
			`TAG_ORB_TYPE .*\(RA\\x00\\x00\)`,
			`char native code set:\s+UTF-8\n`,
			`char conversion code sets:\s+ISO-8859-1\n`,
			`wchar native code set:\s+UTF-16\n`,
			`TAG_ALTERNATE_IIOP_ADDRESS 10\.0\.0\.2 6666`,
			`Unknown component tag 74565`,
		}},
		{"corbaloc", fromCorbaloc.IOR(""), []string{
			`Type ID: ""`,
			`1\. IIOP 1\.0 agent\.example 2810 0x4e616d652f53657276696365`,
			`2\. IIOP 1\.1 ::1 2809 0x4e616d652f53657276696365`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := runTool(t, catior, "-x", tt.ior.String())
			rest := out
			for _, re := range tt.want {
				loc := regexp.MustCompile(re).FindStringIndex(rest)
				if loc == nil {
					t.Fatalf("catior output lacks %q (in order); output:\n%s", re, out)
				}
				rest = rest[loc[1]:]
			}
			if tt.name == "corbaloc" && strings.Contains(out, "TAG_CODE_SETS") {
				t.Errorf("a corbaloc IOR must carry no code sets:\n%s", out)
			}
		})
	}
}

// TestParseIOR_GeniorOutput parses IORs that omniORB's genior writes
// (SPEC.md) and checks that String reproduces them exactly.
func TestParseIOR_GeniorOutput(t *testing.T) {
	genior := interopTool(t, "genior")
	tests := []struct {
		args []string
		host string
		port uint16
		key  string
	}{
		{[]string{"IDL:Demo/Echo:1.0", "127.0.0.1", "21000", "Echo"}, "127.0.0.1", 21000, "Echo"},
		{[]string{"IDL:Demo/Echo:1.0", "::1", "2809", "a/b%20c"}, "::1", 2809, "a/b%20c"},
		{[]string{"IDL:X:1.0", "host.example", "1", "K"}, "host.example", 1, "K"},
		{[]string{"-x", "IDL:X:1.0", "h", "65535", "0x00ff10fe"}, "h", 65535, "\x00\xff\x10\xfe"},
	}
	for _, tt := range tests {
		s := strings.TrimSpace(runTool(t, genior, tt.args...))
		ior := mustParseIOR(t, s)
		typeID := tt.args[len(tt.args)-4]
		if ior.TypeID != typeID {
			t.Errorf("%v: TypeID = %q", tt.args, ior.TypeID)
		}
		p := mustIIOP(t, ior)
		if p.Version != V1_2 || p.Host != tt.host || p.Port != tt.port || string(p.ObjectKey) != tt.key {
			t.Errorf("%v: profile %v %s:%d %q", tt.args, p.Version, p.Host, p.Port, p.ObjectKey)
		}
		if cs, ok := p.CodeSets(); !ok || !reflect.DeepEqual(cs, omniORBCodeSets) {
			t.Errorf("%v: CodeSets() = %+v, %v", tt.args, cs, ok)
		}
		if got := ior.String(); got != s {
			t.Errorf("%v: String() =\n%s\nwant\n%s", tt.args, got, s)
		}
		if got := NewIOR(typeID, p).String(); got != s {
			t.Errorf("%v: re-encoded profile differs:\n%s\nwant\n%s", tt.args, got, s)
		}
	}
}
