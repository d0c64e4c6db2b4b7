package giop

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestParseCorbaloc_Forms covers the corbaloc forms of the omniORB user
// guide ch. 7.1 and CORBA 3.0 §13.6.10 (SPEC.md), including
// omniORB's rule that no version means GIOP 1.0.
func TestParseCorbaloc_Forms(t *testing.T) {
	addr := func(v Version, host string, port uint16) CorbalocAddress {
		return CorbalocAddress{Version: v, Host: host, Port: port}
	}
	tests := []struct {
		in        string
		want      Corbaloc
		canonical string
	}{
		{"corbaloc:iiop:1.2@host:1234/key",
			Corbaloc{[]CorbalocAddress{addr(V1_2, "host", 1234)}, []byte("key")},
			"corbaloc:iiop:1.2@host:1234/key"},
		{"corbaloc::127.0.0.1:21000/Echo",
			Corbaloc{[]CorbalocAddress{addr(V1_0, "127.0.0.1", 21000)}, []byte("Echo")},
			"corbaloc:iiop:1.0@127.0.0.1:21000/Echo"},
		{"corbaloc:iiop:host/key",
			Corbaloc{[]CorbalocAddress{addr(V1_0, "host", 2809)}, []byte("key")},
			"corbaloc:iiop:1.0@host:2809/key"},
		{"corbaloc::1.2@host/NameService",
			Corbaloc{[]CorbalocAddress{addr(V1_2, "host", 2809)}, []byte("NameService")},
			"corbaloc:iiop:1.2@host:2809/NameService"},
		{"corbaloc::h1,:h2:1234/key",
			Corbaloc{[]CorbalocAddress{addr(V1_0, "h1", 2809), addr(V1_0, "h2", 1234)}, []byte("key")},
			"corbaloc:iiop:1.0@h1:2809,iiop:1.0@h2:1234/key"},
		{"corbaloc:iiop:1.1@a.example:1,:1.2@b-2.example_x:65535,iiop:[fe80::1]/k",
			Corbaloc{[]CorbalocAddress{addr(V1_1, "a.example", 1), addr(V1_2, "b-2.example_x", 65535), addr(V1_0, "fe80::1", 2809)}, []byte("k")},
			"corbaloc:iiop:1.1@a.example:1,iiop:1.2@b-2.example_x:65535,iiop:1.0@[fe80::1]:2809/k"},
		{"corbaloc::1.2@[::1]:2809/Echo",
			Corbaloc{[]CorbalocAddress{addr(V1_2, "::1", 2809)}, []byte("Echo")},
			"corbaloc:iiop:1.2@[::1]:2809/Echo"},
		{"corbaloc::[::ffff:10.0.0.1]/x",
			Corbaloc{[]CorbalocAddress{addr(V1_0, "::ffff:10.0.0.1", 2809)}, []byte("x")},
			"corbaloc:iiop:1.0@[::ffff:10.0.0.1]:2809/x"},
		{"corbaloc::host/a%2Fb%20c%00%ff%7e",
			Corbaloc{[]CorbalocAddress{addr(V1_0, "host", 2809)}, []byte("a/b c\x00\xff~")},
			"corbaloc:iiop:1.0@host:2809/a/b%20c%00%FF~"},
		{"corbaloc::host/a/b;c:d?e@f&g=h+i$j,k-_.!~*'()",
			Corbaloc{[]CorbalocAddress{addr(V1_0, "host", 2809)}, []byte("a/b;c:d?e@f&g=h+i$j,k-_.!~*'()")},
			"corbaloc:iiop:1.0@host:2809/a/b;c:d?e@f&g=h+i$j,k-_.!~*'()"},
		{"corbaloc::host/%fe%ff#1\xc3\xa9",
			Corbaloc{[]CorbalocAddress{addr(V1_0, "host", 2809)}, []byte("\xfe\xff#1\xc3\xa9")},
			"corbaloc:iiop:1.0@host:2809/%FE%FF%231%C3%A9"},
		{"  CORBALOC:IIOP:1.2@HOST:02809/key \n",
			Corbaloc{[]CorbalocAddress{addr(V1_2, "HOST", 2809)}, []byte("key")},
			"corbaloc:iiop:1.2@HOST:2809/key"},
	}
	for _, tt := range tests {
		got, err := ParseCorbaloc(tt.in)
		if err != nil {
			t.Errorf("ParseCorbaloc(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("ParseCorbaloc(%q) = %+v, want %+v", tt.in, *got, tt.want)
		}
		s := got.String()
		if s != tt.canonical {
			t.Errorf("ParseCorbaloc(%q).String() = %q, want %q", tt.in, s, tt.canonical)
		}
		again, err := ParseCorbaloc(s)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseCorbaloc(%q) = %+v, %v; want %+v", s, again, err, got)
		}
	}
}

