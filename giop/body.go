package giop

// NewBodyDecoder returns a decoder over a message body that was stored
// apart from its message: align is the body's offset modulo 8 in the
// message it came in, so alignment is counted as it was there.
func NewBodyDecoder(body []byte, align int, v Version, littleEndian bool) *Decoder {
	return &Decoder{buf: body, origin: -align, little: littleEndian, ver: v}
}
