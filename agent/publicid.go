package agent

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/requestagent/requestagent/poller"
	"github.com/requestagent/requestagent/storage"
)

// Public ids (docs/admin.md). The 16 random bytes of a request's or
// proxy's id are what its object keys are made of, so they are a secret:
// whoever has them can pull a reply or call through a receiver. Operators
// (the admin API, the command line, the logs) see another id: the secret
// one enciphered with AES-128 under a key of the store's own. It is one to
// one, so the agent turns it back without any table, and without the key
// it says nothing about the secret. It is stable across restarts, since
// the key is stored.

// publicIDKey is where the store keeps the cipher's key.
var publicIDKey = []byte("m/public-id-key")

// ids turns secret ids into public ones and back.
type ids struct{ block cipher.Block }

// loadIDs reads the store's public-id key, making one on first use.
func loadIDs(store Store) (ids, error) {
	key, err := store.Get(publicIDKey)
	if errors.Is(err, storage.ErrNotFound) {
		key = make([]byte, 16)
		if _, err := rand.Read(key); err != nil {
			return ids{}, err
		}
		var b storage.Batch
		b.Set(publicIDKey, key)
		err = store.CommitWithin(&b, commitTimeout)
	}
	if err != nil {
		return ids{}, fmt.Errorf("agent: the public-id key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return ids{}, fmt.Errorf("agent: the public-id key: %w", err)
	}
	return ids{block}, nil
}

// public returns the public id of a secret one, as a UUID-shaped string.
func (x ids) public(id poller.ID) string {
	var out [16]byte
	x.block.Encrypt(out[:], id[:])
	h := hex.EncodeToString(out[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// secret returns the secret id of a public one (with or without dashes).
func (x ids) secret(s string) (poller.ID, error) {
	var id poller.ID
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("%w: %q is not an id", ErrUnknown, s)
	}
	x.block.Decrypt(id[:], b)
	return id, nil
}

// publicID is the id operators see for a request or proxy.
func (a *Agent) publicID(id poller.ID) string { return a.pub.public(id) }
