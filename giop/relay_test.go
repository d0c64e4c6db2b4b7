package giop_test

import (
	"context"
	"sync"
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// Relaying bodies across GIOP versions (SPEC.md): the client side.

// versionServant records what each request looked like on arrival, and
// answers with a double encoded at offset align modulo 8 as a raw reply.
type versionServant struct {
	mu    sync.Mutex
	seen  []seenRequest
	align int
}

type seenRequest struct {
	version  giop.Version
	conn     *giop.Conn
	codeSets giop.CodeSetContext
	hasCS    bool
	padded   bool
	quote    float64
}

func (s *versionServant) RepositoryID() string { return "IDL:Demo/Quote:1.0" }

func (s *versionServant) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	q := r.Args.Double()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	cs, ok := r.Conn.CodeSets()
	_, padded := r.Header.ServiceContexts.Get(giop.ServicePadding)
	s.mu.Lock()
	s.seen = append(s.seen, seenRequest{r.Version, r.Conn, cs, ok, padded, q})
	align := s.align
	s.mu.Unlock()
	// A body encoded at align, as another message would have it.
	e := giop.NewBodyEncoder(align, r.Version, r.LittleEndian)
	e.WriteDouble(q * 2)
	return &giop.RawReply{Status: giop.ReplyNoException, Body: e.Bytes(), LittleEndian: r.LittleEndian, Align: align}
}

func (s *versionServant) last() seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[len(s.seen)-1]
}

// TestClient_BodyVersion: a relayed body goes at the lower of its own
// version and the profile's, over a connection of that version, padded to
// the offset it was encoded at; a 1.2 body going at 1.1 uses a connection
// that negotiates no wchar code set. Calls without BodyVersion speak the
// profile's version as before.
func TestClient_BodyVersion(t *testing.T) {
	qs := &versionServant{}
	_, ref, _ := testServer(t, nil, map[string]giop.Servant{"Quote": qs})
	prof, _ := ref.IIOP()
	at := func(v giop.Version) *giop.IOR {
		p := *prof
		p.Version = v
		if v == giop.V1_0 {
			p.Components = nil
		}
		return giop.NewIOR("IDL:Demo/Quote:1.0", &giop.IIOPProfile{Version: v, Host: p.Host, Port: p.Port,
			ObjectKey: []byte("Quote"), Components: p.Components})
	}
	c := testClient(t)
	for _, tc := range []struct {
		prof, body, want giop.Version
		align            int
		narrow           bool
	}{
		{giop.V1_2, giop.Version{}, giop.V1_2, 0, false},
		{giop.V1_2, giop.V1_0, giop.V1_0, 4, false},
		{giop.V1_2, giop.V1_0, giop.V1_0, 0, false},
		{giop.V1_2, giop.V1_1, giop.V1_1, 4, false},
		{giop.V1_2, giop.V1_2, giop.V1_2, 0, false},
		{giop.V1_1, giop.V1_2, giop.V1_1, 0, true},
		{giop.V1_1, giop.V1_1, giop.V1_1, 0, false},
		{giop.V1_0, giop.V1_2, giop.V1_0, 4, false},
	} {
		for _, big := range []bool{false, true} {
			qs.mu.Lock()
			qs.align = tc.align
			qs.mu.Unlock()
			body := giop.NewBodyEncoder(tc.align, giop.V1_2, !big)
			body.WriteDouble(1.25)
			resp, err := c.Invoke(context.Background(), at(tc.prof), &giop.Invocation{Operation: "quote", BigEndian: big,
				BodyVersion: tc.body, Encode: func(e *giop.Encoder) error {
					if !e.AlignBodyTo(tc.align) {
						t.Errorf("%+v: body cannot start at %d", tc, tc.align)
					}
					e.WriteRaw(body.Bytes())
					return nil
				}})
			if err != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
			got := qs.last()
			if got.version != tc.want || got.quote != 1.25 {
				t.Fatalf("%+v big %v: arrived as GIOP %s with %v", tc, big, got.version, got.quote)
			}
			if x := resp.Result.Double(); resp.Result.Err() != nil || x != 2.5 {
				t.Fatalf("%+v: reply %v %v", tc, x, resp.Result.Err())
			}
			if resp.BodyAlign() != tc.align && tc.want.Minor < 2 {
				t.Fatalf("%+v: the raw reply's body is at %d, want %d", tc, resp.BodyAlign(), tc.align)
			}
			if tc.want.Minor == 1 && got.hasCS && (got.codeSets.WChar == 0) != tc.narrow {
				t.Fatalf("%+v: code sets %+v", tc, got.codeSets)
			}
			if tc.want.Minor == 1 && !got.hasCS {
				t.Fatalf("%+v: no CodeSets context on the 1.1 connection", tc)
			}
		}
	}
	// One connection per version (and one narrow 1.1): 1.2, 1.0, 1.1, 1.1 narrow.
	if n := c.Stats().Open; n != 4 {
		t.Fatalf("%d connections, want 4", n)
	}
	conns := map[*giop.Conn]giop.Version{}
	for _, s := range qs.seen {
		if v, ok := conns[s.conn]; ok && v != s.version {
			t.Fatalf("one connection carried GIOP %s and %s", v, s.version)
		}
		conns[s.conn] = s.version
	}
}
