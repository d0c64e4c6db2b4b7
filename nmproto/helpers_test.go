package nmproto_test

import "github.com/requestagent/requestagent/giop"

func giopEncapsulation(b []byte) *giop.Decoder { return giop.DecodeEncapsulation(b, giop.V1_2) }
