package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/internal/etcdtest"
)

// waitHolder waits until f says want (held false: nobody), or fails. A
// holder's lease is etcd's to choose: it must be there, whatever it is.
func waitHolder(t *testing.T, f *cluster.Follower, held bool, want cluster.Holder) {
	t.Helper()
	deadline := time.After(hangGuard)
	for {
		ch := f.Changed()
		h, ok := f.Holder()
		if ok == held && (!held || (h.Lease != 0 && fmt.Sprint(h.Name, h.GIOP) == fmt.Sprint(want.Name, want.GIOP))) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("the follower says %+v (held %v), want %+v (held %v)", h, ok, want, held)
		}
	}
}

// TestFollower_SeesEachHolder: a standby's follower learns each holder
// with the addresses it serves on, and that nobody holds the key between
// two owners, from etcd's watch.
func TestFollower_SeesEachHolder(t *testing.T) {
	c := etcdtest.New(t, nil)
	f := cluster.Follow(client(t, c), ownerKey, zerolog.Nop())
	defer f.Close()
	waitHolder(t, f, false, cluster.Holder{})
	cfg := func(name, addr string) cluster.Config {
		return cluster.Config{Key: ownerKey, Name: name, Addrs: []string{addr}, Members: "requestagent/cluster/members/",
			TTL: 2 * time.Second}
	}
	a, err := cluster.Acquire(context.Background(), client(t, c), cfg("a", "127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	waitHolder(t, f, true, cluster.Holder{Name: "a", GIOP: []string{"127.0.0.1:1"}})
	got := make(chan *cluster.Owner, 1)
	go func() {
		b, err := cluster.Acquire(context.Background(), client(t, c), cfg("b", "127.0.0.1:2"))
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	// The standby registers as a member before it owns.
	deadline := time.Now().Add(hangGuard)
	for {
		ms, err := cluster.Members(context.Background(), client(t, c), "requestagent/cluster/members/")
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 2 {
			if ms[0].Name != "a" || ms[1].Name != "b" || ms[1].GIOP[0] != "127.0.0.1:2" {
				t.Fatalf("members %+v, want a and b with their addresses", ms)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members %+v, want a and b", ms)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := <-got
	if b == nil {
		t.FailNow()
	}
	defer b.Release(context.Background())
	waitHolder(t, f, true, cluster.Holder{Name: "b", GIOP: []string{"127.0.0.1:2"}})
}

// TestDecodeHolder_ToleratesOtherValues: a value not written by this
// release is a name with no address, never an error; an oversized one is
// cut.
func TestDecodeHolder_ToleratesOtherValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want cluster.Holder
	}{
		{`{"name":"a","giop":["h:1","g:2"]}`, cluster.Holder{Name: "a", GIOP: []string{"h:1", "g:2"}}},
		{`an old name`, cluster.Holder{Name: "an old name"}},
		{`{"giop":["h:1"]}`, cluster.Holder{Name: `{"giop":["h:1"]}`}},
		{``, cluster.Holder{}},
	} {
		if got := cluster.DecodeHolder([]byte(tc.in)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("DecodeHolder(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	big := make([]byte, 1<<20)
	if got := cluster.DecodeHolder(big); len(got.Name) > 4<<10 || got.GIOP != nil {
		t.Errorf("an oversized value gave a name of %d bytes and %d addresses", len(got.Name), len(got.GIOP))
	}
}