// TestParseCorbaloc_Errors checks that bad URLs fail with ErrBadCorbaloc and
// a message that says what is wrong (SPEC.md).
func TestParseCorbaloc_Errors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "prefix"},
		{"iiop:host/key", "prefix"},
		{"IOR:0100", "prefix"},
		{"corbaname::host#a/b.kind", "corbaname"},
		{"corbaloc:rir:/NameService", "rir"},
		{"corbaloc::host,rir:/NameService", "rir"},
		{"corbaloc:ssliop:host/key", `unsupported protocol "ssliop"`},
		{"corbaloc:uiop:/tmp/sock", `unsupported protocol "uiop"`},
		{"corbaloc:host:2809/key", `unsupported protocol "host"`},
		{"corbaloc:host/key", "no protocol"},
		{"corbaloc::host:2809", "missing \"/\""},
		{"corbaloc::host:2809/", "empty object key"},
		{"corbaloc::host/%", "truncated"},
		{"corbaloc::host/ab%4", "truncated"},
		{"corbaloc::host/%zz", "invalid %-escape"},
		{"corbaloc::host/%4g", "invalid %-escape"},
		{"corbaloc::host/a b", "space"},
		{"corbaloc::host/a\tb", "control"},
		{"corbaloc::host:/key", "empty port"},
		{"corbaloc::host:0/key", "out of range"},
		{"corbaloc::host:65536/key", "out of range"},
		{"corbaloc::host:99999999999999999999/key", "out of range"},
		{"corbaloc::host:-1/key", "invalid port"},
		{"corbaloc::host:+80/key", "invalid port"},
		{"corbaloc::host:80x/key", "invalid port"},
		{"corbaloc::host:1:2/key", "too many ':'"},
		{"corbaloc::1.3@host/key", "unsupported IIOP version"},
		{"corbaloc::2.0@host/key", "unsupported IIOP version"},
		{"corbaloc::1.256@host/key", "unsupported IIOP version"},
		{"corbaloc::1@host/key", "invalid version"},
		{"corbaloc::1.x@host/key", "invalid version"},
		{"corbaloc::@host/key", "invalid version"},
		{"corbaloc::/key", "empty host"},
		{"corbaloc::1.2@/key", "empty host"},
		{"corbaloc::h,/key", "empty address"},
		{"corbaloc:,:h/key", "empty address"},
		{"corbaloc::ho st/key", "invalid character"},
		{"corbaloc::a@b@c/key", "invalid version"},
		{"corbaloc::::1/key", "needs brackets"},
		{"corbaloc::[::1/key", "unterminated"},
		{"corbaloc::[10.0.0.1]/key", "invalid IPv6"},
		{"corbaloc::[zz]/key", "invalid IPv6"},
		{"corbaloc::[fe80::1%eth0]/key", "invalid IPv6"},
		{"corbaloc::[::1]x/key", "after IPv6"},
		{"corbaloc::[::1]:/key", "empty port"},
		{"corbaloc::" + strings.Repeat("h", 256) + "/key", "host of 256 bytes"},
		{"corbaloc::h/" + strings.Repeat("k", 4096), "exceeds the limit"},
		{"corbaloc:" + strings.Repeat(":h,", 32) + ":h/k", "more than 32 addresses"},
		{"corbaloc::h/" + strings.Repeat("\xff", 1400), "canonical form of 4225 bytes"},
	}
	for _, tt := range tests {
		c, err := ParseCorbaloc(tt.in)
		if !errors.Is(err, ErrBadCorbaloc) || c != nil {
			t.Errorf("ParseCorbaloc(%.50q) = %+v, %v; want ErrBadCorbaloc", tt.in, c, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseCorbaloc(%.50q) error %q does not mention %q", tt.in, err, tt.msg)
		}
	}
}

// TestCorbaloc_IOR checks the reference a corbaloc URL turns into: one IIOP
// profile per address, with the address's version and no components, so no
// CodeSets context is sent, as with omniORB (SPEC.md).
func TestCorbaloc_IOR(t *testing.T) {
	c, err := ParseCorbaloc("corbaloc::h1,:1.2@h2:1234,iiop:1.1@[::1]:5/Echo")
	if err != nil {
		t.Fatal(err)
	}
	ior := c.IOR("IDL:Demo/Echo:1.0")
	if ior.TypeID != "IDL:Demo/Echo:1.0" || len(ior.Profiles) != 3 {
		t.Fatalf("IOR = %+v", ior)
	}
	ior = mustParseIOR(t, ior.String())
	for i, a := range c.Addresses {
		p, err := ParseIIOPProfile(ior.Profiles[i])
		if err != nil {
			t.Fatal(err)
		}
		want := &IIOPProfile{Version: a.Version, Host: a.Host, Port: a.Port, ObjectKey: []byte("Echo")}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("profile %d = %+v, want %+v", i, p, want)
		}
		if _, ok := p.CodeSets(); ok {
			t.Errorf("profile %d carries TAG_CODE_SETS", i)
		}
	}
	if p := mustIIOP(t, ior); p.Version != V1_0 || p.Host != "h1" || p.Port != 2809 {
		t.Errorf("IIOP() = %+v, want the first address", p)
	}
	if got := c.IOR("").TypeID; got != "" {
		t.Errorf("empty type id became %q", got)
	}
	// 32 addresses, the IOR profile limit, are accepted.
	many, err := ParseCorbaloc("corbaloc:" + strings.Repeat(":h,", 31) + ":h/k")
	if err != nil || len(many.IOR("").Profiles) != 32 {
		t.Errorf("32 addresses: %v", err)
	}
}
