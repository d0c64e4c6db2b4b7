package giop

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseIOR checks ParseIOR against hostile input (SPEC.md,
// fuzzing plan): it never panics, fails only with ErrBadIOR, and whatever it
// accepts re-encodes to a string that parses to the same value and is a
// fixed point of String. The IIOP profile decoder is checked the same way.
//
// Mutating hex digits rarely gets past the hex decoder, so an input without
// the "IOR:" prefix is also taken as the raw encapsulation bytes and tried
// hex-encoded; the binary seeds serve that path.
// Seeds: testdata/fuzz/FuzzParseIOR (omniORB captures and edge cases).
func FuzzParseIOR(f *testing.F) {
	f.Add(omniORBEchoIOR)
	f.Add(nilIORString)
	f.Add(encodeBigEndianEchoIOR())
	echo, _ := hex.DecodeString(omniORBEchoIOR[4:])
	f.Add(string(echo))
	// omniORB 4.2.5's echo_server on giop:ssl only (tls_test.go): port 0
	// and TAG_SSL_SEC_TRANS.
	f.Add(omniORBSSLEchoIOR)
	f.Fuzz(func(t *testing.T, s string) {
		checkParseIOR(t, s)
		if len(s) < 4 || !strings.EqualFold(s[:4], "IOR:") {
			checkParseIOR(t, "IOR:"+hex.EncodeToString([]byte(s)))
		}
	})
}

// omniORBSSLEchoIOR is what omniORB 4.2.5's echo_server printed with
// -ORBendPoint giop:ssl:127.0.0.1:23001 (giop/SPEC.md, "IIOP over TLS").
const omniORBSSLEchoIOR = "IOR:010000001200000049444c3a44656d6f2f4563686f3a312e30000000010000000000000064000000010102000a0000003132372e302e302e31000000040000004563686f0300000000000000080000000100000000545441010000001c000000010000000100010001000000010001050901010001000000090101001400000008000000010066006600d959"

// checkParseIOR checks the FuzzParseIOR properties for one input.
func checkParseIOR(t *testing.T, s string) {
	t.Helper()
	checkSkipIOR(t, s)
	ior, err := ParseIOR(s)
	if err != nil {
		if !errors.Is(err, ErrBadIOR) || ior != nil {
			t.Fatalf("ParseIOR error %v (IOR %v) does not wrap ErrBadIOR", err, ior)
		}
		return
	}
	s2 := ior.String()
	ior2, err := ParseIOR(s2)
	if err != nil {
		t.Fatalf("re-parsing %s: %v", s2, err)
	}
	if !reflect.DeepEqual(ior, ior2) {
		t.Fatalf("round trip changed the IOR:\n%+v\n%+v", ior, ior2)
	}
	if s3 := ior2.String(); s3 != s2 {
		t.Fatalf("String is not stable:\n%s\n%s", s2, s3)
	}
	for _, prof := range ior.Profiles {
		p, err := ParseIIOPProfile(prof)
		if err != nil {
			if prof.Tag == TagInternetIOP && !errors.Is(err, ErrBadIOR) {
				t.Fatalf("ParseIIOPProfile error %v does not wrap ErrBadIOR", err)
			}
			continue
		}
		p2, err := ParseIIOPProfile(p.Profile())
		if err != nil {
			t.Fatalf("re-parsing encoded profile %+v: %v", p, err)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("profile round trip changed it:\n%+v\n%+v", p, p2)
		}
		// The component decoders must not panic either.
		p.CodeSets()
		p.Addresses()
		if c, ok := p.Component(TagORBType); ok {
			_, _ = ParseORBTypeComponent(c.Data)
		}
		p.SSL()
	}
}

// FuzzParseCorbaloc checks ParseCorbaloc (SPEC.md): it
// never panics, fails only with ErrBadCorbaloc, and what it accepts has a
// canonical String that parses back to the same value, and an IOR whose
// profiles decode to the same addresses and key.
// Seeds: testdata/fuzz/FuzzParseCorbaloc.
func FuzzParseCorbaloc(f *testing.F) {
	f.Add("corbaloc::127.0.0.1:21000/Echo")
	f.Add("corbaloc:iiop:1.2@[::1]:2809,:h2/a%2Fb")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCorbaloc(s)
		if err != nil {
			if !errors.Is(err, ErrBadCorbaloc) || c != nil {
				t.Fatalf("ParseCorbaloc error %v (value %v) does not wrap ErrBadCorbaloc", err, c)
			}
			return
		}
		if len(c.Key) == 0 || len(c.Addresses) == 0 {
			t.Fatalf("accepted %q with no key or no address: %+v", s, c)
		}
		s2 := c.String()
		c2, err := ParseCorbaloc(s2)
		if err != nil {
			t.Fatalf("re-parsing %q (from %q): %v", s2, s, err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the URL:\n%+v\n%+v", c, c2)
		}
		if s3 := c2.String(); s3 != s2 {
			t.Fatalf("String is not stable: %q, %q", s2, s3)
		}
		// Read the reference back as a client does, from CDR: its string
		// form may exceed ParseIOR's 128 KiB cap (32 profiles of a 4 KiB key).
		e := NewEncoder(V1_2, true)
		e.WriteIOR(c.IOR(""))
		d := NewDecoder(e.Bytes(), V1_2, true)
		ior := d.IOR()
		if err := d.Err(); err != nil {
			t.Fatalf("IOR of %q does not decode: %v", s, err)
		}
		for i, a := range c.Addresses {
			p, err := ParseIIOPProfile(ior.Profiles[i])
			if err != nil {
				t.Fatalf("profile %d of %q: %v", i, s, err)
			}
			want := &IIOPProfile{Version: a.Version, Host: a.Host, Port: a.Port, ObjectKey: c.Key}
			if !reflect.DeepEqual(p, want) {
				t.Fatalf("profile %d = %+v, want %+v", i, p, want)
			}
		}
	})
}

// checkSkipIOR: SkipIOR accepts exactly what IOR accepts and stops at the
// same place.
func checkSkipIOR(t *testing.T, s string) {
	t.Helper()
	if len(s) < 4 {
		return
	}
	b, err := hex.DecodeString(s[4:])
	if err != nil {
		return
	}
	full, skip := DecodeEncapsulation(b, V1_2), DecodeEncapsulation(b, V1_2)
	full.IOR()
	skip.SkipIOR()
	if (full.Err() == nil) != (skip.Err() == nil) || (full.Err() == nil && full.Pos() != skip.Pos()) {
		t.Fatalf("IOR: err %v at %d; SkipIOR: err %v at %d", full.Err(), full.Pos(), skip.Err(), skip.Pos())
	}
}
