package giop

// NewBodyDecoder returns a decoder over a message body that was stored
// apart from its message: align is the body's offset modulo 8 in the
// message it came in, so alignment is counted as it was there.
func NewBodyDecoder(body []byte, align int, v Version, littleEndian bool) *Decoder {
	return &Decoder{buf: body, origin: -align, little: littleEndian, ver: v}
}

// NewBodyEncoder returns an encoder for a message body kept apart from
// its message, to start at offset align modulo 8 there (see
// Encoder.AlignBodyTo): alignment is counted as it will be in it.
func NewBodyEncoder(align int, v Version, littleEndian bool) *Encoder {
	return &Encoder{origin: -align, little: littleEndian, ver: v}
}
