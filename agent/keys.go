package agent

import (
	"crypto/rand"

	"github.com/requestagent/requestagent/poller"
)

// Object keys. Every object the agent creates has a key of one kind letter
// and 16 random bytes: 128 bits nobody can guess, so no client reaches
// another's proxies, requests or replies by guessing or by editing a key it
// holds (docs/callbacks.md, like Glacier2's per-client category). Keys are
// persistent: the same key finds the same object after a restart.
const (
	keyProxy    = 'P' // a RequestProxy; id = proxy id
	keyReceiver = 'R' // a proxy's typed receiver; id = the proxy's receiverID (random: not the proxy's id)
	keyRequest  = 'Q' // a request object from create_request; id = request id
	keyPoller   = 'L' // a request's poller; id = request id
	keyLen      = 1 + len(poller.ID{})
)

// newID returns 16 bytes from the system's secure random source.
func newID() poller.ID {
	var id poller.ID
	if _, err := rand.Read(id[:]); err != nil {
		// crypto/rand never fails on Linux; if it did, guessable keys
		// would be worse than stopping.
		panic("agent: no secure randomness: " + err.Error())
	}
	return id
}

func objectKey(kind byte, id poller.ID) []byte {
	k := make([]byte, keyLen)
	k[0] = kind
	copy(k[1:], id[:])
	return k
}

// parseKey splits an object key made by objectKey.
func parseKey(key []byte) (kind byte, id poller.ID, ok bool) {
	if len(key) != keyLen {
		return 0, id, false
	}
	copy(id[:], key[1:])
	return key[0], id, true
}
